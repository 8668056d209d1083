"""One object's matte on one frame: shape prior + colour, size, motion and other-object evidence
fused as log-odds, snapped to image edges (guided filter, then a graph cut in a band around the
boundary), with blobs that do not touch the prior dropped."""

from __future__ import annotations

import cv2
import numpy as np

from .appearance import ColourMap
from .frame import Frame
from .motion import motion_evidence
from .params import TrackerParams
from .prior import ShapePrior


class CutModels:
    """The graph cut's two colour mixtures (OpenCV's 1x65 layout), carried from one frame's cut to
    the next: each cut starts from them instead of a k-means of its own, then learns this frame's
    colours in its one iteration. k-means (seeded from OpenCV's random generator) runs only for the
    first cut, so the mattes depend far less on the seed, and each cut is ~5 ms cheaper at 480 px."""

    def __init__(self) -> None:
        self.background: np.ndarray | None = None
        self.foreground: np.ndarray | None = None


def fuse(f: Frame, p: TrackerParams, shape_prior: ShapePrior, prior_mask, rel: np.ndarray | None,
         colour: np.ndarray | ColourMap, others: np.ndarray | None, area_prev: float, area_ref: float, long_side: int,
         models: CutModels | None = None) -> np.ndarray:
    """Shape prior from the warped mask (or a (flow, affine) pair of them) + colour evidence →
    snapped probability map. Worked out in a window around the prior and the carried keyframe
    shape, `roi_margin` wider on each side: beyond it the prior alone keeps every pixel under 0.5
    (and the work scales with the object, not the frame)."""
    masks = prior_mask if isinstance(prior_mask, tuple) else (prior_mask,)
    anchor = shape_prior.anchor(masks[0].shape)
    win = roi(masks + (anchor > 0.5,), int(round(p.roi_margin * long_side)))
    parts = tuple(m[win] for m in masks)
    out = np.zeros(masks[0].shape, np.float32)
    out[win] = _fuse(f.window(win), p, shape_prior, parts if len(parts) > 1 else parts[0],
                     None if rel is None else rel[win], colour[win], None if others is None else others[win],
                     area_prev, area_ref, long_side, anchor[win], models)
    return out


def roi(masks: tuple[np.ndarray, ...], margin: int) -> tuple[slice, slice]:
    """(rows, columns) of the masks' joint bounding box widened by `margin`, within the frame
    (pure function; the whole frame when the masks are empty)."""
    h, w = masks[0].shape
    union = np.logical_or.reduce(masks)
    if not union.any():
        return slice(0, h), slice(0, w)
    x, y, bw, bh = cv2.boundingRect(union.astype(np.uint8))
    return slice(max(0, y - margin), min(h, y + bh + margin)), slice(max(0, x - margin), min(w, x + bw + margin))


def _fuse(f: Frame, p: TrackerParams, shape_prior: ShapePrior, prior_mask, rel, colour, others,
          area_prev: float, area_ref: float, long_side: int, anchor: np.ndarray,
          models: CutModels | None) -> np.ndarray:
    if isinstance(prior_mask, tuple):
        flow_mask, affine_mask = prior_mask
        a = p.affine_weight
        prior, signed = shape_prior(flow_mask, anchor)
        prior_a, signed_a = shape_prior(affine_mask, anchor)
        prior = (1 - a) * prior + a * prior_a
        signed = np.maximum(signed, signed_a)
        prior_mask = flow_mask | affine_mask
    else:
        prior, signed = shape_prior(prior_mask, anchor)
    if rel is not None:
        # where the flow disagrees with itself the warp is a guess: let colour decide, but only
        # near the object (far away, a broken flow must not invite background blobs in)
        near = np.clip(1.0 + signed / (p.unreliable_reach * shape_prior.tau), 0.0, 1.0)
        prior *= 1.0 - near * (1.0 - rel)
    c = np.clip(colour, p.colour_clip, 1.0 - p.colour_clip)
    logit = prior + p.colour_gain * np.log(c / (1.0 - c))
    logit -= p.size_gain * size_bias(area_prev, area_ref, p.size_dead_zone)
    if others is not None:
        logit[others] -= p.other_objects_gain
    if f.background is not None:
        logit -= p.background_gain * f.background
    if rel is not None and p.motion_gain > 0:
        motion = motion_evidence(f, prior_mask, p, long_side)
        if motion is not None:
            logit += p.motion_gain * motion * rel
    prob = 1.0 / (1.0 + np.exp(-logit))
    # smoothing scales with the object too, or small objects get blurred away
    radius = int(round(min(p.guided_radius * long_side, p.guided_object_fraction * np.sqrt(max(area_prev, 1.0)))))
    if radius > 0:
        prob = cv2.ximgproc.guidedFilter(f.guide, prob.astype(np.float32), radius, p.guided_eps)
        prob = np.clip(prob, 0.0, 1.0)
    prob = keep_touching(prob, prior_mask, p.detached_cap)
    if p.grabcut_band > 0:
        prob = graph_cut(f, prob, p, long_side, models)
    return prob


def graph_cut(f: Frame, prob: np.ndarray, p: TrackerParams, long_side: int,
              models: CutModels | None = None) -> np.ndarray:
    """GrabCut (colour GMMs of this frame + contrast-sensitive smoothness) decides a band around
    the boundary: it snaps to real edges and learns the local colours the histograms blur. With
    `models`, the GMMs start from the last cut's and are left there for the next."""
    mask = prob > 0.5
    if not mask.any():
        return prob
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    band = max(2, int(p.grabcut_band * long_side))
    core = int(p.grabcut_core * band)
    if inside.max() < core:  # small or thin: the GMMs would have no sure core to learn from
        return prob
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    hh, ww = mask.shape
    x0, y0 = max(0, x - core), max(0, y - core)
    x1, y1 = min(ww, x + w + core), min(hh, y + h + core)
    gc = np.full((y1 - y0, x1 - x0), cv2.GC_BGD, np.uint8)
    gc[outside[y0:y1, x0:x1] <= band] = cv2.GC_PR_BGD
    gc[mask[y0:y1, x0:x1]] = cv2.GC_PR_FGD
    gc[inside[y0:y1, x0:x1] > band] = cv2.GC_FGD
    image = f.rgb[y0:y1, x0:x1]
    shrink = min(1.0, float(np.sqrt(p.grabcut_max_pixels / gc.size)))
    if shrink < 1.0:
        size = (max(8, int(gc.shape[1] * shrink)), max(8, int(gc.shape[0] * shrink)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        gc = cv2.resize(gc, size, interpolation=cv2.INTER_NEAREST)
    if not ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).any() or not (gc == cv2.GC_BGD).any():
        return prob
    if models is not None and models.background is not None:
        bgm, fgm, mode = models.background.copy(), models.foreground.copy(), cv2.GC_EVAL
    else:
        bgm, fgm, mode = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64), cv2.GC_INIT_WITH_MASK
    try:
        cv2.grabCut(np.ascontiguousarray(image), gc, None, bgm, fgm, p.grabcut_iterations, mode)
    except cv2.error:  # e.g. a mixture left degenerate: the next cut starts afresh
        if models is not None:
            models.background = models.foreground = None
        return prob
    if models is not None:
        models.background, models.foreground = bgm, fgm
    cut = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.float32)
    if shrink < 1.0:
        cut = cv2.resize(cut, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out = np.zeros_like(prob)
    out[y0:y1, x0:x1] = cv2.GaussianBlur(cut, (0, 0), p.grabcut_blur)
    mix = p.grabcut_mix
    return (mix * out + (1 - mix) * prob).astype(np.float32)


def size_bias(area: float, reference: float, dead_zone: float = 0.1) -> float:
    """Log-odds push (pure function): > 0 when the object has grown beyond its reference size, < 0
    when it has shrunk, 0 within the dead zone. Leaks into look-alike surroundings and erosion of
    thin parts both change the area steadily, real objects seldom do within a few frames."""
    if area <= 0 or reference <= 0:
        return 0.0
    x = float(np.log(area / reference))
    return float(np.clip(np.sign(x) * max(0.0, abs(x) - dead_zone), -1.0, 1.0))


def keep_touching(prob: np.ndarray, prior_mask: np.ndarray, cap: float) -> np.ndarray:
    """Drop confident blobs that do not overlap the prior (capped at `cap`): colour look-alikes
    elsewhere in the frame."""
    mask = (prob > 0.5).astype(np.uint8)
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n <= 2:
        return prob
    touching = np.bincount(labels[prior_mask], minlength=n) > 0
    touching[0] = True
    keep = touching[labels]
    return np.where(keep, prob, np.minimum(prob, cap)).astype(np.float32)
