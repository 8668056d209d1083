"""Finding a lost object again (full occlusion, a cut): a blob with the keyframe's colours and a
plausible size, searched in a window around where it was last seen that grows while it stays lost."""

from __future__ import annotations

import cv2
import numpy as np

from .appearance import ColourModel
from .frame import Frame
from .params import TrackerParams


def search_window(box: tuple[int, int, int, int] | None, lost_frames: int, shape: tuple[int, int],
                  growth: float, min_side: float = 0.0) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) to search (pure function): the whole frame without a last box, else the last
    box around its centre, widened by `growth` × its size per lost frame (one box more at once).
    The box counts at least `min_side` each way: a matte that shrank to a sliver at an occluder's
    edge says little about how far the whole object may be by now."""
    h, w = shape
    if box is None:
        return 0, 0, w, h
    bx, by, bw, bh = box
    bx, bw = bx - max(0.0, min_side - bw) / 2, max(bw, min_side)
    by, bh = by - max(0.0, min_side - bh) / 2, max(bh, min_side)
    grow = 1.0 + growth * lost_frames
    cx, cy = bx + bw / 2, by + bh / 2
    hw, hh = bw * (0.5 + grow), bh * (0.5 + grow)
    return max(0, int(cx - hw)), max(0, int(cy - hh)), min(w, int(cx + hw) + 1), min(h, int(cy + hh) + 1)


def search(f: Frame, model: ColourModel, box: tuple[int, int, int, int] | None, lost_frames: int,
           area_ref: float, p: TrackerParams, exclude: np.ndarray | None = None) -> np.ndarray | None:
    """The best blob with the keyframe's colours and a plausible size, or None. `exclude`: pixels
    that are not candidates (those other tracked objects claim)."""
    key = model.probability(f.index, keyframe_only=True)
    h, w = key.shape
    x0, y0, x1, y1 = search_window(None if f.cut else box, lost_frames, (h, w), p.search_growth,
                                   np.sqrt(max(area_ref, 0.0)))
    window = np.zeros((h, w), bool)
    window[y0:y1, x0:x1] = True
    likely = (cv2.GaussianBlur(key, (0, 0), p.search_blur) > p.search_colour) & window
    if exclude is not None:
        likely &= ~exclude
    likely = cv2.morphologyEx(likely.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(likely, connectivity=8)
    best, best_score = None, 0.0
    for i in range(1, n):
        area = float(stats[i, cv2.CC_STAT_AREA])
        ratio = area / max(area_ref, 1.0)
        if not p.search_min_area <= ratio <= p.search_max_area:
            continue
        region = labels == i
        similarity = model.similarity(f.index, region)
        score = similarity * float(np.exp(-abs(np.log(ratio))))
        if similarity > p.search_min_similarity and score > best_score:
            best, best_score = region, score
    return best
