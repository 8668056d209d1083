"""Classical clean-plate inpainter: temporal propagation from the frames where the background is
visible, spatial inpainting only for what the window never shows.

How one frame t is cleaned (all at `resize_ratio` of full size, inside a crop around the hole):
1. Sources are the other frames of a sliding window of ±radius frames (inpaint_window), taken in
   tiers nearest in time first: {t-1, t+1}, {t-2, t+2}, then 3, 4, 6, 8, 11, 16, 22, 30 away.
   Each source is aligned to t by the chained camera homography (corners tracked on the
   background), then by a residual dense flow (DIS). With one source of a tier, that flow is
   measured on the background around the hole and completed inside it from the border; with both,
   it is measured between the two sources, which both see what t hides, and t sits half-way
   (inpaint_align). This is the part that handles parallax and things moving behind the hole.
   Sources up to `chain_reach` frames away are also aligned a second way, by chaining the flows
   between consecutive frames (inpaint_chain): that follows content moving on its own (a swan, a
   car the camera follows) which one flow guessed across several frames from the hole border
   misses. Sources up to `static_reach` frames away are also taken unaligned, at the target's own
   pixel positions: what the camera follows (a runner, a car) stays put in the frame while the
   background pans behind it. All alignments enter the blend below as separate tiers, weighed by
   their ring match.
2. Each aligned source is compared with t on a ring just outside the hole. A source far off on
   the whole ring (misaligned, a cut, a flash) is rejected; otherwise the ring error is carried
   into the hole like the colour correction below, and the source is used only where the ring
   near a hole pixel matched (something moving on its own at one side of the hole no longer
   costs the whole source), with less weight the worse that nearby match. A source pixel is
   usable only away from that source's own hole (plus a safety margin), so a loose mask cannot
   bring the object back as a ghost.
3. A low-frequency colour correction, measured on the ring and carried into the hole, hides
   exposure and white-balance drift between source and target (unclipped and at half the working
   size by default: on real clips every stronger/finer setting measured better, since it also
   pulls a slightly misaligned fill toward the true border).
4. Each hole pixel is the weighted mean (weight 1/distance, times the nearby-match weight) of the
   nearest `blend_tiers` tiers that see it: nearest-in-time content, with less noise and less
   flicker than any single source.
   The neighbouring frames' clean plates then enter as one more two-sided tier, each plate
   weighing like a frame one away (`plate_weight`): the plate just output (t-1), and a plate of
   t+1 made by a backward pass over the next few frames (each leaning on the one after it; made
   for `back_block` frames at a time, starting `back_overlap` frames further on). Each carries
   what its side of the shot saw, so the fill is a smoother in time rather than a filter that
   only looks back. The two plates are aligned by the flow between them measured over their fills
   too (how the fill itself moves from t-1 to t+1; t sits half-way), not by a motion guessed from
   around the hole, and averaged wherever both see a pixel (each is already a smoothed guess, so
   their difference is uncertainty, not a ghost to choose against). A plate alone (the start of a
   shot, the backward pass) is aligned to the window's first fill of the hole, fill against fill.
   Pixels no window frame sees come from the plates alone. Only what even they cannot supply is
   filled spatially, and the forward plate carries that fill through the following frames instead
   of re-inventing it (and flickering).
   Where the tiers disagree strongly (content moving on its own behind the hole, water, foliage),
   the mean leans toward a slightly blurred version of itself (inpaint_fields.blur_where_uncertain);
   so does a pixel only one tier saw, which leaves nothing to compare with.
5. The fill is resized to full size and feathered in over a few pixels inside the dilated hole;
   every pixel outside it is the original, bit for bit.

Memory: the window holds at most 2 * radius + 1 prepared frames, whatever the clip length; about
1 GB at 1080p and resize_ratio 1, 0.6 GB at 0.5. The frames estimated ahead of the output (at most
back_block + back_overlap) keep their tiers' sums for the hole's pixels (21 bytes per working
pixel of the hole), and back_block backward plates are kept at working size (about 12 bytes per
pixel each): at worst, a hole covering a whole 1080p frame, about 0.6 GB more. The chained
alignment adds at most 2 * chain_reach consecutive flows, each at most flow_max_side on its long
side (about 1 MB).

Plug-in point for learned spatial fills (LaMa): subclass and override
`fill_spatial(image, hole) -> image`. It receives the working-resolution RGB uint8 frame with
everything propagation could fill already in place, and a bool mask of the pixels nobody has seen,
which it must invent. It is called only when such pixels newly appear (not once per frame), and
its result is carried to the next frames by the forward plate, warped with the same alignment.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np

from ....errors import EngineError
from ...base import Inpainter
from ...flow import DIS_PRESETS
from .align import FlowRefiner, apply_homography, crop_homography
from .chain import FlowChain
from .fields import blur_where_uncertain, bounding_box, dilate_mask, feather_alpha, fill_smooth_coarse
from .spatial import clone_fill
from .window import FrameWindow, PreparedFrame

# temporal offsets tried in order: dense near the frame, sparser far away (long gaps get covered
# without paying a flow per frame of the window)
_DISTANCES = (1, 2, 3, 4, 6, 8, 11, 16, 22, 30)


class ClassicalInpainter(Inpainter):
    name = "classical"

    def __init__(self, radius: int = 30, feather: float = 3.0, max_ring_error: float = 40.0,
                 local_ring_error: float = 30.0, local_weight: float = 8.0,
                 plate_weight: float = 1.0, back_block: int = 8, back_overlap: int = 4,
                 flow_max_side: int = 480, agree_threshold: float = 16.0,
                 flow_preset: str = "fast", bidirectional: bool = True, blend_tiers: int = 6,
                 correction_scale: int = 2, correction_clip: float = 255.0,
                 uncertain_blur: float = 2.0, uncertain_level: float = 36.0, chain_reach: int = 8,
                 static_reach: int = 3, lone_doubt: float = 12.0, **_) -> None:
        self.static_reach = static_reach  # sources this near are also tried unaligned (content the camera follows)
        self.lone_doubt = lone_doubt  # gray levels of disagreement assumed where a single tier saw a pixel
        self.chain_reach = chain_reach  # sources this near in time also get the chained-flow alignment (0: off)
        self.local_ring_error = local_ring_error  # gray levels: a source is used only where the ring near it matches
        self.local_weight = max(1e-3, local_weight)  # gray levels of nearby ring error that halve a source's weight
        self.correction_scale, self.correction_clip = correction_scale, correction_clip
        self.uncertain_blur, self.uncertain_level = uncertain_blur, uncertain_level
        if flow_preset not in DIS_PRESETS:
            raise EngineError(f"unknown flow preset '{flow_preset}' (known: {', '.join(DIS_PRESETS)})")
        self.blend_tiers = max(1, blend_tiers)  # nearest tiers averaged per pixel
        self.bidirectional = bidirectional  # two-sided tiers use the flow between their two sources
        self.flow_preset = flow_preset
        self.agree_threshold = agree_threshold  # gray levels: two sides of a tier closer than this are averaged
        self.radius = radius
        self.distances = tuple(d for d in _DISTANCES if d <= radius)
        self.feather = feather
        self.max_ring_error = max_ring_error
        self.plate_weight = max(1e-3, plate_weight)  # the neighbours' plates' weight, relative to a frame 1 away
        # the backward plates are made for `back_block` frames at a time, starting `back_overlap`
        # frames further on so the first of them already has a plate after it to lean on
        self.back_block, self.back_overlap = max(1, back_block), max(0, back_overlap)
        self.flow_max_side = flow_max_side
        self.last_stats: dict = {}  # pixel counts by how they were filled, for tools and tests
        self.debug_tiers: dict | None = None  # set to {} to record, per frame, which distance filled each pixel

    # ---- the plug-in point -------------------------------------------------------------------
    def fill_spatial(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Invent the pixels of `hole` (never seen in any source) from the rest of `image`.
        image: RGB uint8 (h, w, 3) at working resolution; hole: bool (h, w). Returns RGB uint8.

        Classical default: a seamless clone of the neighbouring texture for regions of some size,
        a smooth membrane for thin ones (inpaint_spatial)."""
        return clone_fill(image, hole)

    # ---- the interface -----------------------------------------------------------------------
    def inpaint(self, video, masks, frames, dilate=8, resize_ratio=1.0, cancel=None):
        frames = list(frames)
        if not 0 < resize_ratio <= 1:
            raise EngineError(f"resize ratio must be in (0, 1], got {resize_ratio}")
        if dilate < 0:
            raise EngineError(f"dilation must be >= 0 pixels, got {dilate}")
        if any(b != a + 1 for a, b in zip(frames, frames[1:])):
            raise EngineError("inpaint frames must be consecutive and ascending")
        source_margin = max(2, round(3 * resize_ratio))
        window = FrameWindow(video, masks, frames, self.radius, dilate, resize_ratio, source_margin)
        self.window = window  # exposed for diagnostics (peak frames held)
        refiner = FlowRefiner(self.flow_max_side, self.flow_preset)
        chain = FlowChain(refiner, self.chain_reach)
        stats = {"frames": 0, "propagated_px": 0, "plate_px": 0, "spatial_px": 0, "rejected_sources": 0}
        self.last_stats = stats
        # the window is advanced to the furthest frame estimated, and the frame being output must
        # stay in it: so the look-ahead is at most `radius` frames
        block = min(self.back_block, self.radius + 1)
        lead = min(block + self.back_overlap - 1, self.radius)
        estimates: dict[int, _Estimate | None] = {}  # window tiers of frames estimated, not yet output
        back: dict[int, PreparedFrame] = {}  # backward plates of the frames after those being output
        before: PreparedFrame | None = None  # the clean plate just output
        for pos, t in enumerate(frames):
            if cancel is not None:
                cancel.check()
            if pos % block == 0:
                ahead = frames[pos:pos + lead + 1]
                for u in ahead:
                    if u not in estimates:
                        if cancel is not None:
                            cancel.check()
                        window.advance(u, cancel)
                        frame = window.get(u)
                        estimates[u] = self._window_estimate(frame, window, refiner, chain) if frame.hole.any() else None
                back = self._backward_plates(ahead[1:], block, estimates, window, refiner, chain, cancel)
            cur = window.get(t)
            estimate = estimates.pop(t)
            stats["frames"] += 1
            if estimate is None:
                before = None  # nothing to carry across a frame without a hole
                yield t, cur.full.copy()
            else:
                clean, _ = self._finish(cur, estimate, [before, back.get(t + 1)], refiner, chain, stats)
                before = _plate(cur, clean)
                yield t, self._compose(cur, clean)
            window.release_full(t)

    def _backward_plates(self, frames: list[int], keep: int, estimates: dict, window: FrameWindow,
                         refiner: FlowRefiner, chain: FlowChain, cancel=None) -> dict[int, PreparedFrame]:
        """Clean plates of `frames` made from the last to the first, each leaning on the one after
        it: the mirror image of the forward pass, so the frame being output gets a plate from both
        sides in time. Only the first `keep` are returned (the rest only warm the chain up). They
        are not filled spatially: what none of them saw is marked unusable in the plate."""
        plates: dict[int, PreparedFrame] = {}
        after: PreparedFrame | None = None
        for u in reversed(frames):
            if cancel is not None:
                cancel.check()
            estimate = estimates[u]
            if estimate is None:
                after = None
                continue
            cur = window.get(u)
            clean, unseen = self._finish(cur, estimate, [after], refiner, chain, None)
            after = _plate(cur, clean, unseen)
            if u < frames[0] + keep:
                plates[u] = after
        return plates

    # ---- one frame ----------------------------------------------------------------------------
    def _tiers(self, cur: PreparedFrame, window: FrameWindow):
        """Groups of window sources equally far in time (the frame before and the one after),
        nearest first, each as (sources, alignment): each distance aligned by the camera and, when
        near enough, again by the chained flow and unaligned ("static")."""
        for d in self.distances:
            tier = [f for f in (window.get(cur.index - d), window.get(cur.index + d)) if f is not None]
            if tier:
                yield tier, "camera"
                if d <= self.chain_reach:
                    yield tier, "chained"
                if d <= self.static_reach:
                    yield tier, "static"

    def _crop(self, cur: PreparedFrame, box=None) -> "_Crop":
        h, w = cur.hole.shape
        margin = max(16, round(0.04 * max(h, w)))
        return _Crop(cur, box or bounding_box(cur.hole, margin), ring_width=max(4, margin // 2))

    def _add(self, estimate: "_Estimate", found: list, take_from: np.ndarray, weight: float,
             average: bool = False) -> np.ndarray:
        """Blend one tier's samples into the estimate where `take_from` and the samples allow;
        returns the pixels it added to."""
        value, valid, local = self._merge(found, average)
        take = take_from & valid
        w = weight / (1.0 + (local[take] / self.local_weight) ** 2)  # trust what matched nearby
        sel = take[estimate.hole]  # the same pixels, in the same order, among the hole's
        estimate.acc[sel] += w[:, None] * value[take]
        estimate.acc_sq[sel] += w * value[take].mean(axis=1) ** 2
        estimate.weight[sel] += w
        return take

    def _window_estimate(self, cur: PreparedFrame, window: FrameWindow, refiner: FlowRefiner,
                         chain: FlowChain) -> "_Estimate":
        """The weighted sums of what the window's tiers show in the hole of `cur` (the expensive
        part, done once per frame), waiting for the plates of the neighbouring frames."""
        crop = self._crop(cur)
        chain.start(window, cur.index, crop.xs, crop.ys)
        estimate = _Estimate(crop)
        min_gain = max(4, int(0.002 * crop.hole.sum()))
        y0, y1, x0, x1 = crop.box
        tiermap = None if self.debug_tiers is None else \
            self.debug_tiers.setdefault(cur.index, np.full(cur.hole.shape, -1, np.int16))[y0:y1, x0:x1]
        for tier, alignment in self._tiers(cur, window):
            need = estimate.expand(estimate.count < self.blend_tiers)
            if not need.any():
                break
            found = self._tier_samples(crop, tier, alignment, need, min_gain, refiner, chain)
            estimate.rejected += sum(1 for f in found if f is None)
            found = [f for f in found if f is not None]
            if found:
                d = abs(tier[0].index - cur.index)
                take = self._add(estimate, found, need, 1.0 / d)
                if tiermap is not None:  # the first tier that saw it
                    tiermap[take & estimate.expand(estimate.count == 0)] = d
                estimate.count[take[crop.hole]] += 1
        return estimate

    def _finish(self, cur: PreparedFrame, estimate: "_Estimate", plates: list, refiner: FlowRefiner,
                chain: FlowChain, stats: dict | None) -> tuple[np.ndarray, np.ndarray]:
        """The clean plate of `cur`: the window's estimate with the neighbouring frames' plates
        blended in, then leaning toward a blur where the tiers disagree, then (when `stats` is
        given: the frame is being output) a spatial fill of what nobody saw. Returns the plate
        and the hole pixels left unfilled (none when filled spatially)."""
        crop = self._crop(cur, estimate.box)
        y0, y1, x0, x1 = crop.box
        seen = estimate.expand(estimate.count > 0)
        mixed = estimate.copy()
        from_plate = np.zeros_like(crop.hole)
        min_gain = max(4, int(0.002 * crop.hole.sum()))
        plates = [p for p in plates if p is not None and p.index != cur.index]
        if len(plates) == 1:
            # a lone plate is aligned to what the window put in the hole, fill against fill, not
            # by the motion completed from around the hole (a pair is aligned to each other)
            first = crop.target.copy()
            sel = estimate.count > 0
            first[seen] = np.clip(estimate.acc[sel] / estimate.weight[sel][:, None] + 0.5, 0, 255).astype(np.uint8)
            crop.flow_gray, crop.flow_unreliable = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), crop.hole & ~seen
        if plates:  # both neighbours (t-1, t+1): a two-sided tier like any other
            found = [f for f in self._tier_samples(crop, plates, "plate", crop.hole, min_gain, refiner, chain)
                     if f is not None]
            if found:
                # both plates are already smoothed guesses: averaged even where they differ
                from_plate = self._add(mixed, found, crop.hole, self.plate_weight * len(found), average=True)
        weight = np.maximum(mixed.expand(mixed.weight), 1e-6)
        mean = mixed.expand(mixed.acc) / weight[:, :, None]
        if self.uncertain_blur > 0:
            # where the tiers disagree (content moving on its own behind the hole, dynamic texture)
            # no sharp guess is trustworthy: lean toward a blurred one, which errs less
            var = mixed.expand(mixed.acc_sq) / weight - mean.mean(axis=2) ** 2
            # one tier alone gives no disagreement to measure, yet it is the least certain guess
            # (pixels a plate also saw excepted: a plate's fill was judged when it was made, and
            # softening it again at every frame would blur it away)
            lone = estimate.expand(estimate.count == 1) & ~from_plate
            var = np.where(lone, np.maximum(var, self.lone_doubt ** 2), var)
            mean = blur_where_uncertain(mean, var, self.uncertain_blur, self.uncertain_level)
        got = seen | from_plate
        clean = cur.image.copy()
        clean[y0:y1, x0:x1][got] = np.clip(mean[got] + 0.5, 0, 255).astype(np.uint8)
        unseen = np.zeros_like(cur.hole)
        unseen[y0:y1, x0:x1] = crop.hole & ~got
        if stats is None:
            return clean, unseen
        stats["rejected_sources"] += estimate.rejected
        stats["propagated_px"] += int(np.count_nonzero(seen))
        stats["plate_px"] += int(np.count_nonzero(from_plate & ~seen))
        if self.debug_tiers is not None:
            self.debug_tiers[cur.index][y0:y1, x0:x1][from_plate & ~seen] = 99
        if unseen.any():
            stats["spatial_px"] += int(np.count_nonzero(unseen))
            spatial = self.fill_spatial(clean, unseen)
            clean[unseen] = spatial[unseen]
            unseen[:] = False
        return clean, unseen

    def _tier_samples(self, crop: "_Crop", tier: list, alignment: str, todo: np.ndarray, min_gain: int,
                      refiner: FlowRefiner, chain: FlowChain) -> list:
        """Aligned pixels from each source of a tier: (colour-corrected float32 RGB, valid, ring error,
        ring error carried into the hole),
        or None for a source rejected as misaligned; sources that would add nothing are left out.

        With a source on each side (t-d and t+d), the flow between the two sources themselves says
        how the hidden content moves (it is visible in both), and at time t it sits half-way, so
        each is sampled half a flow away. This is far better than the flow guessed from the hole
        border when what is behind the hole moves on its own. A lone source (clip ends, a plate) is
        aligned to the target by the residual flow on the background, completed inside the hole
        (for a plate, measured against the window's first fill of the hole instead).
        The chained alignment instead samples each source where the consecutive flows carry the
        target pixel (inpaint_chain)."""
        if alignment == "chained":
            return self._chained_samples(crop, tier, todo, min_gain, chain)
        if alignment == "static":
            return self._static_samples(crop, tier, todo, min_gain)
        views = [self._warp_source(crop, src) for src in tier]
        views = [v for v in views if np.count_nonzero(v["covered"] & todo) >= min_gain]
        if len(views) == 2 and self.bidirectional:
            a, b = views
            # measured everywhere both see, their own fills included: for two plates, that is
            # how the fill itself moves from one to the other, a better guess than the motion
            # completed from around the hole (window sources have no fill of their own)
            unreliable = ~a["covered"] | ~b["covered"]
            flow = refiner.residual(a["gray"], b["gray"], unreliable) * np.float32(0.5)  # a(p) ≈ b(p + 2·half)
            return [self._sample_view(crop, a, -flow), self._sample_view(crop, b, flow)]
        out = []
        for v in views:
            unreliable = crop.flow_unreliable | ~v["covered"]
            out.append(self._sample_view(crop, v, refiner.residual(crop.flow_gray, v["gray"], unreliable)))
        return out

    def _chained_samples(self, crop: "_Crop", tier: list, todo: np.ndarray, min_gain: int, chain: FlowChain) -> list:
        """_sample of each source of the tier where the chained flows carry the crop's pixels."""
        out = []
        for src in tier:
            positions = chain.positions(src.index)
            if positions is None:
                continue
            sx, sy = positions
            usable_u8 = src.usable.astype(np.uint8) * 255
            covered = cv2.remap(usable_u8, sx, sy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
            if np.count_nonzero(covered & todo) >= min_gain:
                out.append(self._sample(crop, src.image, usable_u8, sx, sy))
        return out

    def _static_samples(self, crop: "_Crop", tier: list, todo: np.ndarray, min_gain: int) -> list:
        """_sample of each source of the tier at the target's own pixel positions, no alignment."""
        y0, y1, x0, x1 = crop.box
        out = []
        for src in tier:
            if np.count_nonzero(src.usable[y0:y1, x0:x1] & todo) < min_gain:
                continue  # it cannot see enough of what is still needed: skip the sampling
            found = self._sample(crop, src.image, src.usable.astype(np.uint8) * 255, crop.xs, crop.ys)
            if found is not None and np.count_nonzero(found[1] & todo) >= min_gain:
                out.append(found)
        return out

    @staticmethod
    def _warp_source(crop: "_Crop", src: PreparedFrame) -> dict:
        """A source brought onto the target crop by the camera homography alone."""
        y0, y1, x0, x1 = crop.box
        ch, cw = crop.hole.shape
        M = np.linalg.inv(src.to_first) @ crop.cur.to_first  # target coordinates → source coordinates
        Mc = crop_homography(M, x0, y0)
        flags = cv2.WARP_INVERSE_MAP
        usable_u8 = src.usable.astype(np.uint8) * 255
        covered = cv2.warpPerspective(usable_u8, Mc, (cw, ch), flags=flags | cv2.INTER_NEAREST,
                                      borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
        gray = cv2.warpPerspective(src.gray, Mc, (cw, ch), flags=flags | cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return {"src": src, "M": M, "usable_u8": usable_u8, "covered": covered, "gray": gray}

    def _sample_view(self, crop: "_Crop", view: dict, flow: np.ndarray):
        """_sample at target pixel + flow, through the source's homography."""
        sx, sy = apply_homography(view["M"], crop.xs + flow[:, :, 0], crop.ys + flow[:, :, 1])
        return self._sample(crop, view["src"].image, view["usable_u8"], sx, sy)

    def _sample(self, crop: "_Crop", image: np.ndarray, usable_u8: np.ndarray, sx: np.ndarray, sy: np.ndarray):
        """A source image sampled at (sx, sy) for every crop pixel; None if it does not match the
        target on the ring around the hole."""
        sample = cv2.remap(image, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        valid = cv2.remap(usable_u8, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) >= 250
        check = crop.ring & valid
        if np.count_nonzero(check) < 20:
            return None
        diff = crop.target_f - sample.astype(np.float32)
        ring_error = np.abs(diff).mean(axis=2)
        error = float(ring_error[check].mean())
        if error > self.max_ring_error:
            return None
        # how well the source matches near each hole pixel: the ring error carried into the hole.
        # Part of a ring can match while another part does not (something moving on its own at
        # one side of the hole), so the source is kept where it matches rather than dropped whole
        local = fill_smooth_coarse(ring_error, check, self.correction_scale)
        valid = valid & (local <= self.local_ring_error)
        # low-frequency colour correction (exposure, white balance drift), robust to the odd
        # misaligned ring pixel
        correction = fill_smooth_coarse(np.clip(diff, -self.correction_clip, self.correction_clip), check, self.correction_scale)
        return sample.astype(np.float32) + correction, valid & crop.hole, error, local

    def _merge(self, found: list, average: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixels from one tier of sources. Where the frame before and the frame after both see a
        pixel and agree, average them (less noise, less flicker); where they disagree (one is
        misaligned there), keep the one that matched the ring better: averaging would ghost.
        With `average`, both are averaged wherever both see the pixel."""
        found.sort(key=lambda f: f[2])
        value, valid, _, local = found[0]
        value, local = value.copy(), local.copy()
        if len(found) > 1:
            other, other_valid, _, other_local = found[1]
            both = valid & other_valid
            agree = both if average else both & (np.abs(value - other).mean(axis=2) < self.agree_threshold)
            value[agree] = 0.5 * (value[agree] + other[agree])
            local[agree] = 0.5 * (local[agree] + other_local[agree])
            only_other = other_valid & ~valid
            value[only_other] = other[only_other]
            local[only_other] = other_local[only_other]
            valid = valid | other_valid
        return value, valid, local

    def _compose(self, cur: PreparedFrame, clean: np.ndarray) -> np.ndarray:
        """Full-resolution output: the fill feathered in inside the dilated hole, originals elsewhere."""
        out = cur.full.copy()
        box = bounding_box(cur.hole_full, int(self.feather) + 2)
        if box is None:
            return out
        y0, y1, x0, x1 = box
        H, W = cur.full.shape[:2]
        if clean.shape[:2] != (H, W):
            fill = cv2.resize(clean, (W, H), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]
        else:
            fill = clean[y0:y1, x0:x1]
        alpha = feather_alpha(cur.hole_full[y0:y1, x0:x1], self.feather)[:, :, None]
        orig = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(orig + alpha * (fill.astype(np.float32) - orig) + 0.5, 0, 255).astype(np.uint8)
        return out


class _Crop:
    """The target frame around its hole, with what every source alignment needs."""

    def __init__(self, cur: PreparedFrame, box: tuple[int, int, int, int], ring_width: int) -> None:
        y0, y1, x0, x1 = box
        self.cur, self.box = cur, box
        self.hole = cur.hole[y0:y1, x0:x1]
        self.target = cur.image[y0:y1, x0:x1]
        self.target_f = self.target.astype(np.float32)
        self.gray = cur.gray[y0:y1, x0:x1]
        self.ring = dilate_mask(self.hole, ring_width) & ~self.hole  # where alignment is checked
        # what a lone source's flow is measured against: the target, unknown in its hole until a
        # first fill is put there (_finish, before the plates are aligned to it)
        self.flow_gray, self.flow_unreliable = self.gray, self.hole
        self.xs, self.ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))


class _Estimate:
    """Weighted sums of the samples seen in one frame's hole, for the hole's pixels only: the frames
    estimated ahead hold these, and their size follows the hole, not its bounding box (a stray
    fragment of matte far from the object makes the box as large as the frame)."""

    def __init__(self, crop: _Crop) -> None:
        self.box, self.hole = crop.box, crop.hole
        n = int(np.count_nonzero(crop.hole))
        self.acc = np.zeros((n, 3), np.float32)  # weighted sum of the samples that saw each pixel
        self.acc_sq = np.zeros(n, np.float32)  # weighted sum of squared luma: their disagreement
        self.weight = np.zeros(n, np.float32)
        self.count = np.zeros(n, np.uint8)  # window tiers that saw each pixel
        self.rejected = 0  # sources dropped as misaligned

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Values of the hole's pixels laid out over the crop (zero elsewhere)."""
        out = np.zeros(self.hole.shape + values.shape[1:], values.dtype)
        out[self.hole] = values
        return out

    def copy(self) -> "_Estimate":
        """The sums copied (the plates are added to the copy), the counts shared."""
        out = copy.copy(self)
        out.acc, out.acc_sq, out.weight = self.acc.copy(), self.acc_sq.copy(), self.weight.copy()
        return out


def _plate(cur: PreparedFrame, clean: np.ndarray, unseen: np.ndarray | None = None) -> PreparedFrame:
    """A frame's clean plate as a source for its neighbours: usable everywhere but where it was
    left unfilled (its fill included: plates are aligned fill against fill)."""
    usable = np.ones_like(cur.usable) if unseen is None else ~unseen
    return PreparedFrame(cur.index, None, None, clean, cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY), cur.hole, usable,
                         cur.to_first)
