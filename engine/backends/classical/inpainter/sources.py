"""Bringing source frames onto the frame being cleaned: the crop around its hole, the three
alignments of a tier of sources (camera, chained flow, unaligned) and the sampling of one source,
judged on the ring just outside the hole and colour-corrected from it (docs/INPAINTING.md)."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from .align import FlowRefiner, apply_homography, crop_homography
from .chain import FlowChain
from .fields import Cells, channel_mean, dilate_mask, remap_points, take_rows
from .params import InpainterParams
from .window import PreparedFrame


class Wanted:
    """Hole pixels a tier is asked for: their flat positions in the crop and their positions among
    the hole's pixels (the order of a HoleEstimate), both ascending. Sources are sampled at these
    and at the ring only: the rest of the crop's box is never read, and it is half of the box."""

    def __init__(self, crop: "Crop", positions: np.ndarray) -> None:
        self.pos = positions
        self.at = crop.hole_at[positions]
        # where the ring's then these pixels' values are among Crop.read_at's (the chained flows')
        self.among = np.concatenate([np.arange(crop.ring_at.size), crop.ring_at.size + positions])
        self.cell_points = crop.cells.points(self.at)  # where the colour correction is read


class Sample(NamedTuple):
    """A source's sample at the wanted pixels (None stands for a source rejected as misaligned)."""
    value: np.ndarray  # (n, 3) float32 RGB, colour-corrected
    valid: np.ndarray  # (n,) bool: usable and matching the ring nearby
    error: float  # mean ring error (gray levels)
    local: np.ndarray  # (n,) float32: the ring error carried into the hole


class Crop:
    """The target frame around its hole, with what every source alignment needs."""

    def __init__(self, cur: PreparedFrame, box: tuple[int, int, int, int], ring_width: int, cell_size: int,
                 ring: np.ndarray | None = None) -> None:
        y0, y1, x0, x1 = box
        self.cur, self.box = cur, box
        self.hole = cur.hole.crop(box)
        self.target = cur.image[y0:y1, x0:x1]
        self.gray = cv2.cvtColor(self.target, cv2.COLOR_RGB2GRAY)
        # where alignment is checked (the dilation is the costly part: `ring` reuses one made before)
        self.ring = dilate_mask(self.hole, ring_width) & ~self.hole if ring is None else ring
        # what a lone source's flow is measured against: the target, unknown in its hole until a
        # first fill is put there (plates.finish, before the plates are aligned to it)
        self.flow_gray, self.flow_unreliable = self.gray, self.hole
        self.hole_at = np.flatnonzero(self.hole)
        self.ring_at = np.flatnonzero(self.ring)
        self.ring_target = take_rows(self.target.reshape(-1, 3), self.ring_at).astype(np.float32)
        # every pixel a source is ever read at, the ring's then the hole's (the chained flows follow these)
        self.read_at = np.concatenate([self.ring_at, self.hole_at])
        rows, cols = np.divmod(self.read_at, x1 - x0)
        self.read_xy = ((cols + x0).astype(np.float32), (rows + y0).astype(np.float32))  # in the frame
        self.cells = Cells(self.hole.shape, cell_size, self.ring_at)  # colour corrections, from the ring

    def wanted(self, positions: np.ndarray | None = None) -> Wanted:
        """The hole pixels at `positions` among the hole's pixels (all of them when None)."""
        return Wanted(self, np.arange(self.hole_at.size) if positions is None else positions)

    def xy(self, wanted: Wanted) -> tuple[np.ndarray, np.ndarray]:
        """Frame coordinates (float32) of the pixels a sample reads: the ring's, then the wanted ones'."""
        return np.take(self.read_xy[0], wanted.among), np.take(self.read_xy[1], wanted.among)


def tiers(cur: PreparedFrame, window, params: InpainterParams):
    """Groups of window sources equally far in time (the frame before and the one after),
    nearest first, each as (sources, alignment): each distance aligned by the camera and, when
    near enough, again by the chained flow and unaligned ("static")."""
    for d in params.distances:
        tier = [f for f in (window.get(cur.index - d), window.get(cur.index + d)) if f is not None]
        if tier:
            yield tier, "camera"
            if d <= params.chain_reach:
                yield tier, "chained"
            if d <= params.static_reach:
                yield tier, "static"


class SourceSampler:
    """Aligned, colour-corrected samples of source frames over one target crop. Holds the flows of
    one run (the refiner's DIS instance and the chain of consecutive flows)."""

    def __init__(self, params: InpainterParams, refiner: FlowRefiner, chain: FlowChain) -> None:
        self.params, self.refiner, self.chain = params, refiner, chain

    def crop(self, cur: PreparedFrame, box=None, ring: np.ndarray | None = None) -> Crop:
        """The crop around `cur`'s hole, with a margin of context and the ring; `box` and `ring`
        of the same frame's crop made before are reused as they are."""
        h, w = cur.hole.shape
        margin = max(self.params.crop_margin_min, round(self.params.crop_margin * max(h, w)))
        return Crop(cur, box or cur.hole.bounding_box(margin), ring_width=max(4, margin // 2),
                    cell_size=self.params.correction_scale, ring=ring)

    def min_gain(self, crop: Crop) -> int:
        """Pixels a source must add for its sampling to be worth it."""
        return max(4, int(self.params.min_gain * crop.hole.sum()))

    def tier_samples(self, crop: Crop, tier: list, alignment: str, want: Wanted, min_gain: int) -> list:
        """Aligned pixels from each source of a tier at the `want`ed pixels (a Sample, or None for
        a source rejected as misaligned); sources that would add nothing are left out.

        With a source on each side (t-d and t+d), the flow between the two sources themselves says
        how the hidden content moves (it is visible in both), and at time t it sits half-way, so
        each is sampled half a flow away. This is far better than the flow guessed from the hole
        border when what is behind the hole moves on its own. A lone source (clip ends, a plate) is
        aligned to the target by the residual flow on the background, completed inside the hole
        (for a plate, measured against the window's first fill of the hole instead).
        The chained alignment instead samples each source where the consecutive flows carry the
        target pixel (chain.py)."""
        if alignment == "chained":
            return self._chained_samples(crop, tier, want, min_gain)
        if alignment == "static":
            return self.static_samples(crop, tier, want, min_gain)
        views = [self._warp_source(crop, src) for src in tier]
        views = [v for v in views if np.count_nonzero(np.take(v["covered"], want.at)) >= min_gain]
        if len(views) == 2 and self.params.bidirectional:
            a, b = views
            # measured everywhere both see, their own fills included: for two plates, that is
            # how the fill itself moves from one to the other, a better guess than the motion
            # completed from around the hole (window sources have no fill of their own)
            unreliable = ~a["covered"] | ~b["covered"]
            flow = self.refiner.residual(a["gray"], b["gray"], unreliable) * np.float32(0.5)  # a(p) ≈ b(p + 2·half)
            return [self._sample_view(crop, a, -flow, want), self._sample_view(crop, b, flow, want)]
        out = []
        for v in views:
            unreliable = crop.flow_unreliable | ~v["covered"]
            flow = self.refiner.residual(crop.flow_gray, v["gray"], unreliable)
            out.append(self._sample_view(crop, v, flow, want))
        return out

    def _chained_samples(self, crop: Crop, tier: list, want: Wanted, min_gain: int) -> list:
        """sample() of each source of the tier where the chained flows carry the crop's pixels."""
        out = []
        for src in tier:
            positions = self.chain.positions(src.index)
            if positions is None:
                continue
            sx, sy = np.take(positions[0], want.among), np.take(positions[1], want.among)
            usable_u8 = src.unusable.outside_u8()
            n = crop.ring_at.size
            covered = remap_points(usable_u8, sx[n:], sy[n:], cv2.INTER_NEAREST) > 0
            if np.count_nonzero(covered) >= min_gain:
                out.append(self.sample(crop, src.image, usable_u8, sx, sy, want))
        return out

    def static_samples(self, crop: Crop, tier: list, want: Wanted, min_gain: int) -> list:
        """sample() of each source of the tier at the target's own pixel positions, no alignment."""
        out = []
        sx, sy = crop.xy(want)
        for src in tier:
            if np.count_nonzero(~np.take(src.unusable.crop(crop.box), want.at)) < min_gain:
                continue  # it cannot see enough of what is still needed: skip the sampling
            found = self.sample(crop, src.image, src.unusable.outside_u8(), sx, sy, want)
            if found is not None and np.count_nonzero(found.valid) >= min_gain:
                out.append(found)
        return out

    @staticmethod
    def _warp_source(crop: Crop, src: PreparedFrame) -> dict:
        """A source brought onto the target crop by the camera homography alone."""
        y0, y1, x0, x1 = crop.box
        ch, cw = crop.hole.shape
        M = np.linalg.inv(src.to_first) @ crop.cur.to_first  # target coordinates → source coordinates
        Mc = crop_homography(M, x0, y0)
        flags = cv2.WARP_INVERSE_MAP
        usable_u8 = src.unusable.outside_u8()
        covered = cv2.warpPerspective(usable_u8, Mc, (cw, ch), flags=flags | cv2.INTER_NEAREST,
                                      borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
        gray = cv2.warpPerspective(src.gray, Mc, (cw, ch), flags=flags | cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return {"src": src, "M": M, "usable_u8": usable_u8, "covered": covered, "gray": gray}

    def _sample_view(self, crop: Crop, view: dict, flow: np.ndarray, want: Wanted) -> Sample | None:
        """sample() at target pixel + flow, through the source's homography."""
        f = take_rows(flow.reshape(-1, 2), np.take(crop.read_at, want.among))
        x, y = crop.xy(want)
        sx, sy = apply_homography(view["M"], x + f[:, 0], y + f[:, 1])
        return self.sample(crop, view["src"].image, view["usable_u8"], sx, sy, want)

    def sample(self, crop: Crop, image: np.ndarray, usable_u8: np.ndarray, sx: np.ndarray, sy: np.ndarray,
               want: Wanted) -> Sample | None:
        """A source image sampled at (sx, sy), given for the crop's ring pixels then the wanted ones
        (Crop.xy); None if it does not match the target on the ring around the hole."""
        p = self.params
        n = crop.ring_at.size
        sample = remap_points(image, sx, sy, cv2.INTER_LINEAR)
        valid = remap_points(usable_u8, sx, sy, cv2.INTER_LINEAR) >= p.usable_level
        check = valid[:n]  # where the ring is judged
        if np.count_nonzero(check) < p.min_ring_pixels:
            return None
        # per ring pixel: its error (the mean absolute difference), then the difference itself
        ring = np.empty((n, 4), np.float32)
        diff = ring[:, 1:]
        np.subtract(crop.ring_target, sample[:n], out=diff)
        ring[:, 0] = channel_mean(np.abs(diff))
        error = float(ring[check, 0].mean())
        if error > p.max_ring_error:
            return None
        # how well the source matches near each hole pixel: the ring error carried into the hole.
        # Part of a ring can match while another part does not (something moving on its own at
        # one side of the hole), so the source is kept where it matches rather than dropped whole.
        # With it, a low-frequency colour correction (exposure, white balance drift), robust to the
        # odd misaligned ring pixel: both carried from the same ring pixels, in one pass (a clip at
        # 255 or more changes nothing: two uint8 pixels never differ by more)
        if p.correction_clip < 255:
            np.clip(diff, -p.correction_clip, p.correction_clip, out=diff)
        filled = crop.cells.fill(ring, check, want.cell_points)
        local = filled[:, 0]
        value = np.add(sample[n:], filled[:, 1:], dtype=np.float32)
        return Sample(value, valid[n:] & (local <= p.local_ring_error), error, local)
