"""Pure functions from a tracker's probability to a matte. The tracker decides where the object
is; its edge comes from a working resolution a few times coarser than the frame and is a guess
within a pixel or two, so soft alpha is estimated again from the full-resolution image, only in a
band around that edge (docs/MATTING.md)."""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # y0, y1, x0, x1
BAND_PER_RADIUS = 1.5  # the band reaches this × the filter's radius each side of the edge


def hard_edge(prob: np.ndarray, grow: float = 0.0) -> np.ndarray:
    """prob >= 0.5 with its edge moved out by `grow` px (negative: in), by Euclidean distance."""
    hard = np.asarray(prob) >= 0.5
    if grow == 0 or not hard.any():
        return hard
    if grow > 0:
        to_object = cv2.distanceTransform((~hard).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return to_object <= grow
    to_background = cv2.distanceTransform(hard.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return to_background > -grow


def grown_probability(prob: np.ndarray, grow: float = 0.0) -> np.ndarray:
    """The probability itself with its edge moved by `grow` px: a grey dilation (erosion when
    negative) by a disc, so a soft edge keeps its profile."""
    prob = np.asarray(prob, np.float32)
    r = int(round(abs(grow)))
    if r == 0:
        return prob.copy()
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return (cv2.dilate if grow > 0 else cv2.erode)(prob, disc, borderType=cv2.BORDER_REPLICATE)


def padded_box(mask: np.ndarray, margin: int) -> Box | None:
    """The bounding box of `mask`'s pixels grown by `margin`, inside the image; None when empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    h, w = mask.shape
    return (max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin),
            max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin))


def edge_band(hard: np.ndarray, half_width: float) -> np.ndarray:
    """Pixels within `half_width` px of the boundary, on either side."""
    inside = cv2.distanceTransform(hard.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform((~hard).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(hard, inside, outside) <= half_width


def refined_alpha(image: np.ndarray, hard: np.ndarray, half_width: float, eps: float,
                  target: np.ndarray | None = None) -> np.ndarray:
    """Alpha 0..1 in the band around the hard matte's boundary (hard 0/1 elsewhere): a guided filter
    (He et al.) of `target` (default: the hard matte) with the colour frame as its guide. Its local
    linear colour model puts partial alpha where the object's and the background's colours mix
    (hair, motion blur, a see-through part) and moves the edge onto the image's edge; it costs a few
    box filters over the band's bounding box."""
    radius = max(1, int(round(half_width / BAND_PER_RADIUS)))
    alpha = hard.astype(np.float32)
    box = padded_box(hard, int(np.ceil(half_width)) + 2 * radius + 2)
    if box is None or hard.all():
        return alpha
    y0, y1, x0, x1 = box
    crop = hard[y0:y1, x0:x1]
    source = crop.astype(np.float32) if target is None else target[y0:y1, x0:x1].astype(np.float32)
    guide = image[y0:y1, x0:x1].astype(np.float32) * (1.0 / 255.0)
    soft = np.clip(cv2.ximgproc.guidedFilter(guide, source, radius, eps), 0.0, 1.0)
    alpha[y0:y1, x0:x1] = np.where(edge_band(crop, half_width), soft, crop)
    return alpha


def feather(alpha: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian softening of the edge (sigma in px); far inside and outside stay 1 and 0."""
    if sigma <= 0:
        return alpha
    edge = (alpha > 0.0) & (alpha < 1.0) | (cv2.morphologyEx(alpha, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0)
    box = padded_box(edge, int(np.ceil(3 * sigma)) + 1)
    if box is None:
        return alpha
    y0, y1, x0, x1 = box
    out = alpha.copy()
    out[y0:y1, x0:x1] = cv2.GaussianBlur(alpha[y0:y1, x0:x1], (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return out
