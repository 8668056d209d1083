"""Per-frame tracking confidence: the number that tells the artist where to look and correct.

Two numbers come out of the same cues. `matte_quality` is the reported confidence, an estimate of
the matte's IoU with the truth: the mean of a colour cue (the matte's colours still look like the
keyframe object, against its surroundings) and a shape cue (the matte still overlaps the keyframe
shape carried along by the object's motion) — the two cues that rank frames by their true J best on
the clips with ground truth (docs/CONFIDENCE.md has the measurements); a frame below
engine.quality.WEAK_BELOW is weak. `combine_confidence` is the tracker's own gate for adapting its
colour model and reference area (flow consistency, colour, area jumps): it decides the masks, so it
stays as it was. Pure functions, so the mappings can be tested and tuned in isolation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .params import TrackerParams

_DEFAULTS = TrackerParams()


class Confidences(dict):
    """{object id: reported confidence} as every tracker yields it, plus `blend`: {object id: the
    adaptation gate's value}, the weight engine/tracking.py gives this pass where a forward and a
    backward pass meet between two keyframes (what it weighed them by before the reported
    confidence became a quality estimate, so blended mattes stay as they were)."""

    def __init__(self, reported: dict, blend: dict) -> None:
        super().__init__(reported)
        self.blend = blend


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
    # cues that see drift (matte_quality uses appearance and anchor_fit; the others are dumped by
    # tools/eval_tracking.py --signals for choosing, docs/CONFIDENCE.md)
    separation: float = 1.0  # colour separation inside vs around / the keyframe's
    likeness: float = 1.0  # keyframe-colour likeness inside / the keyframe's
    area_vs_key: float = 1.0  # area / keyframe area
    anchor_fit: float = 1.0  # IoU of the matte with the keyframe shape carried to this frame
    prior_fit: float = 1.0  # IoU of the matte with the warped previous matte


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


def matte_quality(q: FrameQuality, cut_score: float, trust: float, p: TrackerParams | None = None) -> float:
    """The reported confidence, 0..1, an estimate of the matte's IoU with the truth (monotone in
    every cue): w × colour cue + (1 − w) × shape cue, times trust and (1 − cut score); 0 when the
    object is lost, at most the review cap on a cut or a re-found frame."""
    p = p or _DEFAULTS
    if q.lost:
        return 0.0
    w = p.quality_colour_weight
    value = (w * _clip01(q.appearance) + (1 - w) * _clip01(q.anchor_fit)) * trust * (1.0 - _clip01(cut_score))
    if q.reacquired or q.cut:
        value = min(value, p.confidence_review_cap)
    return round(_clip01(value), 4)
