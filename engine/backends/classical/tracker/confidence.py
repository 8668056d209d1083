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


def combine_confidence(q: FrameQuality, cut_score: float, trust: float) -> float:
    """FrameQuality + cut score (0..1) + trust (0..1, dips after cuts/re-detection) → confidence 0..1."""
    if q.lost:
        return 0.0
    flow = _clip01((q.flow_consistency - 0.3) / 0.6)
    appearance = _clip01(q.appearance / 0.8)
    jump = math.exp(-2.0 * abs(math.log(max(q.area_change, 1e-3))))
    drift = math.exp(-0.5 * max(0.0, abs(math.log(max(q.area_vs_reference, 1e-3))) - 0.4))
    quality = (flow ** 0.5) * (appearance ** 0.5) * jump * drift
    cut = 1.0 - _clip01(cut_score)
    value = quality * min(cut, 1.0) * trust
    if q.reacquired or q.cut:
        value = min(value, 0.35)
    return round(_clip01(value), 4)
