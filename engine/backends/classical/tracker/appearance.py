"""Colour models of an object and of the background around it, used to correct flow-warped masks
against the image (so they do not drift) and to find the object again after it was lost.

Colours are quantised to a 16×16×16 RGB histogram (4096 bins, a few kB per model, independent of
clip length). Each object keeps the model from its keyframe for good, like a memory-based tracker
keeps the annotated frame, plus a slowly adapted model that follows lighting and new background.
"""

from __future__ import annotations

import cv2
import numpy as np

from .params import TrackerParams

BITS = 4  # bits per channel kept
BINS = 1 << (3 * BITS)


def colour_index(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (h, w, 3) → histogram bin per pixel, int32 (h, w)."""
    q = (rgb >> (8 - BITS)).astype(np.int32)
    return (q[..., 0] << (2 * BITS)) | (q[..., 1] << BITS) | q[..., 2]


def _smooth(hist: np.ndarray) -> np.ndarray:
    """Spread each bin a little into its neighbours, so colours close to the seen ones still count."""
    n = 1 << BITS
    cube = hist.reshape(n, n, n)
    for axis in range(3):
        pad = np.concatenate([cube.take([0], axis), cube, cube.take([n - 1], axis)], axis=axis)
        lo = pad.take(range(0, n), axis)
        mid = pad.take(range(1, n + 1), axis)
        hi = pad.take(range(2, n + 2), axis)
        cube = 0.25 * lo + 0.5 * mid + 0.25 * hi
    return cube.ravel()


def histogram(index: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Normalised, smoothed colour histogram of the pixels in `region` (bool mask)."""
    counts = np.bincount(index[region], minlength=BINS).astype(np.float32)
    total = float(counts.sum())
    if total == 0:
        return np.full(BINS, 1.0 / BINS, np.float32)
    return _smooth(counts / total).astype(np.float32)


def background_ring(mask: np.ndarray, inner: int, outer: int) -> np.ndarray:
    """Pixels between `inner` and `outer` px outside the mask: the background that competes with it.
    (A distance transform costs the same for any ring width, unlike a large dilation. It runs over
    the mask's box widened just enough to hold every ring pixel: OpenCV's 3×3 L2 distance counts
    0.955 per straight step, so the ring reaches outer / 0.955 px; same result, less work.)"""
    mask = mask.astype(bool)
    ring = np.zeros(mask.shape, bool)
    if not mask.any():
        return ring
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    m = int(outer / 0.955) + 2
    y0, x0 = max(0, y - m), max(0, x - m)
    y1, x1 = min(mask.shape[0], y + h + m), min(mask.shape[1], x + w + m)
    dist = cv2.distanceTransform((~mask[y0:y1, x0:x1]).astype(np.uint8), cv2.DIST_L2, 3)
    ring[y0:y1, x0:x1] = (dist > inner) & (dist <= outer)
    return ring


def eroded(mask: np.ndarray, r: int, min_core: float) -> np.ndarray:
    """The mask shrunk by `r` px (its boundary pixels mix in the background's colours), or the mask
    itself when less than `min_core` of it would remain (a thin object)."""
    if r <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    core = cv2.erode(mask.astype(np.uint8), kernel) > 0
    return core if core.sum() >= min_core * mask.sum() else mask


class ColourModel:
    """Keyframe (permanent) and adapted (recent) colour histograms of one object and its surroundings."""

    def __init__(self, index: np.ndarray, mask: np.ndarray, ring: tuple[int, int], p: TrackerParams) -> None:
        self.ring, self.p = ring, p
        fg = histogram(index, eroded(mask, p.colour_erode, p.colour_min_core))
        bg_local = histogram(index, background_ring(mask, *ring))
        bg_global = histogram(index, ~mask)
        share = p.colour_local_share
        self.key_fg, self.key_bg = fg, share * bg_local + (1 - share) * bg_global
        self.fg, self.bg = fg.copy(), self.key_bg.copy()
        self.key_weight = p.colour_key_weight

    def table(self, keyframe_only: bool = False) -> np.ndarray:
        """P(object | colour) in 0..1 of each colour bin (0.5 where the colour was never seen)."""
        if keyframe_only:
            fg, bg = self.key_fg, self.key_bg
        else:
            k = self.key_weight
            fg = k * self.key_fg + (1 - k) * self.fg
            bg = k * self.key_bg + (1 - k) * self.bg
        eps = self.p.colour_pseudo_count / BINS
        return ((fg + eps) / (fg + bg + 2 * eps)).astype(np.float32)

    def probability(self, index: np.ndarray, keyframe_only: bool = False) -> np.ndarray:
        """P(object | colour) of each bin in `index`."""
        return self.table(keyframe_only)[index]

    def update(self, index: np.ndarray, mask: np.ndarray, rate: float) -> None:
        """Blend in the colours of a frame the tracker is sure about (conservative: small rate)."""
        if rate <= 0 or not mask.any():
            return
        self.fg = (1 - rate) * self.fg + rate * histogram(index, eroded(mask, self.p.colour_update_erode,
                                                                        self.p.colour_min_core))
        ring = background_ring(mask, *self.ring)
        if ring.any():
            self.bg = (1 - rate) * self.bg + rate * histogram(index, ring)

    def similarity(self, index: np.ndarray, region: np.ndarray) -> float:
        """Bhattacharyya coefficient between a region's colours and the keyframe object (0..1)."""
        if not region.any():
            return 0.0
        h = histogram(index, region)
        return float(np.sum(np.sqrt(h * self.key_fg)))


class ColourMap:
    """A frame's P(object | colour), looked up only where it is read (`colour[window]`,
    `colour[mask]`): a step reads it around the object, a small part of the frame."""

    def __init__(self, table: np.ndarray, index: np.ndarray) -> None:
        self.table, self.index = table, index

    def __getitem__(self, where) -> np.ndarray:
        return self.table[self.index[where]]
