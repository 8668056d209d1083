"""The classical tracker's tuning numbers, one named field each (defaults chosen for footage in
general, not for one clip). Lengths are fractions of the working resolution's long side ("× long
side") or of the object's size ("× sqrt(object area)"), so they mean the same at any resolution."""

from __future__ import annotations

from dataclasses import dataclass

from ...flow import DIS_PRESETS
from ...params import BackendParams


@dataclass(frozen=True)
class TrackerParams(BackendParams):
    # ---- working resolution and flow -----------------------------------------------------------------
    work_size: int = 480  # long side of the working resolution
    flow_preset: str = "medium"
    check_preset: str = "medium"  # DIS preset of the forward flow used for the consistency check
    check_scale: float = 0.5  # resolution of that forward flow relative to the working resolution
    cut_threshold: float = 0.5  # cut score from which a frame pair is a hard cut
    seed: int = 1234  # OpenCV's random generator (the graph cut's k-means start): same input, same matte

    # ---- shape prior from the warped mask -----------------------------------------------------------
    prior_softness: float = 0.004  # × long side: px over which the warped boundary is uncertain
    outside_softness: float = 0.004  # × long side: how far colour can pull the boundary out per frame
    prior_inside_cap: float = 3.0  # logit cap inside: strong colour evidence can still cut a pixel out
    prior_outside_cap: float = 8.0
    unreliable_reach: float = 4.0  # × prior softness: how far outside the mask unreliable flow frees colour

    # ---- long-term shape memory (the keyframe shape carried along) -----------------------------------
    regrow_softness: float = 0.03  # × long side: the outside softness inside the carried keyframe shape
    regrow_margin: float = 0.05  # × sqrt(object area): slack around the carried keyframe shape for regrowth
    regrow_evidence: float = 0.0  # log-odds the colour must overcome to bring a part back
    leave_margin: float = 0.1  # × sqrt(object area): beyond this slack, the anchor pushes the matte back
    anchor_gain: float = 3.0  # log-odds against pixels far outside the carried keyframe shape
    anchor_fit_low: float = 0.5  # IoU (carried shape vs matte) below which the anchor no longer pushes
    anchor_fit_ramp: float = 0.3  # IoU above anchor_fit_low over which the push reaches full strength
    memory_close: float = 0.3  # × sqrt(object area): occlusion gaps closed in the remembered shape
    memory_min_pixels: int = 12  # fewer mask pixels: no whole-body motion fit this frame
    memory_samples: int = 1200  # pixels sampled for the whole-body (similarity) motion fit
    memory_threshold: float = 1.5  # px: RANSAC inlier distance of that fit
    memory_iterations: int = 200
    memory_max_zoom: float = 1.25  # a fitted frame-to-frame scale beyond this (or below its inverse
    memory_min_zoom: float = 0.8  # ... this) is a bad fit, not motion

    # ---- the object's own motion --------------------------------------------------------------------
    match_radius: float = 0.04  # × long side: search range of the object's frame-to-frame shift
    match_override: float = 1.5  # px: the matched shift joins the flow in the prior when they disagree by more
    match_min_pixels: int = 16  # fewer mask pixels: no template match
    affine_weight: float = 0.0  # share of the whole-object (affine) motion hypothesis in the prior
    affine_min_pixels: int = 20  # fewer mask pixels: no affine hypothesis
    affine_samples: int = 1500  # pixels sampled for the affine fit
    affine_threshold: float = 1.5  # px: RANSAC inlier distance of the affine fit
    affine_iterations: int = 200
    motion_gain: float = 2.0  # weight of "moves like the object, not like its surroundings"
    motion_ring: float = 0.08  # × long side: width of the surroundings whose motion competes
    motion_ring_inner: int = 3  # px: gap between the object and those surroundings
    motion_min_pixels: int = 12  # fewer pixels in the object or its surroundings: no motion evidence
    motion_samples: int = 800  # pixels sampled for each of the two motion fits
    motion_threshold: float = 1.0  # px: RANSAC inlier distance of those fits
    motion_iterations: int = 100
    motion_residual_floor: float = 0.5  # px added to the residuals: sub-pixel differences say nothing
    motion_min_separation: float = 0.5  # px: object and surroundings moving alike up to this: no evidence
    motion_separation_ramp: float = 1.5  # px beyond that over which the evidence reaches full weight

    # ---- colour, size and other objects ---------------------------------------------------------------
    colour_gain: float = 0.6  # weight of the colour log-odds against the shape prior
    colour_clip: float = 0.02  # colour probabilities kept in [clip, 1 - clip]: no colour is certain
    colour_key_weight: float = 0.5  # share of the keyframe histograms (vs the adapted ones) in the colour model
    colour_local_share: float = 0.75  # share of the ring around the object (vs the whole frame) in the background
    colour_erode: int = 1  # px: the object's colours are taken this far inside its mask (keyframe)
    colour_update_erode: int = 2  # px: ... and on the frames that adapt the model
    colour_min_core: float = 0.2  # an eroded core with less than this share of the mask: the mask itself
    colour_pseudo_count: float = 0.05  # spread over all bins: a never-seen colour is 0.5, not 0 or 1
    ring_inner: float = 0.005  # × long side: the background ring of the colour model starts this far out
    ring_inner_min: int = 2  # px, at least
    ring_outer: float = 0.06  # × long side: ... and ends this far out
    ring_outer_min: int = 8  # px, at least
    size_gain: float = 3.0  # bias against growing/shrinking away from the (slowly adapted) reference area
    size_dead_zone: float = 0.1  # |log(area / reference)| within which size is no evidence
    other_objects_gain: float = 2.0  # log-odds against pixels another tracked object claims
    overlap_loser_scale: float = 0.49  # a pixel's losing object keeps this × its probability (below 0.5)
    detached_cap: float = 0.3  # probability cap of confident blobs that do not touch the prior
    roi_margin: float = 0.1  # × long side: the matte is worked out this far around the prior and the carried shape

    # ---- boundary snapping ------------------------------------------------------------------------------
    guided_radius: float = 0.008  # × long side
    guided_eps: float = 2e-3
    guided_object_fraction: float = 0.08  # guided-filter radius at most this × sqrt(object area)
    grabcut_mix: float = 0.6  # share of the graph-cut labelling in the final probability
    grabcut_band: float = 0.02  # × long side; > 0: graph-cut refinement in a band around the boundary
    grabcut_core: float = 2.0  # × band: the mask must be this thick (and gets this much context) to be cut
    grabcut_max_pixels: int = 20000  # larger regions are cut at reduced resolution (speed)
    grabcut_iterations: int = 1
    grabcut_blur: float = 0.8  # px: sigma softening the cut's hard labels
    grabcut_carry: bool = True  # each cut's colour mixtures start from the last cut's (k-means only for the first)
    full_res_snap: bool = False  # refine the upsampled matte with a full-resolution guided filter
    full_res_radius: float = 0.004  # × full-resolution long side: that filter's radius
    full_res_eps: float = 1e-3

    # ---- the guard against a matte stuck to the background after an occlusion (guard.py) ---------------
    stuck_frames: int = 3  # frames in a row the matte moves with the background: it is stuck (0: off)
    stuck_min_speed: float = 0.004  # × long side per frame: only objects usually this fast against their surroundings
    stuck_ratio: float = 0.25  # relative speed below this × the usual one: the matte moves with the background
    stuck_rate: float = 0.2  # how fast the usual relative speed and velocity follow the frames that move
    stuck_coast: float = 1.0  # nothing re-found: the stuck matte moves by the usual velocity × this × stuck_frames (< 0: lost)
    # a piece of the matte moving with the background is dropped when another moves this × the usual
    # relative speed at least (0: off) and holds this share of the matte at least
    detach_mover: float = 0.5
    detach_share: float = 0.05

    # ---- the remembered background (background.py) --------------------------------------------------------
    background_gain: float = 3.0  # log-odds against a pixel that still looks as the background did there (0: off)
    background_margin: float = 0.03  # × long side: the background is remembered only this far from every matte
    background_low: float = 10.0  # 8-bit colour difference (largest channel) up to which a pixel is the remembered one
    background_high: float = 30.0  # ... and from which it is not
    background_blur: float = 1.0  # px: sigma of the blur both sides get before they are compared

    # ---- confidence (confidence.py) ---------------------------------------------------------------------
    quality_colour_weight: float = 0.5  # reported confidence: share of the colour cue (the rest: the shape cue)
    # the adaptation gate (decides when the colour model and reference area adapt, so the masks):
    confidence_flow_low: float = 0.3  # flow consistency inside the mask at or below which the flow cue is 0
    confidence_flow_range: float = 0.6  # ... and above which by this much it is 1
    confidence_appearance_full: float = 0.8  # colour separation (vs the keyframe's) from which the cue is 1
    confidence_jump_gain: float = 2.0  # how hard a frame-to-frame area jump lowers the confidence
    confidence_drift_free: float = 0.4  # |log(area / reference)| tolerated before drift lowers it
    confidence_drift_gain: float = 0.5  # how hard drift beyond that lowers it
    confidence_review_cap: float = 0.35  # a cut or re-found frame is at most this: below the review line

    # ---- adaptation and trust ----------------------------------------------------------------------------
    update_rate: float = 0.05  # adapted colour model blend per confident frame
    update_min_confidence: float = 0.6
    area_rate: float = 0.02  # how fast the reference area follows the tracked area on confident frames
    trust_recovery: float = 0.15  # share of the lost trust regained per frame
    lost_trust: float = 0.3  # trust at most this after the object was lost
    reacquired_trust: float = 0.4  # trust at most this after it was found again
    likeness_min: float = 0.05  # keyframe colour likeness below this: the likeness cue is not used
    likeness_search: float = 0.3  # a matte whose keyframe likeness falls below this is looked for again (0: off)
    search_flow_consistency: float = 0.5  # flow-consistency cue on a frame without usable flow

    # ---- losing and finding the object again ---------------------------------------------------------
    lost_area_fraction: float = 0.04  # mask smaller than this × reference area → object lost
    search_growth: float = 0.5  # the search window grows by this × the object's box per lost frame
    search_blur: float = 1.5  # px: sigma smoothing the keyframe colour probability
    search_colour: float = 0.65  # keyframe colour probability a candidate's pixels must exceed
    search_min_area: float = 0.25  # candidate area / reference area, at least
    search_max_area: float = 3.0  # ... and at most
    search_min_similarity: float = 0.6  # colour similarity (Bhattacharyya) to the keyframe object, at least

    def __post_init__(self) -> None:
        if self.work_size < 8:
            raise ValueError(f"work_size must be at least 8, not {self.work_size}")
        for name in ("flow_preset", "check_preset"):
            if getattr(self, name) not in DIS_PRESETS:
                raise ValueError(f"{name} must be one of {', '.join(DIS_PRESETS)}, not {getattr(self, name)!r}")
