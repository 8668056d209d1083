"""SAM-guided flow tracker: the classical flow tracker moves the mask to the next frame, SAM redraws
it there from a box and points taken from that moved mask. Needs only SAM weights.

Why: flow carries a mask well but its edges soften and drift; SAM draws crisp object boundaries
but needs a prompt. Each SAM mask becomes the matte the next flow step warps from, so edges are
re-snapped every frame, while the classical run (one state for the whole run: the object's keyframe
colour model and shape memory) carries on underneath. When SAM's answer disagrees strongly with
where flow says the object is (SAM grabbed a neighbour or only a part), that frame keeps the flow
mask with lowered confidence; the counts are in `last_stats`, so the choice is visible rather than
silent.
"""

from __future__ import annotations

import cv2
import numpy as np

from dataclasses import dataclass, field
from typing import Any

from ..base import Tracker, TrackState
from ..classical.tracker import ClassicalTracker
from ..params import BackendParams
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


@dataclass(frozen=True)
class SamFlowParams(BackendParams):
    dtype: str | None = None  # SAM's; None: the device's best
    weights: str | None = None  # SAM weights (registry name or file); None: VTA_SAM_WEIGHTS or the best present
    min_agreement: float = 0.4  # IoU of SAM's mask with the flow mask below which the flow mask is kept
    sam_iou_weight: float = 0.5  # share of SAM's own IoU estimate in a redrawn frame's confidence
    prompt_margin: float = 0.05  # box margin around the flow mask, × its size
    prompt_points: int = 2  # positive points taken from the flow mask
    #: options of the classical flow step (its Params names, checked when the tracker is built)
    flow: dict[str, Any] = field(default_factory=dict)


class SamFlowTracker(Tracker):
    name = "sam-flow"
    learned = True
    Params = SamFlowParams

    @classmethod
    def availability(cls) -> str | None:
        return SamSegmenter.availability()

    def __init__(self, params: SamFlowParams | None = None, device: str | None = None) -> None:
        self.params = params or SamFlowParams()
        self.flow = ClassicalTracker.with_options(dict(self.params.flow))
        self.sam = SamSegmenter.with_options({"dtype": self.params.dtype, "weights": self.params.weights}, device)
        self.device = self.sam.device
        self.last_stats: dict = {}

    def describe(self) -> dict:
        out = self.sam.describe()
        out.update(name=self.name, flow="classical")
        return out

    def start(self, video, init_frame, init_masks) -> "SamFlowState":
        return SamFlowState(self, video, init_frame, init_masks)

    def refine(self, image: np.ndarray, flow_prob: np.ndarray, flow_conf: float, key, stats: dict
               ) -> tuple[np.ndarray, float, bool]:
        """SAM's redraw of one object from prompts taken from the flow mask: (probability,
        confidence, whether SAM's mask was taken); the flow mask stays where SAM disagrees."""
        p = self.params
        flow_mask = flow_prob > 0.5
        prompts = prompts_from_mask(flow_mask, p.prompt_margin, p.prompt_points)
        if prompts is None:
            stats["empty"] += 1
            return flow_prob.astype(np.float32), flow_conf, False
        box, points, labels = prompts
        mask_logits = mask_to_lowres(flow_mask, self.sam.img_size, self.sam.lowres)
        logits, sam_iou, _ = self.sam.decode(image, points, labels, box=box, mask_logits=mask_logits, cache_key=key)
        sam_mask = logits > 0
        agreement = iou(sam_mask, flow_mask)
        if agreement < p.min_agreement:
            stats["flow_kept"] += 1
            return flow_prob.astype(np.float32), flow_conf * agreement / p.min_agreement, False
        stats["sam"] += 1
        prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
        w = p.sam_iou_weight
        conf = float(np.clip(w * sam_iou + (1 - w) * max(agreement, flow_conf), 0, 1))
        return prob.astype(np.float32), conf, True


class SamFlowState(TrackState):
    """One SAM-guided run: ONE classical state for the whole run (its colour model and keyframe
    shape memory built once), each of its flow steps corrected by SAM's redraw."""

    def __init__(self, tracker: SamFlowTracker, video, init_frame: int, init_masks: dict) -> None:
        super().__init__(init_frame)
        self.tracker, self.video = tracker, video
        self.flow = tracker.flow.start(video, init_frame, {k: np.asarray(m, bool) for k, m in init_masks.items()})
        self.source = getattr(getattr(video, "info", None), "path", id(video))
        self.stats = {"frames": 0, "sam": 0, "flow_kept": 0, "empty": 0}
        tracker.last_stats = self.stats

    def plan(self, frames, cancel=None) -> None:
        self.flow.plan(frames, cancel)

    def close(self) -> None:
        self.flow.close()

    def _advance(self, frame: int) -> tuple[dict[int, np.ndarray], dict[int, float]]:
        flow_probs, flow_conf = self.flow.step(frame)
        image = self.video.read(frame)
        probs, conf, redrawn = {}, {}, {}
        for obj, prob in flow_probs.items():
            probs[obj], conf[obj], taken = self.tracker.refine(
                image, prob, float(flow_conf.get(obj, 0.5)), (self.source, frame), self.stats)
            if taken:
                redrawn[obj] = probs[obj]
        if redrawn:
            self.flow.correct(redrawn)  # the next flow step warps from SAM's mattes
        self.stats["frames"] += 1
        return probs, conf
