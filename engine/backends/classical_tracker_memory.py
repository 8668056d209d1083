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

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float64)


def compose(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """2×3 transforms (pure function): apply `before`, then `after`."""
    a = np.vstack([after, [0.0, 0.0, 1.0]])
    b = np.vstack([before, [0.0, 0.0, 1.0]])
    return (a @ b)[:2]


def fit_motion(region: np.ndarray, forward: np.ndarray, reliability: np.ndarray | None = None,
               samples: int = 1200) -> np.ndarray | None:
    """Similarity transform (2×3) that moves the pixels of `region` (previous frame) where the
    forward flow takes them, fitted robustly so that boundary bleed and occluders do not count.
    Unreliable flow (forward-backward disagreement) is left out when enough reliable pixels remain."""
    ys, xs = np.nonzero(region)
    if len(xs) < 12:
        return None
    if reliability is not None:
        good = reliability[ys, xs] > 0.5
        if good.sum() >= max(12, 0.2 * len(xs)):
            ys, xs = ys[good], xs[good]
    step = max(1, len(xs) // samples)
    xs, ys = xs[::step], ys[::step]
    src = np.stack([xs, ys], 1).astype(np.float32)
    matrix, _ = cv2.estimateAffinePartial2D(src, src + forward[ys, xs], method=cv2.RANSAC,
                                            ransacReprojThreshold=1.5, maxIters=200)
    if matrix is None:
        return None
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if not 0.8 <= scale <= 1.25:  # a frame-to-frame zoom beyond this is a bad fit, not motion
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


class ShapeMemory:
    """The keyframe mask and the transform that carries it to the current frame."""

    def __init__(self, mask: np.ndarray) -> None:
        self.key = mask.astype(np.float32)
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
