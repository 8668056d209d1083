"""Smooth fields for the clean-plate inpainter: filling a field inside a hole from its border
(flow, colour corrections) and the feathered blend weight at the hole edge. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def _resize(a: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """cv2.resize that keeps a trailing channel axis of length 1 (cv2 drops it)."""
    out = cv2.resize(a, size, interpolation=interpolation)
    return out.reshape(size[1], size[0], *a.shape[2:]) if a.ndim == 3 else out


def spread(a: np.ndarray, channels: int) -> np.ndarray:
    """`a` repeated along a new last axis: what `a[..., None]` broadcasts to against `channels`
    channels, as an array of its own. NumPy runs a broadcast last axis of length 2 or 3 a few
    elements at a time, 4-6x slower than over a plain array; the values, so the results, are the same.
    Small arrays are left to broadcast (`a[..., None]`): there the copy's overhead costs more. The
    copy is made by cv2.merge (2-6x faster than np.stack; bools through their bytes)."""
    if channels == 1 or a.size < 2048:
        return a[..., None]
    if a.ndim <= 2 and a.dtype in _MERGEABLE:
        if a.dtype == np.bool_:
            return cv2.merge([a.view(np.uint8)] * channels).view(np.bool_).reshape(*a.shape, channels)
        return cv2.merge([a] * channels).reshape(*a.shape, channels)
    return np.stack([a] * channels, axis=-1)


_MERGEABLE = {np.dtype(t) for t in (np.bool_, np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64)}


def take_rows(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """values[at] along the first axis: np.take, several times faster than fancy indexing."""
    return np.take(values, at, axis=0)


def channel_mean(values: np.ndarray) -> np.ndarray:
    """The mean of the last axis's three channels: what `.mean(axis=-1)` gives, bit for bit (it
    adds them in the same order and divides by 3), at a fraction of the cost of a reduction."""
    return (values[..., 0] + values[..., 1] + values[..., 2]) / 3


def fill_smooth(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Values at the `known` pixels, smoothly interpolated into the unknown ones (push-pull).

    Why push-pull: it behaves like a membrane (each unknown pixel takes a distance-weighted average
    of the nearest known values at the scale of the gap) but costs a few image resizes instead of
    solving a Laplace equation, so it is cheap enough to run for every source frame. Known pixels
    keep their exact values. values: (H, W) or (H, W, C); known: bool (H, W).
    """
    weight = known.astype(np.float32)
    if not weight.any():
        return np.zeros(values.shape, np.float32)
    weights = []  # the mask's weight at each coarser level, until no pixel is unknown
    while weight.min() <= 0 and min(weight.shape) > 1:
        h, w = weight.shape
        weight = cv2.resize(weight, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
        weights.append(weight)
    if not weights:
        return values.astype(np.float32)
    channels = values.shape[2] if values.ndim == 3 else 1
    levels = [(w, spread(np.maximum(w, 1e-6), channels), spread(np.minimum(w, 1.0), channels)) for w in weights]
    return _push_pull(values, known, levels)


def _push_pull(values: np.ndarray, known: np.ndarray, levels: list) -> np.ndarray:
    """One field through the pyramid of `levels` (weight, weight floored, weight capped at 1; the
    last two spread over the field's channels)."""
    squeeze = values.ndim == 2
    v = values.astype(np.float32, copy=False)
    if squeeze:
        v = v[:, :, None]
    channels = v.shape[2]
    # the finest level needs no normalising: known pixels keep their values, the rest come from above
    premult = v * spread(known.astype(np.float32), channels)
    stack = []
    for weight, _, _ in levels:
        h, w = weight.shape
        premult = _resize(premult, (w, h), cv2.INTER_AREA)
        stack.append(premult)
    weight, floored, _ = levels[-1]
    est = stack[-1] / floored
    if weight.min() <= 0:  # a 1-pixel-wide top level with gaps: fall back to the global mean
        mean = (v * known[:, :, None]).sum((0, 1)) / max(float(known.sum()), 1e-6)
        est[weight <= 0] = mean
    for premult, (weight, floored, alpha) in zip(reversed(stack[:-1]), reversed(levels[:-1])):
        h, w = weight.shape
        up = _resize(est, (w, h), cv2.INTER_LINEAR)
        local = premult / floored
        est = up + alpha * (local - up)
    h, w = known.shape
    est = np.where(spread(known, channels), v, _resize(est, (w, h), cv2.INTER_LINEAR))
    return est[:, :, 0] if squeeze else est


class Cells:
    """A low-frequency field (colour corrections, where pixel detail is noise) given at fixed
    pixels of an image of `shape` (`known_at`, flat positions) and read at others.

    The field is averaged over `factor` x `factor` cells from the known values alone (scattered
    into the cells, never laid out at full size), filled by push-pull at that size and read
    bilinearly with cv2.resize's pixel-centre mapping. A cell is known when any of its pixels is:
    the cells at the edge of a thin ring carry what the ring says there (measured on the 20
    clean-plate pairs, slightly better than a quarter of the cell). What depends on the pixels
    alone is worked out once, for the many fields of one crop."""

    def __init__(self, shape: tuple[int, int], factor: int, known_at: np.ndarray) -> None:
        h, self.width = shape
        self.factor, self.grid = factor, (-(-h // factor), -(-self.width // factor))
        ky, kx = np.divmod(known_at, self.width)
        self.of_known = (ky // factor) * self.grid[1] + kx // factor

    def points(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the pixels at flat positions `at` fall on the grid of cells (for fill())."""
        y, x = np.divmod(at, self.width)
        scale = np.float32(1.0 / self.factor)
        return (x.astype(np.float32) + 0.5) * scale - 0.5, (y.astype(np.float32) + 0.5) * scale - 0.5

    def fill(self, values: np.ndarray, use: np.ndarray, points: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The field given by `values` (m, C) at the known pixels where `use` is set, filled and
        read at `points`: (n, C) float32."""
        channels = values.shape[1]
        size = self.grid[0] * self.grid[1]
        cells, values = self.of_known[use], values[use]
        count = np.bincount(cells, minlength=size)
        sums = np.stack([np.bincount(cells, weights=values[:, c], minlength=size) for c in range(channels)], -1)
        known = np.flatnonzero(count)
        mean = np.zeros((size, channels), np.float32)
        mean[known] = sums[known] / count[known, None]
        filled = fill_smooth(mean.reshape(*self.grid, channels), (count > 0).reshape(self.grid))
        return remap_points(filled, *points, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)


_POINTS_ROW = 1024  # points are laid out in rows of this many for OpenCV (a map side must stay < 32767)


def remap_points(image: np.ndarray, sx: np.ndarray, sy: np.ndarray, interpolation: int,
                 border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """cv2.remap of `image` at the points (sx[i], sy[i]) (1-D float32), zero outside unless
    `border` says otherwise: (n[, C]). Each point's value is the one a whole-grid remap gives
    there, bit for bit."""
    n = sx.size
    rows = max(1, -(-n // _POINTS_ROW))
    mx, my = np.zeros((2, rows * _POINTS_ROW), np.float32)
    mx[:n], my[:n] = sx, sy
    out = cv2.remap(image, mx.reshape(rows, -1), my.reshape(rows, -1), interpolation, borderMode=border, borderValue=0)
    return out.reshape(rows * _POINTS_ROW, *image.shape[2:])[:n]


def feather_alpha(hole: np.ndarray, width: float) -> np.ndarray:
    """Blend weight of the fill: 0 outside the hole (original pixels exactly), ramping up to 1 over
    `width` pixels inside it, so the fill meets the original without a hard seam."""
    if width <= 0 or not hole.any():
        return hole.astype(np.float32)
    inside = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    return np.clip(inside / float(width), 0.0, 1.0).astype(np.float32)


def dilate_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow a bool mask by a disc of `radius` pixels (0 = unchanged)."""
    if radius <= 0:
        return mask.astype(bool, copy=True)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def bounding_box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the mask grown by `margin`, clipped to the image; None if empty."""
    rows = np.flatnonzero(mask.any(1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(0))
    h, w = mask.shape
    return (max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin),
            max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin))


def blur_where_uncertain(image: np.ndarray, variance: np.ndarray, sigma: float, level: float) -> np.ndarray:
    """`image` (float32, H x W x C) leaning toward its Gaussian blur (`sigma` px) where `variance`
    (H x W, gray levels squared: how much the sources that produced each pixel disagree) is large;
    half-way at a standard deviation of `level`.

    Why: where the sources disagree, the exact detail is unknown, and a wrong sharp detail costs
    more (error, flicker) than a soft one; where they agree the image is kept as is."""
    if sigma <= 0:
        return image
    variance = np.maximum(variance, 0.0)
    lean = spread(variance / (variance + float(level) ** 2), image.shape[2])
    return image + lean * (cv2.GaussianBlur(image, (0, 0), sigma) - image)


@dataclass(frozen=True)
class BoxedMask:
    """A bool mask kept as the contents of its bounding box: the window holds each frame's hole
    (and the part of the frame that may not serve as a source) this way, since a hole is a small
    part of the frame: 2 MB saved per mask and frame at 1080p, 61 frames in the window."""

    shape: tuple[int, int]  # (h, w) of the whole mask
    box: tuple[int, int, int, int] | None  # tight (y0, y1, x0, x1) of its pixels; None when empty
    inside: np.ndarray  # bool, the mask within `box`

    @classmethod
    def of(cls, mask: np.ndarray) -> "BoxedMask":
        box = bounding_box(mask, 0)
        if box is None:
            return cls.empty(mask.shape)
        y0, y1, x0, x1 = box
        return cls(mask.shape, box, mask[y0:y1, x0:x1].copy())

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> "BoxedMask":
        return cls(tuple(shape), None, np.zeros((0, 0), bool))

    def any(self) -> bool:
        return self.box is not None

    def bounding_box(self, margin: int) -> tuple[int, int, int, int] | None:
        """bounding_box() of the whole mask, without building it."""
        if self.box is None:
            return None
        (h, w), (y0, y1, x0, x1) = self.shape, self.box
        return max(0, y0 - margin), min(h, y1 + margin), max(0, x0 - margin), min(w, x1 + margin)

    def crop(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """mask[y0:y1, x0:x1] of the whole mask, as a new array."""
        y0, y1, x0, x1 = box
        out = np.zeros((y1 - y0, x1 - x0), bool)
        if self.box is not None:
            b0, b1, a0, a1 = self.box
            iy0, iy1, ix0, ix1 = max(y0, b0), min(y1, b1), max(x0, a0), min(x1, a1)
            if iy0 < iy1 and ix0 < ix1:
                out[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = self.inside[iy0 - b0:iy1 - b0, ix0 - a0:ix1 - a0]
        return out

    def whole(self) -> np.ndarray:
        """The whole mask, as a new array."""
        return self.crop((0, self.shape[0], 0, self.shape[1]))

    def outside_u8(self) -> np.ndarray:
        """The whole mask's complement as 0/255 bytes (255 where the mask is not), for OpenCV."""
        out = np.full(self.shape, 255, np.uint8)
        if self.box is not None:
            y0, y1, x0, x1 = self.box
            out[y0:y1, x0:x1][self.inside] = 0
        return out
