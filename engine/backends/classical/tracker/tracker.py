"""Classical tracker: optical-flow mask propagation corrected against the image every frame.

Plain flow warping drifts, bleeds and, once a thin or occluded part is lost, never gets it back.
Here each frame the previous probability map is warped by DIS optical flow (computed once per
frame pair for all objects) and turned into a shape prior that is firm far from the warped
boundary and soft near it, and weakest where the flow is not self-consistent (occlusions,
disocclusions). The object's colour model (keyframe colours kept for good, plus a slowly adapted
copy) decides the pixels the prior leaves open, a guided filter snaps the boundary to image edges,
and blobs that do not touch the warped mask are dropped. When the object vanishes (full occlusion,
cut), the tracker searches a growing window for a blob with the keyframe's colours and a plausible
size, and resumes from it.

Two guards against the compounding losses of frame-to-frame warping (classical_tracker_memory):
the object's own pixels are matched against the new frame (masked template matching), and when the
flow disagrees with that match (a fence or branches in front, thin fast parts) the matched shift
joins the flow as a second hypothesis; and the keyframe mask, kept for good and carried by the
object's accumulated motion, marks where lost parts may grow back (colour permitting) and, while it
still fits the object, pushes back leaks far outside it.

Everything runs at a working resolution (long side ~480 px); the probability is upsampled at the
end. State per object is a few small images and histograms: memory does not grow with clip length.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ....errors import EngineError
from ...base import Tracker
from .appearance import ColourModel, background_ring, colour_index
from .confidence import FrameQuality, combine_confidence
from .memory import ShapeMemory, fit_motion, match_shift
from ...flow import FlowEstimator, FlowPair, gray_histogram, warp_map


@dataclass
class TrackerParams:
    """Tuning knobs (defaults chosen for footage in general, not for one clip)."""

    work_size: int = 480  # long side of the working resolution
    flow_preset: str = "medium"
    prior_softness: float = 0.004  # × long side: px over which the warped boundary is uncertain
    outside_softness: float = 0.004  # × long side: how far colour can pull the boundary out per frame
    regrow_softness: float = 0.03  # × long side: the same, inside the keyframe shape carried to this frame
    regrow_margin: float = 0.05  # × sqrt(object area): slack around the carried keyframe shape for regrowth
    regrow_evidence: float = 0.0  # log-odds the colour must overcome to bring a part back
    leave_margin: float = 0.1  # × sqrt(object area): beyond this slack, the anchor pushes the matte back
    match_radius: float = 0.04  # × long side: search range of the object's frame-to-frame shift
    match_override: float = 1.5  # px: the matched shift joins the flow in the prior when they disagree by more
    memory_close: float = 0.3  # × sqrt(object area): occlusion gaps closed in the remembered shape
    anchor_gain: float = 3.0  # log-odds against pixels far outside the carried keyframe shape
    prior_inside_cap: float = 3.0  # logit cap inside: strong colour evidence can still cut a pixel out
    prior_outside_cap: float = 8.0
    colour_gain: float = 0.6  # weight of the colour log-odds against the shape prior
    guided_radius: float = 0.008  # × long side
    guided_eps: float = 2e-3
    guided_object_fraction: float = 0.08  # guided-filter radius at most this × sqrt(object area)
    update_rate: float = 0.05  # adapted colour model blend per confident frame
    update_min_confidence: float = 0.6
    lost_area_fraction: float = 0.04  # mask smaller than this × reference area → object lost
    cut_threshold: float = 0.5
    affine_weight: float = 0.0  # share of the whole-object (affine) motion hypothesis in the prior
    motion_gain: float = 2.0  # weight of "moves like the object, not like its surroundings"
    size_gain: float = 3.0  # bias against growing/shrinking away from the (slowly adapted) reference area
    area_rate: float = 0.02  # how fast the reference area follows the tracked area on confident frames
    other_objects_gain: float = 2.0  # log-odds against pixels another tracked object claims
    grabcut_mix: float = 0.6  # share of the graph-cut labelling in the final probability
    grabcut_band: float = 0.02  # × long side; > 0: graph-cut refinement in a band around the boundary
    grabcut_max_pixels: int = 30000  # larger regions are cut at reduced resolution (speed)
    check_preset: str = "medium"  # DIS preset of the forward flow used for the consistency check
    check_scale: float = 0.5  # resolution of that forward flow relative to the working resolution
    full_res_snap: bool = False  # refine the upsampled matte with a full-resolution guided filter


@dataclass
class _Frame:
    """Everything about the current frame that all objects share."""

    rgb: np.ndarray  # working-resolution RGB uint8
    guide: np.ndarray  # float32 0..1, guide image for the guided filter
    index: np.ndarray  # colour bin per pixel
    flow: FlowPair | None  # None on the first frame of a run
    cut: bool


class _ObjectTrack:
    """The state carried from frame to frame for one object (bounded size)."""

    def __init__(self, frame: _Frame, mask: np.ndarray, p: TrackerParams, long_side: int) -> None:
        self.p = p
        self.tau = max(1.0, p.prior_softness * long_side)
        self.tau_out = max(1.0, p.outside_softness * long_side)
        self.tau_regrow = max(self.tau_out, p.regrow_softness * long_side)
        self.memory = ShapeMemory(mask, p.memory_close)
        self.anchor: np.ndarray | None = None
        self.prev_rgb: np.ndarray | None = frame.rgb
        ring = (max(2, int(0.005 * long_side)), max(8, int(0.06 * long_side)))
        self.model = ColourModel(frame.index, mask, ring)
        self.prob = mask.astype(np.float32)
        self.area_key = float(mask.sum())
        self.area_ref = self.area_key
        self.area_prev = self.area_key
        self.box = _bbox(mask)
        self.lost_frames = 0 if mask.any() else 1
        self.trust = 1.0
        colour = self.model.probability(frame.index, keyframe_only=True)
        self.app_key = _separation(colour, mask, background_ring(mask, *ring))
        self.like_key = float(colour[mask].mean()) - 0.5 if mask.any() else 0.0
        self.ring = ring
        self.long_side = long_side

    # ---- one frame ----------------------------------------------------------------------------------
    def claim(self, f: _Frame) -> np.ndarray | None:
        """Where the flow puts this object on the new frame: the other objects treat it as taken."""
        if self.lost_frames or f.cut or f.flow is None:
            return None
        mx, my = warp_map(f.flow.backward, _grid(f))
        return cv2.remap(self.prob, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0.5

    def step(self, f: _Frame, others: np.ndarray | None = None) -> tuple[np.ndarray, FrameQuality]:
        """others: pixels the other tracked objects claim on this frame (touching objects)."""
        colour = self.model.probability(f.index)
        reacquired = False
        if self.lost_frames or f.cut or f.flow is None:
            prior_mask, rel = self._search(f, colour), None
            reacquired = prior_mask is not None
        else:
            motion, shifted = self._object_motion(f)
            self.memory.follow(motion)
            mx, my = warp_map(f.flow.backward, _grid(f))
            warped = cv2.remap(self.prob, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            if shifted is not None:  # the flow lost the object: its matched shift is a second hypothesis
                warped = np.maximum(warped, shifted)
            prior_mask, rel = warped > 0.5, f.flow.reliability
            affine = self._affine_warp(f) if self.p.affine_weight > 0 else None
            if affine is not None:
                prior_mask = (prior_mask, affine > 0.5)
            elif not prior_mask.any():
                prior_mask = None
        if prior_mask is None:
            self.lost_frames += 1
            self.prob = np.zeros_like(self.prob)
            self.trust = min(self.trust, 0.3)
            return self.prob, FrameQuality(lost=True, cut=f.cut)
        prob = self._fuse(f, prior_mask, rel, colour, others)
        mask = prob > 0.5
        area = float(mask.sum())
        if area < self.p.lost_area_fraction * self.area_ref:
            self.lost_frames += 1
            self.prob = np.zeros_like(prob)
            self.trust = min(self.trust, 0.3)
            return self.prob, FrameQuality(lost=True, cut=f.cut)
        if reacquired:
            self.trust = min(self.trust, 0.4)
            self.memory.realign(mask)
        self.lost_frames = 0
        quality = FrameQuality(
            flow_consistency=float(np.mean(rel[mask])) if rel is not None else 0.5,
            appearance=min(_separation(colour, mask, background_ring(mask, *self.ring)) / max(self.app_key, 1e-3),
                           self._likeness(f, mask)),
            area_change=area / max(self.area_prev, 1.0),
            area_vs_reference=area / max(self.area_ref, 1.0),
            cut=f.cut, reacquired=reacquired)
        self.prob, self.area_prev, self.box = prob, area, _bbox(mask)
        self.prev_rgb = f.rgb
        return prob, quality

    def _object_motion(self, f: _Frame) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The object's whole-body motion for this frame pair, and, when the flow has lost the object
        (its flow disagrees with where the object's own pixels match), the previous matte moved by
        the matched shift: the shape memory then follows the match, and the prior takes both."""
        mask = self.prob > 0.5
        motion = fit_motion(mask, f.flow.forward)
        if self.p.match_radius <= 0 or self.prev_rgb is None:
            return motion, None
        match = match_shift(self.prev_rgb, mask, f.rgb, max(2, int(self.p.match_radius * self.long_side)))
        if match is None:
            return motion, None
        dx, dy, _ = match
        ys, xs = np.nonzero(mask)
        cx, cy = float(xs.mean()), float(ys.mean())
        if motion is not None:
            fx, fy = motion @ [cx, cy, 1.0]
            if np.hypot(fx - cx - dx, fy - cy - dy) <= self.p.match_override:
                return motion, None
        shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        h, w = mask.shape
        moved = cv2.warpAffine(self.prob, shift.astype(np.float32), (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        return shift, moved

    def _likeness(self, f: _Frame, mask: np.ndarray) -> float:
        """How much the matte's colours still look like the keyframe object, relative to the keyframe
        itself: falls on an occluder or a look-alike even when the matte keeps its size and place."""
        if self.like_key <= 0.05:
            return 1.0
        key = self.model.probability(f.index, keyframe_only=True)
        return max(0.0, float(key[mask].mean()) - 0.5) / self.like_key

    def commit(self, f: _Frame, confidence: float) -> None:
        """After overlaps between objects are resolved: adapt the models on confident frames."""
        self.trust = min(1.0, self.trust + 0.15 * (1.0 - self.trust))
        if self.lost_frames or confidence < self.p.update_min_confidence:
            return
        mask = self.prob > 0.5
        self.model.update(f.index, mask, self.p.update_rate)
        rate = self.p.area_rate
        self.area_ref = (1 - rate) * self.area_ref + rate * float(mask.sum())

    # ---- pieces ----------------------------------------------------------------------------------------
    def _fuse(self, f: _Frame, prior_mask: np.ndarray, rel: np.ndarray | None, colour: np.ndarray,
              others: np.ndarray | None = None) -> np.ndarray:
        """Shape prior from the warped mask + colour evidence → snapped probability map."""
        if isinstance(prior_mask, tuple):
            flow_mask, affine_mask = prior_mask
            a = self.p.affine_weight
            prior, signed = self._shape_prior(flow_mask)
            prior_a, signed_a = self._shape_prior(affine_mask)
            prior = (1 - a) * prior + a * prior_a
            signed = np.maximum(signed, signed_a)
            prior_mask = flow_mask | affine_mask
        else:
            prior, signed = self._shape_prior(prior_mask)
        if rel is not None:
            # where the flow disagrees with itself the warp is a guess: let colour decide, but only
            # near the object (far away, a broken flow must not invite background blobs in)
            near = np.clip(1.0 + signed / (4.0 * self.tau), 0.0, 1.0)
            prior *= 1.0 - near * (1.0 - rel)
        c = np.clip(colour, 0.02, 0.98)
        logit = prior + self.p.colour_gain * np.log(c / (1.0 - c))
        logit -= self.p.size_gain * size_bias(self.area_prev, self.area_ref)
        if others is not None:
            logit[others] -= self.p.other_objects_gain
        if rel is not None and self.p.motion_gain > 0:
            motion = self._motion_evidence(f, prior_mask)
            if motion is not None:
                logit += self.p.motion_gain * motion * rel
        prob = 1.0 / (1.0 + np.exp(-logit))
        # smoothing scales with the object too, or small objects get blurred away
        radius = int(round(min(self.p.guided_radius * self.long_side, self.p.guided_object_fraction * np.sqrt(max(self.area_prev, 1.0)))))
        if radius > 0:
            prob = cv2.ximgproc.guidedFilter(f.guide, prob.astype(np.float32), radius, self.p.guided_eps)
            prob = np.clip(prob, 0.0, 1.0)
        prob = _keep_touching(prob, prior_mask)
        if self.p.grabcut_band > 0:
            prob = self._graph_cut(f, prob, others)
        return prob

    def _graph_cut(self, f: _Frame, prob: np.ndarray, others: np.ndarray | None) -> np.ndarray:
        """GrabCut (colour GMMs of this frame + contrast-sensitive smoothness) decides a band around
        the boundary: it snaps to real edges and learns the local colours the histograms blur."""
        mask = prob > 0.5
        if not mask.any():
            return prob
        inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
        band = max(2, int(self.p.grabcut_band * self.long_side))
        if inside.max() < 2 * band:  # small or thin: the GMMs would have no sure core to learn from
            return prob
        outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
        x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
        hh, ww = mask.shape
        x0, y0 = max(0, x - 2 * band), max(0, y - 2 * band)
        x1, y1 = min(ww, x + w + 2 * band), min(hh, y + h + 2 * band)
        gc = np.full((y1 - y0, x1 - x0), cv2.GC_BGD, np.uint8)
        gc[outside[y0:y1, x0:x1] <= band] = cv2.GC_PR_BGD
        gc[mask[y0:y1, x0:x1]] = cv2.GC_PR_FGD
        gc[inside[y0:y1, x0:x1] > band] = cv2.GC_FGD
        image = f.rgb[y0:y1, x0:x1]
        shrink = min(1.0, float(np.sqrt(self.p.grabcut_max_pixels / gc.size)))
        if shrink < 1.0:
            size = (max(8, int(gc.shape[1] * shrink)), max(8, int(gc.shape[0] * shrink)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            gc = cv2.resize(gc, size, interpolation=cv2.INTER_NEAREST)
        if not ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).any() or not (gc == cv2.GC_BGD).any():
            return prob
        bgm, fgm = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(np.ascontiguousarray(image), gc, None, bgm, fgm, 1, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            return prob
        cut = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.float32)
        if shrink < 1.0:
            cut = cv2.resize(cut, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        out = np.zeros_like(prob)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(cut, (0, 0), 0.8)
        mix = self.p.grabcut_mix
        return (mix * out + (1 - mix) * prob).astype(np.float32)

    def _motion_evidence(self, f: _Frame, mask: np.ndarray) -> np.ndarray | None:
        """Per pixel in -1..1: +1 where the flow follows the object's own motion, -1 where it follows
        the motion of the background around it, 0 where the two motions are alike or neither fits.
        Separates the object from look-alike surroundings whenever it moves differently from them
        (a followed car, a running dog, a panning camera)."""
        h, w = mask.shape
        m8 = mask.astype(np.uint8)
        core = cv2.erode(m8, np.ones((3, 3), np.uint8)) > 0
        ring = background_ring(mask, 3, max(4, int(0.08 * self.long_side)))
        back = f.flow.backward
        fg = _fit_affine(core, back)
        bg = _fit_affine(ring, back)
        if fg is None or bg is None:
            return None
        xs, ys = _grid(f)
        pred_fg = _apply_affine(fg, xs, ys)
        pred_bg = _apply_affine(bg, xs, ys)
        r_fg = _length(back - pred_fg)
        r_bg = _length(back - pred_bg)
        sep = _length(pred_fg - pred_bg)
        evidence = (r_bg - r_fg) / (r_bg + r_fg + 0.5)
        return (evidence * np.clip((sep - 0.5) / 1.5, 0.0, 1.0)).astype(np.float32)

    def _shape_prior(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = mask.astype(np.uint8)
        signed = cv2.distanceTransform(m, cv2.DIST_L2, 3) - cv2.distanceTransform(1 - m, cv2.DIST_L2, 3)
        outside = signed / self.tau_out
        zone = self._regrow_zone(mask.shape)
        prior = np.where(signed > 0, signed / self.tau, outside)
        if zone is not None:
            zone, beyond = zone
            # where the keyframe shape says a part belongs, it may come back; far beyond it, a
            # part of the matte is more likely a leak (or drag) than a real change of shape
            # (never for free: colour that says nothing must not fill the zone, e.g. an occluder)
            regrow = np.minimum(signed / self.tau_regrow, -self.p.regrow_evidence)
            prior = np.where(zone & (signed <= 0), np.maximum(prior, regrow), prior)
            # the carried shape is only a good guide while it still fits the object (a turning,
            # bending body leaves it behind): weigh the push by how well the two agree
            fit = float(np.clip((_iou(self.anchor, mask) - 0.5) / 0.3, 0.0, 1.0))
            prior -= self.p.anchor_gain * fit * beyond
        return np.clip(prior, -self.p.prior_outside_cap, self.p.prior_inside_cap), signed

    def _regrow_zone(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
        """The keyframe shape carried to this frame, widened by a slack that scales with the object."""
        if self.p.regrow_softness <= 0:
            return None
        anchor = self.memory.anchor(shape) > 0.5
        self.anchor = anchor
        if not anchor.any():
            return None
        size = np.sqrt(max(float(anchor.sum()), 1.0))
        dist = cv2.distanceTransform((~anchor).astype(np.uint8), cv2.DIST_L2, 3)
        leave = max(1.0, self.p.leave_margin * size)
        return dist <= self.p.regrow_margin * size, np.clip(dist / leave - 1.0, 0.0, 1.0)

    def _affine_warp(self, f: _Frame) -> np.ndarray | None:
        """The previous mask moved by one affine motion fitted to the flow inside it: robust to the
        flow bleeding across the object's boundary, which drags boundary pixels with the background."""
        core = self.prob > 0.5
        ys, xs = np.nonzero(core)
        if len(xs) < 20:
            return None
        step = max(1, len(xs) // 1500)
        xs, ys = xs[::step], ys[::step]
        fwd = f.flow.forward[ys, xs]
        src = np.stack([xs, ys], 1).astype(np.float32)
        matrix, inliers = cv2.estimateAffine2D(src, src + fwd, method=cv2.RANSAC, ransacReprojThreshold=1.5,
                                               maxIters=200)
        if matrix is None:
            return None
        h, w = self.prob.shape
        return cv2.warpAffine(self.prob, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)

    def _search(self, f: _Frame, colour: np.ndarray) -> np.ndarray | None:
        """Look for the object again with its keyframe colours, in a window that grows while lost."""
        h, w = colour.shape
        key = self.model.probability(f.index, keyframe_only=True)
        if self.box is None or f.cut:
            x0, y0, x1, y1 = 0, 0, w, h
        else:
            bx, by, bw, bh = self.box
            grow = 1.0 + 0.5 * self.lost_frames
            cx, cy = bx + bw / 2, by + bh / 2
            hw, hh = bw * (0.5 + grow), bh * (0.5 + grow)
            x0, x1 = max(0, int(cx - hw)), min(w, int(cx + hw) + 1)
            y0, y1 = max(0, int(cy - hh)), min(h, int(cy + hh) + 1)
        window = np.zeros((h, w), bool)
        window[y0:y1, x0:x1] = True
        likely = (cv2.GaussianBlur(key, (0, 0), 1.5) > 0.65) & window
        likely = cv2.morphologyEx(likely.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(likely, connectivity=8)
        best, best_score = None, 0.0
        for i in range(1, n):
            area = float(stats[i, cv2.CC_STAT_AREA])
            ratio = area / max(self.area_ref, 1.0)
            if not 0.25 <= ratio <= 3.0:
                continue
            region = labels == i
            similarity = self.model.similarity(f.index, region)
            score = similarity * float(np.exp(-abs(np.log(ratio))))
            if similarity > 0.6 and score > best_score:
                best, best_score = region, score
        return best


class ClassicalTracker(Tracker):
    """DIS flow propagation with per-frame colour correction, edge snapping and re-detection."""

    name = "classical"

    def __init__(self, **options):
        known = TrackerParams.__dataclass_fields__
        unknown = set(options) - set(known)
        if unknown:
            raise EngineError(f"unknown classical tracker option(s): {', '.join(sorted(unknown))}")
        self.params = TrackerParams(**options)

    def propagate(self, video, init_frame, init_masks, frames, cancel=None):
        p = self.params
        cv2.setRNGSeed(1234)  # RANSAC in the motion fits: same input, same matte
        full_h, full_w = video.height, video.width
        scale = min(1.0, p.work_size / max(full_h, full_w))
        size = (max(8, int(round(full_w * scale))), max(8, int(round(full_h * scale))))
        long_side = max(size)
        flow = FlowEstimator(p.flow_preset, p.check_preset, p.check_scale)

        def prepare(index: int, pair_with=None) -> tuple[_Frame, np.ndarray, np.ndarray]:
            image = video.read(index)
            if image.shape[:2] != (full_h, full_w):
                raise EngineError(f"frame {index} is {image.shape[1]}x{image.shape[0]}, expected {full_w}x{full_h}")
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else image
            gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
            hist = gray_histogram(gray)
            pair = None
            if pair_with is not None:
                pair = flow.pair(pair_with[0], gray, pair_with[1], hist)
            frame = _Frame(small, small.astype(np.float32) / 255.0, colour_index(small), pair,
                           cut=pair is not None and pair.cut_score >= p.cut_threshold)
            return frame, gray, hist

        first, prev_gray, prev_hist = prepare(init_frame)
        tracks: dict[int, _ObjectTrack] = {}
        for oid, mask in init_masks.items():
            mask = np.asarray(mask)
            if mask.shape[:2] != (full_h, full_w):
                raise EngineError(f"mask of object {oid} is {mask.shape[1]}x{mask.shape[0]}, the video is {full_w}x{full_h}")
            small = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5 if scale < 1.0 \
                else mask.astype(bool)
            if not small.any() and mask.any():  # a tiny object: keep at least its centre pixel
                ys, xs = np.nonzero(mask)
                small[int(ys.mean() * scale), int(xs.mean() * scale)] = True
            tracks[oid] = _ObjectTrack(first, small, p, long_side)

        for index in frames:
            if cancel is not None:
                cancel.check()
            frame, gray, hist = prepare(index, (prev_gray, prev_hist))
            probs, qualities = {}, {}
            claims = {oid: track.claim(frame) for oid, track in tracks.items()} if len(tracks) > 1 else {}
            for oid, track in tracks.items():
                taken = [c for other, c in claims.items() if other != oid and c is not None]
                others = np.logical_or.reduce(taken) if taken else None
                probs[oid], qualities[oid] = track.step(frame, others)
            if len(tracks) > 1:
                _resolve_overlaps(probs)
            out_probs, confs = {}, {}
            for oid, track in tracks.items():
                track.prob = probs[oid]
                confs[oid] = combine_confidence(qualities[oid], frame.flow.cut_score, track.trust)
                track.commit(frame, confs[oid])
                out_probs[oid] = self._upsample(probs[oid], video, index, (full_w, full_h), scale)
            yield index, out_probs, confs
            prev_gray, prev_hist = gray, hist

    def _upsample(self, prob: np.ndarray, video, index: int, full: tuple[int, int], scale: float) -> np.ndarray:
        if scale >= 1.0:
            return prob.astype(np.float32, copy=True)
        out = cv2.resize(prob, full, interpolation=cv2.INTER_LINEAR)
        if self.params.full_res_snap and out.max() > 0.5:
            guide = video.read(index).astype(np.float32) / 255.0
            out = cv2.ximgproc.guidedFilter(guide, out, max(2, int(0.004 * max(full))), 1e-3)
            out = np.clip(out, 0.0, 1.0)
        return out.astype(np.float32, copy=False)


# ---- small pure helpers ------------------------------------------------------------------------------
_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(f: _Frame) -> tuple[np.ndarray, np.ndarray]:
    h, w = f.index.shape
    if (h, w) not in _GRIDS:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        _GRIDS.clear()
        _GRIDS[(h, w)] = (xs, ys)
    return _GRIDS[(h, w)]


def size_bias(area: float, reference: float, dead_zone: float = 0.1) -> float:
    """Log-odds push (pure function): > 0 when the object has grown beyond its reference size, < 0
    when it has shrunk, 0 within the dead zone. Leaks into look-alike surroundings and erosion of
    thin parts both change the area steadily, real objects seldom do within a few frames."""
    if area <= 0 or reference <= 0:
        return 0.0
    x = float(np.log(area / reference))
    return float(np.clip(np.sign(x) * max(0.0, abs(x) - dead_zone), -1.0, 1.0))


def _fit_affine(region: np.ndarray, flow: np.ndarray, samples: int = 800) -> np.ndarray | None:
    """Affine displacement model (2×3, maps x, y, 1 → dx, dy) fitted robustly to the flow in a region."""
    ys, xs = np.nonzero(region)
    if len(xs) < 12:
        return None
    step = max(1, len(xs) // samples)
    xs, ys = xs[::step], ys[::step]
    src = np.stack([xs, ys], 1).astype(np.float32)
    matrix, _ = cv2.estimateAffine2D(src, src + flow[ys, xs], method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                     maxIters=100)
    if matrix is None:
        return None
    matrix = matrix.astype(np.float32)
    matrix[0, 0] -= 1.0
    matrix[1, 1] -= 1.0
    return matrix


def _apply_affine(m: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.stack([m[0, 0] * xs + m[0, 1] * ys + m[0, 2], m[1, 0] * xs + m[1, 1] * ys + m[1, 2]], axis=2)


def _length(v: np.ndarray) -> np.ndarray:
    """Per-pixel length of a (h, w, 2) vector field (cv2.magnitude: several times faster than numpy)."""
    return cv2.magnitude(np.ascontiguousarray(v[..., 0]), np.ascontiguousarray(v[..., 1]))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    if not mask.any():
        return None
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return x, y, w, h


def _separation(colour: np.ndarray, inside: np.ndarray, ring: np.ndarray) -> float:
    """How much more object-like the colours inside are than those just outside (0..1)."""
    if not inside.any() or not ring.any():
        return 0.0
    return float(max(0.0, colour[inside].mean() - colour[ring].mean()))


def _keep_touching(prob: np.ndarray, prior_mask: np.ndarray) -> np.ndarray:
    """Drop confident blobs that do not overlap the prior: colour look-alikes elsewhere in the frame."""
    mask = (prob > 0.5).astype(np.uint8)
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n <= 2:
        return prob
    touching = np.bincount(labels[prior_mask], minlength=n) > 0
    touching[0] = True
    keep = touching[labels]
    return np.where(keep, prob, np.minimum(prob, 0.3)).astype(np.float32)


def _resolve_overlaps(probs: dict[int, np.ndarray]) -> None:
    """A pixel belongs to at most one object: the most probable one keeps it."""
    ids = list(probs)
    stack = np.stack([probs[i] for i in ids])
    owner = np.argmax(stack, axis=0)
    for k, oid in enumerate(ids):
        p = probs[oid]
        probs[oid] = np.where((owner != k) & (p > 0.5), np.float32(0.49) * p, p).astype(np.float32)
