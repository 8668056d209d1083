"""Long-term shape memory of a tracked object: the keyframe mask, kept for good and carried to the
current frame by the object's accumulated whole-body motion.

Frame-to-frame flow warping compounds its errors: a leg the flow misses on one frame is gone for
every later frame, and an occluder sliding past drags part of the mask with it. Learned trackers
avoid this by always matching against the annotated frame. The classical counterpart here is
cheaper: the keyframe mask, moved by a similarity transform (shift, rotation, scale) composed from
robust per-frame fits of the object's own motion, says where the object's parts *should* be. The
tracker lets the matte grow back into that zone (colour permitting) and resists leaving it, so
eroded parts return and leaks into look-alike surroundings stay bounded.
"""

from __future__ import annotations

import cv2
import numpy as np

from .params import TrackerParams

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float64)


def compose(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """2×3 transforms (pure function): apply `before`, then `after`."""
    a = np.vstack([after, [0.0, 0.0, 1.0]])
    b = np.vstack([before, [0.0, 0.0, 1.0]])
    return (a @ b)[:2]


def pixels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a bool mask, the same arrays in the same order, looked for only within the
    mask's bounding box: the masks here cover a small part of the frame."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    ys, xs = np.nonzero(mask[y:y + h, x:x + w])
    return ys + y, xs + x


def region_points(region: np.ndarray, min_pixels: int, samples: int):
    """About `samples` pixels of `region` evenly spread over it, as (xs, ys, float32 N×2 points) for
    a robust motion fit; None when the region has fewer than `min_pixels` (no fit is reliable)."""
    ys, xs = pixels(region)
    if len(xs) < min_pixels:
        return None
    step = max(1, len(xs) // samples)
    xs, ys = xs[::step], ys[::step]
    return xs, ys, np.stack([xs, ys], 1).astype(np.float32)


def fit_motion(region: np.ndarray, forward: np.ndarray, p: TrackerParams) -> np.ndarray | None:
    """Similarity transform (2×3) that moves the pixels of `region` (previous frame) where the
    forward flow takes them, fitted robustly so that boundary bleed and occluders do not count."""
    points = region_points(region, p.memory_min_pixels, p.memory_samples)
    if points is None:
        return None
    xs, ys, src = points
    matrix, _ = cv2.estimateAffinePartial2D(src, src + forward[ys, xs], method=cv2.RANSAC,
                                            ransacReprojThreshold=p.memory_threshold, maxIters=p.memory_iterations)
    if matrix is None:
        return None
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if not p.memory_min_zoom <= scale <= p.memory_max_zoom:  # a zoom beyond these is a bad fit, not motion
        return None
    return matrix.astype(np.float64)


def align_by_moments(source: np.ndarray, target: np.ndarray) -> np.ndarray | None:
    """Shift and scale (2×3) that put `source`'s centroid and area onto `target`'s (pure function):
    the coarse re-alignment after the object was re-found without usable motion."""
    ms, mt = cv2.moments(source.astype(np.uint8), True), cv2.moments(target.astype(np.uint8), True)
    if ms["m00"] <= 0 or mt["m00"] <= 0:
        return None
    s = float(np.sqrt(mt["m00"] / ms["m00"]))
    cxs, cys = ms["m10"] / ms["m00"], ms["m01"] / ms["m00"]
    cxt, cyt = mt["m10"] / mt["m00"], mt["m01"] / mt["m00"]
    return np.array([[s, 0.0, cxt - s * cxs], [0.0, s, cyt - s * cys]], np.float64)


def close_gaps(mask: np.ndarray, fraction: float) -> np.ndarray:
    """The mask with gaps narrower than `fraction` × sqrt(area) closed: an object seen through a fence
    or branches is annotated in strips, but its shape, the thing to remember, has no such gaps."""
    r = int(round(fraction * np.sqrt(max(float(mask.sum()), 1.0)) / 2))
    if r < 1:
        return mask.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    pad = r + 1
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    closed = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, kernel)[pad:-pad, pad:-pad]
    return closed > 0


class ShapeMemory:
    """The keyframe mask and the transform that carries it to the current frame."""

    def __init__(self, mask: np.ndarray, close: float = 0.0) -> None:
        self.key = close_gaps(mask, close).astype(np.float32)
        self.key_area = float(mask.sum())
        self.transform = IDENTITY.copy()

    def follow(self, motion: np.ndarray | None) -> None:
        """Add one frame of the object's motion (None: the fit failed; keep the last transform)."""
        if motion is not None:
            self.transform = compose(motion, self.transform)

    def realign(self, mask: np.ndarray) -> None:
        """After a re-detection: put the keyframe shape onto the found blob."""
        t = align_by_moments(self.key > 0.5, mask)
        if t is not None:
            self.transform = t

    def anchor(self, shape: tuple[int, int]) -> np.ndarray:
        """The keyframe mask where the accumulated motion puts it on the current frame (0..1)."""
        h, w = shape
        return cv2.warpAffine(self.key, self.transform.astype(np.float32), (w, h), flags=cv2.INTER_LINEAR,
                              borderValue=0)


def match_shift(prev_rgb: np.ndarray, prev_mask: np.ndarray, rgb: np.ndarray, radius: int, min_pixels: int
                ) -> tuple[float, float, float] | None:
    """Where the object's previous appearance fits best on the current frame: (dx, dy, error), error
    the mean squared colour difference per masked pixel at the best shift.

    The flow of a thin or fenced object is dominated by whatever strong edges lie in front of it
    (posts, branches) and says "not moving"; matching the object's own pixels (and only them,
    through the mask) finds its real displacement."""
    ys, xs = pixels(prev_mask)
    if len(xs) < min_pixels:
        return None
    h, w = prev_mask.shape
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    sx0, sy0 = max(0, x0 - radius), max(0, y0 - radius)
    sx1, sy1 = min(w, x1 + radius), min(h, y1 + radius)
    if sx1 - sx0 <= x1 - x0 or sy1 - sy0 <= y1 - y0:
        return None
    template = np.ascontiguousarray(prev_rgb[y0:y1, x0:x1]).astype(np.float32)
    weights = np.repeat(prev_mask[y0:y1, x0:x1, None], 3, axis=2).astype(np.float32)
    search = np.ascontiguousarray(rgb[sy0:sy1, sx0:sx1]).astype(np.float32)
    cost = cv2.matchTemplate(search, template, cv2.TM_SQDIFF, mask=weights)
    _, _, (bx, by), _ = cv2.minMaxLoc(cost)
    best = float(cost[by, bx]) / max(float(weights.sum()), 1.0)
    return float(sx0 + bx - x0), float(sy0 + by - y0), best
