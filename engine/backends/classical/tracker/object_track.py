"""One tracked object: what it carries from frame to frame (colour model, shape memory, last matte,
reference area, trust; bounded size) and its step to the next frame: warp (or search when lost),
fuse with the image, judge the result."""

from __future__ import annotations

import cv2
import numpy as np

from .appearance import ColourMap, ColourModel, background_ring
from .confidence import FrameQuality
from .frame import Frame
from .guard import StuckGuard
from .memory import ShapeMemory
from .motion import affine_warp, object_motion
from .params import TrackerParams
from .prior import ShapePrior, iou
from .recover import search
from .segment import CutModels, fuse


class ObjectTrack:
    """The state carried from frame to frame for one object (bounded size)."""

    def __init__(self, frame: Frame, mask: np.ndarray, p: TrackerParams, long_side: int) -> None:
        self.p = p
        self.memory = ShapeMemory(mask, p.memory_close)
        self.shape_prior = ShapePrior(p, long_side, self.memory)
        self.prev_rgb: np.ndarray | None = frame.rgb
        ring = (max(p.ring_inner_min, int(p.ring_inner * long_side)),
                max(p.ring_outer_min, int(p.ring_outer * long_side)))
        self.model = ColourModel(frame.index, mask, ring, p)
        self.prob = mask.astype(np.float32)
        self.area_key = float(mask.sum())
        self.area_ref = self.area_key
        self.area_prev = self.area_key
        self.box = bbox(mask)
        self.lost_frames = 0 if mask.any() else 1
        self.trust = 1.0
        colour = self.model.probability(frame.index, keyframe_only=True)
        self.app_key = separation(colour, mask, background_ring(mask, *ring))
        self.like_key = float(colour[mask].mean()) - 0.5 if mask.any() else 0.0
        self.ring = ring
        self.long_side = long_side
        self.guard = StuckGuard(p, long_side)
        self.cut_models = CutModels() if p.grabcut_carry else None

    def claim(self, f: Frame) -> np.ndarray | None:
        """Where the flow puts this object on the new frame: the other objects treat it as taken."""
        if self.lost_frames or f.cut or f.flow is None:
            return None
        mx, my = f.flow.source
        return cv2.remap(self.prob, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0.5

    def step(self, f: Frame, others: np.ndarray | None = None) -> tuple[np.ndarray, FrameQuality]:
        """others: pixels the other tracked objects claim on this frame (touching objects)."""
        p = self.p
        colour = ColourMap(self.model.table(), f.index)
        reacquired = False
        flow_prior = None
        if self.lost_frames or f.cut or f.flow is None:
            prior_mask, rel = search(f, self.model, self.box, self.lost_frames, self.area_ref, p), None
            reacquired = prior_mask is not None
        else:
            previous = self.prob > 0.5
            detached = self.guard.detached(previous, f.flow.forward, self.prev_rgb, f.rgb)
            if detached is not None:  # pieces left riding on the background: not the object
                self.prob = np.where(detached, np.float32(0), self.prob)
                previous &= ~detached
            motion, shifted = object_motion(self.prob, self.prev_rgb, f, p, self.long_side)
            stuck = self.guard.observe(previous, f.flow.forward, motion)
            if stuck and p.stuck_coast < 0:  # the matte stuck to the background: the object is gone from it
                return self._lose(f)
            self.memory.follow(motion)
            mx, my = f.flow.source
            warped = cv2.remap(self.prob, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            if shifted is not None:  # the flow lost the object: its matched shift is a second hypothesis
                warped = np.maximum(warped, shifted)
            if stuck:  # the matte stuck to the background: look for the object where it was heading
                found = search(f, self.model, self.box, p.stuck_frames, self.area_ref, p)
                warped = found.astype(np.float32) if found is not None else self.guard.coast(self.prob)
                reacquired = True
            prior_mask, rel = warped > 0.5, f.flow.reliability
            flow_prior = prior_mask
            affine = affine_warp(self.prob, f, p) if p.affine_weight > 0 else None
            if affine is not None:
                prior_mask = (prior_mask, affine > 0.5)
            elif not prior_mask.any():
                prior_mask = None
        if prior_mask is None:
            return self._lose(f)
        prob = fuse(f, p, self.shape_prior, prior_mask, rel, colour, others, self.area_prev, self.area_ref,
                    self.long_side, self.cut_models)
        mask = prob > 0.5
        likeness = self._likeness(f, mask)
        if not reacquired and mask.any() and likeness < p.likeness_search:
            refound = self._refind(f, colour, others, mask)
            if refound is not None:
                prob, mask, reacquired, rel = refound, refound > 0.5, True, None
                likeness = self._likeness(f, mask)
        area = float(mask.sum())
        if area < p.lost_area_fraction * self.area_ref:
            return self._lose(f)
        if reacquired:
            self.trust = min(self.trust, p.reacquired_trust)
            self.memory.realign(mask)
        self.lost_frames = 0
        sep = separation(colour, mask, background_ring(mask, *self.ring)) / max(self.app_key, 1e-3)
        quality = FrameQuality(
            flow_consistency=float(np.mean(rel[mask])) if rel is not None else p.search_flow_consistency,
            appearance=min(sep, likeness),
            area_change=area / max(self.area_prev, 1.0),
            area_vs_reference=area / max(self.area_ref, 1.0),
            cut=f.cut, reacquired=reacquired,
            separation=sep, likeness=likeness, area_vs_key=area / max(self.area_key, 1.0),
            anchor_fit=iou(self.memory.anchor(mask.shape) > 0.5, mask),
            prior_fit=iou(flow_prior, mask) if flow_prior is not None else 0.0)
        self.prob, self.area_prev, self.box = prob, area, bbox(mask)
        self.prev_rgb = f.rgb
        return prob, quality

    def _lose(self, f: Frame) -> tuple[np.ndarray, FrameQuality]:
        self.lost_frames += 1
        self.prob = np.zeros_like(self.prob)
        self.trust = min(self.trust, self.p.lost_trust)
        return self.prob, FrameQuality(lost=True, cut=f.cut)

    def _refind(self, f: Frame, colour: ColourMap, others: np.ndarray | None, mask: np.ndarray
                ) -> np.ndarray | None:
        """For a matte that no longer looks like the object (it slid onto the background while
        still moving, so the stuck guard does not see it): the object looked for again by its
        keyframe colours one box around, other objects' pixels excluded, and fused from there;
        None when nothing plausible is found or what is found is the matte itself."""
        p = self.p
        found = search(f, self.model, self.box, 0, self.area_ref, p, others)
        if found is None or iou(found, mask) >= 0.5:
            return None
        return fuse(f, p, self.shape_prior, found, None, colour, others, self.area_prev, self.area_ref,
                    self.long_side, self.cut_models)

    def _likeness(self, f: Frame, mask: np.ndarray) -> float:
        """How much the matte's colours still look like the keyframe object, relative to the keyframe
        itself: falls on an occluder or a look-alike even when the matte keeps its size and place.
        (0.5 is "colour says nothing" in a colour probability.)"""
        if self.like_key <= self.p.likeness_min:
            return 1.0
        if not mask.any():
            return 0.0
        key = self.model.probability(f.index[mask], keyframe_only=True)
        return max(0.0, float(key.mean()) - 0.5) / self.like_key

    def commit(self, f: Frame, confidence: float) -> None:
        """After overlaps between objects are resolved: adapt the models on confident frames."""
        p = self.p
        self.trust = min(1.0, self.trust + p.trust_recovery * (1.0 - self.trust))
        if self.lost_frames or confidence < p.update_min_confidence:
            return
        mask = self.prob > 0.5
        self.model.update(f.index, mask, p.update_rate)
        rate = p.area_rate
        self.area_ref = (1 - rate) * self.area_ref + rate * float(mask.sum())

    def correct(self, prob: np.ndarray) -> None:
        """Replace the last matte by a better one from elsewhere (a segmenter's redraw, at working
        resolution): the next warp starts from it; the colour model and the shape memory stay."""
        mask = prob > 0.5
        self.prob = prob.astype(np.float32)
        if mask.any():
            self.area_prev, self.box = float(mask.sum()), bbox(mask)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    if not mask.any():
        return None
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return x, y, w, h


def separation(colour: np.ndarray | ColourMap, inside: np.ndarray, ring: np.ndarray) -> float:
    """How much more object-like the colours inside are than those just outside (0..1)."""
    if not inside.any() or not ring.any():
        return 0.0
    return float(max(0.0, colour[inside].mean() - colour[ring].mean()))
