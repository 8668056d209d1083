"""Combining samples: the two sides of one tier merged, then blended into the running weighted sums
of the frame's hole, weighed by time distance and by how well the ring matched nearby."""

from __future__ import annotations

import copy

import numpy as np

from .fields import channel_mean, spread, take_rows
from .params import InpainterParams
from .sources import Crop, Wanted, tiers


class HoleEstimate:
    """Weighted sums of the samples seen in one frame's hole, for the hole's pixels only: the frames
    estimated ahead hold these, and their size follows the hole, not its bounding box (a stray
    fragment of matte far from the object makes the box as large as the frame)."""

    def __init__(self, crop: Crop) -> None:
        self.box, self.hole = crop.box, crop.hole
        self.ring = crop.ring  # kept so the frame's later crops skip the dilation (1 byte per pixel of the box)
        n = int(np.count_nonzero(crop.hole))
        self.acc = np.zeros((n, 3), np.float32)  # weighted sum of the samples that saw each pixel
        self.acc_sq = np.zeros(n, np.float32)  # weighted sum of squared luma: their disagreement
        self.weight = np.zeros(n, np.float32)
        self.count = np.zeros(n, np.uint8)  # window tiers that saw each pixel
        self.rejected = 0  # sources dropped as misaligned

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Values of the hole's pixels laid out over the crop (zero elsewhere)."""
        out = np.zeros(self.hole.shape + values.shape[1:], values.dtype)
        # by the pixels' flat positions: the same scatter as out[self.hole], several times faster
        out.reshape(-1, *values.shape[1:])[np.flatnonzero(self.hole)] = values
        return out

    def copy(self) -> "HoleEstimate":
        """The sums copied (the plates are added to the copy), the counts shared."""
        out = copy.copy(self)
        out.acc, out.acc_sq, out.weight = self.acc.copy(), self.acc_sq.copy(), self.weight.copy()
        return out


def merge_tier(found: list, agree_threshold: float,
               average: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One tier of sources at the pixels they were sampled at (Wanted): (take: those a source
    sees; the value there; the nearby ring error there), the last two in the order of the pixels
    of `take`. Where the frame before and the frame after both see a pixel and agree, average them
    (less noise, less flicker); where they disagree (one is misaligned there), keep the one that
    matched the ring better: averaging would ghost. With `average`, both are averaged wherever
    both see the pixel. Computed on the pixels taken only (gathered first)."""
    found.sort(key=lambda f: f.error)
    value, valid, _, local = found[0]
    if len(found) == 1:
        at = np.flatnonzero(valid)
        return valid, take_rows(value, at), np.take(local, at)
    other, other_valid, _, other_local = found[1]
    take = valid | other_valid
    at = np.flatnonzero(take)
    value, other = take_rows(value, at), take_rows(other, at)
    local, other_local = np.take(local, at), np.take(other_local, at)
    mine, theirs = np.take(valid, at), np.take(other_valid, at)
    both = mine & theirs
    agree = both if average else both & (channel_mean(np.abs(value - other)) < agree_threshold)
    only_other = theirs & ~mine
    channels = value.shape[1]
    value = np.where(spread(agree, channels), 0.5 * (value + other), np.where(spread(only_other, channels), other, value))
    local = np.where(agree, 0.5 * (local + other_local), np.where(only_other, other_local, local))
    return take, value, local


def add_tier(estimate: HoleEstimate, found: list, want: Wanted, weight: float,
             params: InpainterParams, average: bool = False) -> np.ndarray:
    """Blend one tier's samples (taken at `want`) into the estimate where the samples allow;
    returns the positions among the hole's pixels it added to."""
    take, taken, local = merge_tier(found, params.agree_threshold, average)
    w = weight / (1.0 + (local / params.safe_local_weight) ** 2)  # trust what matched nearby
    sel = want.pos[take]
    estimate.acc[sel] += spread(w, taken.shape[1]) * taken
    estimate.acc_sq[sel] += w * channel_mean(taken) ** 2
    estimate.weight[sel] += w
    return sel


def window_estimate(cur, window, sampler, debug_tiers: dict | None = None) -> HoleEstimate:
    """The weighted sums of what the window's tiers show in the hole of `cur` (the expensive part,
    done once per frame), waiting for the plates of the neighbouring frames. Tiers are taken nearest
    first until every hole pixel has been seen by `blend_tiers` of them. `debug_tiers`, when given,
    records per frame the distance of the first tier that saw each pixel (-1: none)."""
    params = sampler.params
    crop = sampler.crop(cur)
    sampler.chain.start(window, cur.index, *crop.read_xy)
    estimate = HoleEstimate(crop)
    min_gain = sampler.min_gain(crop)
    y0, y1, x0, x1 = crop.box
    tiermap = None if debug_tiers is None else \
        debug_tiers.setdefault(cur.index, np.full(cur.hole.shape, -1, np.int16))[y0:y1, x0:x1]
    for tier, alignment in tiers(cur, window, params):
        need = np.flatnonzero(estimate.count < params.tiers_blended)
        if need.size == 0:
            break
        want = crop.wanted(need)
        found = sampler.tier_samples(crop, tier, alignment, want, min_gain)
        estimate.rejected += sum(1 for f in found if f is None)
        found = [f for f in found if f is not None]
        if found:
            d = abs(tier[0].index - cur.index)
            added = add_tier(estimate, found, want, 1.0 / d, params)
            if tiermap is not None:  # the first tier that saw it
                first = crop.hole_at[added[estimate.count[added] == 0]]
                tiermap[np.unravel_index(first, crop.hole.shape)] = d
            estimate.count[added] += 1
    return estimate
