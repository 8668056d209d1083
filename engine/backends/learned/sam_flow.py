"""SAM-guided flow tracker: the classical flow tracker moves the mask to the next frame, SAM redraws
it there from a box and points taken from that moved mask. Needs only SAM weights.

Why: flow carries a mask well but its edges soften and drift; SAM draws crisp object boundaries
but needs a prompt. Each SAM mask becomes the seed of the next flow step, so edges are re-snapped
every frame. When SAM's answer disagrees strongly with where flow says the object is (SAM grabbed
a neighbour or only a part), that frame keeps the flow mask with lowered confidence; the counts are
in `last_stats`, so the choice is visible rather than silent.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..base import Tracker
from ..classical.tracker.tracker import ClassicalTracker
from .sam import SamSegmenter, mask_to_lowres


def prompts_from_mask(mask: np.ndarray, margin: float = 0.05, max_points: int = 2
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Box (x0, y0, x1, y1) and positive points for SAM from a binary mask (pure; unit-tested).

    Points are the deepest interior pixels (distance-transform maxima), the second one far from the
    first, so an elongated or two-lobed object gets a point in each part. None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    h, w = mask.shape
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    mx, my = margin * (x1 - x0 + 1), margin * (y1 - y0 + 1)
    box = np.array([max(0, x0 - mx), max(0, y0 - my), min(w - 1, x1 + mx), min(h - 1, y1 + my)], np.float32)
    dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    points = []
    for _ in range(max_points):
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        if dist[y, x] <= 0:
            break
        points.append((float(x), float(y)))
        radius = max(dist[y, x] * 2.0, 0.25 * max(x1 - x0, y1 - y0))
        cv2.circle(dist, (int(x), int(y)), int(np.ceil(radius)), 0.0, -1)
    pts = np.array(points, np.float32).reshape(-1, 2)
    return box, pts, np.ones(len(pts), np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


class SamFlowTracker(Tracker):
    name = "sam-flow"
    learned = True

    @classmethod
    def availability(cls) -> str | None:
        return SamSegmenter.availability()

    def __init__(self, device: str | None = None, dtype: str | None = None, weights: str | None = None,
                 min_agreement: float = 0.4, flow_options: dict | None = None, **_) -> None:
        self.sam = SamSegmenter.with_options({"dtype": dtype, "weights": weights}, device)
        self.flow = ClassicalTracker(**(flow_options or {}))
        self.device = self.sam.device
        self.min_agreement = min_agreement
        self.last_stats: dict = {}

    def describe(self) -> dict:
        out = self.sam.describe()
        out.update(name=self.name, flow="classical")
        return out

    def propagate(self, video, init_frame, init_masks, frames, cancel=None):
        frames = list(frames)
        if not frames or not init_masks:
            return
        self.check_travel(init_frame, frames)
        stats = {"frames": 0, "sam": 0, "flow_kept": 0, "empty": 0}
        self.last_stats = stats
        source = getattr(getattr(video, "info", None), "path", id(video))
        prev_frame = init_frame
        seeds = {k: np.asarray(m, bool) for k, m in init_masks.items()}
        for frame in frames:
            if cancel:
                cancel.check()
            # one flow step from the last (SAM-corrected) masks, through the tracker's public interface
            _, flow_probs, flow_conf = next(iter(self.flow.propagate(video, prev_frame, seeds, [frame], cancel)))
            image = video.read(frame)
            probs, conf = {}, {}
            for obj, prob in flow_probs.items():
                probs[obj], conf[obj] = self._refine(image, prob, float(flow_conf.get(obj, 0.5)), (source, frame), stats)
            stats["frames"] += 1
            yield frame, probs, conf
            seeds = {k: p > 0.5 for k, p in probs.items()}
            prev_frame = frame

    def _refine(self, image: np.ndarray, flow_prob: np.ndarray, flow_conf: float, key, stats: dict
                ) -> tuple[np.ndarray, float]:
        flow_mask = flow_prob > 0.5
        prompts = prompts_from_mask(flow_mask)
        if prompts is None:
            stats["empty"] += 1
            return flow_prob.astype(np.float32), flow_conf
        box, points, labels = prompts
        mask_logits = mask_to_lowres(flow_mask, self.sam.img_size, self.sam.lowres)
        logits, sam_iou, _ = self.sam.decode(image, points, labels, box=box, mask_logits=mask_logits, cache_key=key)
        sam_mask = logits > 0
        agreement = iou(sam_mask, flow_mask)
        if agreement < self.min_agreement:
            stats["flow_kept"] += 1
            return flow_prob.astype(np.float32), flow_conf * agreement / self.min_agreement
        stats["sam"] += 1
        prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
        return prob.astype(np.float32), float(np.clip(0.5 * sam_iou + 0.5 * max(agreement, flow_conf), 0, 1))
