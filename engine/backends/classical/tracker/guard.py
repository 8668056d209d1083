"""The guard against a matte that sticks to the background after an occlusion (and grows there).

When a moving object passes behind something (a pole, a tree), the part of the matte left at the
occluder's edge no longer sits on the object: it moves with the background, and the colour model,
adapting, lets it spread. An object that usually moves against its surroundings (the shift of its
whole-body motion fit versus the fit of a ring of background around it) and whose matte has moved
with the background for several frames in a row is no longer under its matte: the tracker then
looks for it again by its keyframe colours around the last box (recover.py), and where nothing is
found moves the matte along the object's usual velocity for the frames it stood still. A part of
the matte cut off from the rest that moves with its own surroundings while another part still moves
like the object is dropped at once (docs/TRACKING.md has the measurements).
"""

from __future__ import annotations

import cv2
import numpy as np

from .memory import fit_motion, match_shift, pixels
from .motion import surroundings
from .params import TrackerParams


def shift_at(motion: np.ndarray, x: float, y: float) -> np.ndarray:
    """Displacement (dx, dy) that a 2×3 transform gives the point (x, y) (pure function)."""
    return motion @ np.array([x, y, 1.0]) - np.array([x, y])


class StuckGuard:
    """Per object: its usual speed against the background, and how many frames in a row the matte
    has moved with the background instead."""

    def __init__(self, p: TrackerParams, long_side: int) -> None:
        self.p, self.long_side = p, long_side
        self.speed = 0.0  # usual relative speed (px per frame), adapted on frames that move
        self.velocity = np.zeros(2)  # usual image-space velocity of the object (px per frame)
        self.still = 0  # frames in a row the matte moved with the background

    def observe(self, mask: np.ndarray, forward: np.ndarray, motion: np.ndarray | None) -> bool:
        """One frame pair: `mask` the previous matte, `motion` its whole-body fit (or None).
        True when the matte has moved with the background for too long (the object is gone)."""
        p = self.p
        if p.stuck_frames <= 0 or motion is None:
            return False
        ring = surroundings(mask, p, self.long_side)
        back = fit_motion(ring, forward, p)
        if back is None:
            return False
        ys, xs = pixels(mask)
        cx, cy = float(xs.mean()), float(ys.mean())
        own = shift_at(motion, cx, cy)
        rel = float(np.hypot(*(own - shift_at(back, cx, cy))))
        moving = self.speed >= p.stuck_min_speed * self.long_side
        if moving and rel < p.stuck_ratio * self.speed:
            self.still += 1
        else:
            self.still = 0
            r = p.stuck_rate
            self.speed = (1 - r) * self.speed + r * rel if self.speed > 0 else rel
            self.velocity = (1 - r) * self.velocity + r * own
        if self.still >= p.stuck_frames:
            self.still = 0
            return True
        return False

    def detached(self, mask: np.ndarray, forward: np.ndarray, prev_rgb: np.ndarray, rgb: np.ndarray
                 ) -> np.ndarray | None:
        """The parts of the previous matte `mask` to drop, or None: its connected pieces that moved
        with their own surroundings while another piece (a `detach_share` of the matte, at least)
        moved against them as the object usually does. A leak left behind by an occluder comes
        apart from the object this way and then rides on the background, where the whole-matte
        guard cannot see it while the object's own piece still moves. A piece is judged by its
        flow, then by its own pixels matched on the new frame (`prev_rgb` → `rgb`): an occluder
        sweeping across a piece of the object drags the flow there with the background, not the
        match."""
        p = self.p
        if p.stuck_frames <= 0 or p.detach_mover <= 0 or self.speed < p.stuck_min_speed * self.long_side:
            return None
        m = mask.astype(np.uint8)
        x, y, w, h = cv2.boundingRect(m)  # the pieces are looked for in the matte's box only
        if w == 0:
            return None
        n, boxed, stats, _ = cv2.connectedComponentsWithStats(m[y:y + h, x:x + w], connectivity=8)
        if n <= 2:
            return None
        labels = np.zeros(mask.shape, boxed.dtype)
        labels[y:y + h, x:x + w] = boxed
        rel = np.full(n, np.nan)
        around = np.zeros((n, 2))
        for c in range(1, n):
            piece = labels == c
            ring = surroundings(piece, p, self.long_side) & ~mask
            if np.count_nonzero(ring) >= p.memory_min_pixels:
                around[c] = np.median(forward[ring], axis=0)
                rel[c] = float(np.hypot(*(np.median(forward[piece], axis=0) - around[c])))
        area = stats[:, cv2.CC_STAT_AREA]
        big = area >= p.detach_share * float(area[1:].sum())
        movers = big & (rel >= p.detach_mover * self.speed)
        still = rel < p.stuck_ratio * self.speed
        if not movers.any() or not still.any():  # (the label 0, outside the matte, is neither)
            return None
        radius = max(2, int(p.match_radius * self.long_side))
        for c in np.flatnonzero(still):
            match = match_shift(prev_rgb, labels == c, rgb, radius, p.match_min_pixels)
            if match is not None and np.hypot(match[0] - around[c, 0], match[1] - around[c, 1]) >= \
                    p.stuck_ratio * self.speed:
                still[c] = False  # its own pixels moved against the surroundings: part of the object
        return still[labels] if still.any() else None

    def coast(self, prob: np.ndarray) -> np.ndarray:
        """The matte moved along the usual velocity for the frames it stood still."""
        dx, dy = self.p.stuck_coast * self.p.stuck_frames * self.velocity
        h, w = prob.shape
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        return cv2.warpAffine(prob, shift, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
