"""Per-frame tracking confidence: the number that tells the artist where to look and correct.

It is built from cues that fall when the matte degrades: the flow inside the mask no longer agrees
forward and backward (occlusion, fast deformation), the colours inside stop looking like the
object against its surroundings, the area jumps from one frame to the next or drifts far from what
it was, the frame pair is a cut, the object was lost or just re-found. Pure functions, so the
mapping can be tested and tuned in isolation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .params import TrackerParams

_DEFAULTS = TrackerParams()


@dataclass
class FrameQuality:
    """Raw cues for one object on one frame (ratios, not yet confidences)."""

    flow_consistency: float = 1.0  # mean forward-backward reliability inside the mask, 0..1
    appearance: float = 1.0  # colour separation inside vs around, relative to the keyframe's
    area_change: float = 1.0  # area / previous frame's area
    area_vs_reference: float = 1.0  # area / slowly adapted reference area
    cut: bool = False
    lost: bool = False
    reacquired: bool = False


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def combine_confidence(q: FrameQuality, cut_score: float, trust: float, p: TrackerParams | None = None) -> float:
    """FrameQuality + cut score (0..1) + trust (0..1, dips after cuts/re-detection) → confidence 0..1
    (p: the tracker's parameters, default ones when None)."""
    p = p or _DEFAULTS
    if q.lost:
        return 0.0
    flow = _clip01((q.flow_consistency - p.confidence_flow_low) / p.confidence_flow_range)
    appearance = _clip01(q.appearance / p.confidence_appearance_full)
    jump = math.exp(-p.confidence_jump_gain * abs(math.log(max(q.area_change, 1e-3))))
    drift = math.exp(-p.confidence_drift_gain * max(0.0, abs(math.log(max(q.area_vs_reference, 1e-3)))
                                                     - p.confidence_drift_free))
    quality = (flow ** 0.5) * (appearance ** 0.5) * jump * drift
    cut = 1.0 - _clip01(cut_score)
    value = quality * min(cut, 1.0) * trust
    if q.reacquired or q.cut:
        value = min(value, p.confidence_review_cap)
    return round(_clip01(value), 4)
