"""The interactive-segmentation click protocol (simulated user), shared by tools/eval_clicks.py and
the tests so both score the segmenter the same way the field does: first click at the interior point
farthest from the ground-truth boundary, each next click at the centre of the largest error region."""

from __future__ import annotations

import cv2
import numpy as np


def region_centre(region: np.ndarray) -> tuple[int, int]:
    """(x, y) of the point of `region` farthest from its boundary; the image edge counts as boundary."""
    padded = np.pad(region.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y)


def next_click(pred: np.ndarray | None, gt: np.ndarray) -> tuple[int, int, int] | None:
    """The click a simulated user makes next: (x, y, label), label 1 for missed foreground, 0 for
    false foreground. None when the prediction is already perfect."""
    gt = gt.astype(bool)
    if pred is None:
        if not gt.any():
            return None
        return (*region_centre(gt), 1)
    pred = pred.astype(bool)
    missed, false = gt & ~pred, pred & ~gt
    best_area, best = 0, None
    for error, label in ((missed, 1), (false, 0)):
        if not error.any():
            continue
        count, comps, stats, _ = cv2.connectedComponentsWithStats(error.astype(np.uint8), connectivity=8)
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        if stats[k, cv2.CC_STAT_AREA] > best_area:
            best_area, best = int(stats[k, cv2.CC_STAT_AREA]), (comps == k, label)
    if best is None:
        return None
    return (*region_centre(best[0]), best[1])


def clicks_to_reach(ious: list[float], threshold: float, cap: int = 20) -> int:
    """NoC@threshold: the number of clicks after which IoU first reaches `threshold`, `cap` if never."""
    for i, value in enumerate(ious[:cap]):
        if value >= threshold:
            return i + 1
    return cap
