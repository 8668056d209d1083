"""The shape prior: where the warped mask says the object is, as log-odds per pixel.

Firm far inside the warped boundary, soft near it (the warp is only good to a pixel or two), and
reshaped by the long-term shape memory: where the keyframe shape, carried to this frame, says a
part belongs, a lost part may grow back (colour permitting); far beyond it, the matte is more likely
a leak than a real change of shape, so it is pushed back while the carried shape still fits."""

from __future__ import annotations

import cv2
import numpy as np

from .memory import ShapeMemory
from .params import TrackerParams


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


class ShapePrior:
    """Warped mask → (prior log-odds, signed distance to its boundary) for one object."""

    def __init__(self, p: TrackerParams, long_side: int, memory: ShapeMemory) -> None:
        self.p, self.memory = p, memory
        self.tau = max(1.0, p.prior_softness * long_side)
        self.tau_out = max(1.0, p.outside_softness * long_side)
        self.tau_regrow = max(self.tau_out, p.regrow_softness * long_side)

    def anchor(self, shape: tuple[int, int]) -> np.ndarray:
        """The carried keyframe shape on the current frame (0..1), or zeros without a regrow zone."""
        if self.p.regrow_softness <= 0:
            return np.zeros(shape, np.float32)
        return self.memory.anchor(shape)

    def __call__(self, mask: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`anchor`: self.anchor() over the same pixels as `mask`."""
        p = self.p
        m = mask.astype(np.uint8)
        signed = cv2.distanceTransform(m, cv2.DIST_L2, 3) - cv2.distanceTransform(1 - m, cv2.DIST_L2, 3)
        outside = signed / self.tau_out
        zone = self.regrow_zone(anchor > 0.5)
        prior = np.where(signed > 0, signed / self.tau, outside)
        if zone is not None:
            zone, beyond, anchor = zone
            # where the keyframe shape says a part belongs, it may come back; far beyond it, a
            # part of the matte is more likely a leak (or drag) than a real change of shape
            # (never for free: colour that says nothing must not fill the zone, e.g. an occluder)
            regrow = np.minimum(signed / self.tau_regrow, -p.regrow_evidence)
            prior = np.where(zone & (signed <= 0), np.maximum(prior, regrow), prior)
            # the carried shape is only a good guide while it still fits the object (a turning,
            # bending body leaves it behind): weigh the push by how well the two agree
            fit = float(np.clip((iou(anchor, mask) - p.anchor_fit_low) / p.anchor_fit_ramp, 0.0, 1.0))
            prior -= p.anchor_gain * fit * beyond
        return np.clip(prior, -p.prior_outside_cap, p.prior_inside_cap), signed

    def regrow_zone(self, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The carried keyframe shape (bool), widened by a slack that scales with the object:
        (zone where parts may regrow, 0..1 how far beyond the leave margin, the carried shape)."""
        p = self.p
        if p.regrow_softness <= 0 or not anchor.any():
            return None
        size = np.sqrt(max(float(anchor.sum()), 1.0))
        dist = cv2.distanceTransform((~anchor).astype(np.uint8), cv2.DIST_L2, 3)
        leave = max(1.0, p.leave_margin * size)
        return dist <= p.regrow_margin * size, np.clip(dist / leave - 1.0, 0.0, 1.0), anchor
