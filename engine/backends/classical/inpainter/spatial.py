"""Spatial fill for what no frame of the window shows: a seamless clone of nearby texture.

A smooth (membrane) fill is the safest guess for thin gaps but reads as a blurry blob over grass,
gravel or water. For each larger region, this copies the patch of the same frame beside it (the
shift, among the 8 neighbouring ones, whose surroundings match the region's surroundings best) and
removes the seam with a membrane correction of the colour difference on the border, as seamless
cloning does. Pure functions; the inpainter calls this once per newly uncovered region and carries
the result along in time, so the texture does not boil.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from .fields import bounding_box, dilate_mask, fill_smooth

_MIN_THICKNESS = 3.0  # regions thinner than this (max distance to their border, px) get a smooth fill
_MAX_MISMATCH_RATIO = 1.3  # clone only if its border mismatch is at most this × the border's own spread
_MAX_MISMATCH = 40.0  # ... and at most this many gray levels


class SpatialFill(Protocol):
    """The component that invents what no frame shows (the classical default is `clone_fill`; the
    learned one is LaMa). It receives the working-resolution RGB uint8 frame with everything
    propagation could fill already in place and a bool mask of the pixels nobody has seen, and
    returns the frame with those pixels filled. It is called only when such pixels newly appear,
    and its result is carried to the next frames by the forward plate."""

    def __call__(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray: ...


def smooth_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Membrane interpolation of the surrounding colours into `hole`."""
    box = bounding_box(hole, 24)
    out = image.copy()
    if box is None:
        return out
    y0, y1, x0, x1 = box
    smooth = fill_smooth(image[y0:y1, x0:x1].astype(np.float32), ~hole[y0:y1, x0:x1])
    out[y0:y1, x0:x1] = np.clip(smooth + 0.5, 0, 255).astype(np.uint8)
    return out


def clone_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill every connected region of `hole` with the best-matching neighbouring texture, blended
    seamlessly; thin regions and regions with no usable neighbour get the smooth fill."""
    out = image.copy()
    count, labels, boxes, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    leftover = np.zeros_like(hole)
    for k in range(1, count):
        x, y, w, h, _area = boxes[k]
        region = labels[y:y + h, x:x + w] == k
        thickness = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 3).max()
        if thickness < _MIN_THICKNESS or not _clone_region(out, hole, labels == k, (x, y, w, h)):
            leftover |= labels == k
    if leftover.any():
        out = smooth_fill(out, leftover)
    return out


def _clone_region(image: np.ndarray, hole: np.ndarray, region: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Clone into one region in place; False when no shift gives a usable, fitting source."""
    H, W = hole.shape
    x, y, w, h = box
    margin = int(max(4, 0.2 * min(w, h)))
    ys, xs = np.nonzero(region)
    ring = dilate_mask(region, margin) & ~hole
    ry, rx = np.nonzero(ring)
    if ry.size < 8:
        return False
    image_f = image.astype(np.float32)
    best = None
    for sy in (-1, 0, 1):
        for sx in (-1, 0, 1):
            if sx == 0 and sy == 0:
                continue
            dx, dy = sx * (w + margin), sy * (h + margin)
            qy, qx = ys + dy, xs + dx
            if qy.min() < 0 or qx.min() < 0 or qy.max() >= H or qx.max() >= W or hole[qy, qx].any():
                continue
            qry, qrx = ry + dy, rx + dx
            ok = (qry >= 0) & (qrx >= 0) & (qry < H) & (qrx < W)
            if ok.sum() < 0.5 * ry.size:
                continue
            ok[ok] &= ~hole[qry[ok], qrx[ok]]
            if ok.sum() < 0.5 * ry.size:
                continue
            score = float(np.abs(image_f[ry[ok], rx[ok]] - image_f[qry[ok], qrx[ok]]).mean())
            if best is None or score < best[0]:
                best = (score, dx, dy)
    if best is None:
        return False
    # the copied patch's surroundings must resemble the region's about as much as two pieces of the
    # same texture do; otherwise it is other structure (a wall above a car), and a smooth fill
    # is the lesser evil
    ring_f = image_f[ry, rx]
    spread = float(np.abs(ring_f - ring_f.mean(0)).mean())  # how textured the surroundings are
    if best[0] > min(_MAX_MISMATCH_RATIO * spread, _MAX_MISMATCH):
        return False
    _, dx, dy = best
    # seam removal: the colour difference on the border, carried smoothly into the region
    y0, y1 = max(0, y - margin), min(H, y + h + margin)
    x0, x1 = max(0, x - margin), min(W, x + w + margin)
    crop_region = region[y0:y1, x0:x1]
    known = ~dilate_mask(crop_region, 1) & ~hole[y0:y1, x0:x1]
    gy, gx = np.mgrid[y0:y1, x0:x1]
    src = image_f[np.clip(gy + dy, 0, H - 1), np.clip(gx + dx, 0, W - 1)]
    correction = fill_smooth(np.where(known[:, :, None], image_f[y0:y1, x0:x1] - src, 0), known)
    value = np.clip(src + np.clip(correction, -80, 80) + 0.5, 0, 255).astype(np.uint8)
    image[y0:y1, x0:x1][crop_region] = value[crop_region]
    return True
