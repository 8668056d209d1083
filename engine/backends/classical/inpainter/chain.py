"""Following content from the frame being cleaned to a nearby source one frame at a time.

The camera alignment (homography, then a residual flow completed inside the hole) assumes that
what the hole hides moves like what surrounds it. Content that moves on its own (a swan, a car the
camera follows, water) breaks that assumption, and one flow guessed across several frames from
the hole border is then far off. Chaining the flows between consecutive frames does better there:
each step is a small motion, and wherever the point is visible in an intermediate frame the step
is measured rather than guessed. The inpainter uses these positions as a second alignment of the
near sources, next to the camera one, and lets the ring match near each hole pixel weigh the two.

Flows are computed once per consecutive pair, at the refiner's reduced size, and kept in a cache of
a fixed number of them (the least recently used go first), so memory does not grow with the clip.
The chains of frames estimated side by side share one cache: each pair is still measured once.
"""

from __future__ import annotations

import cv2
import numpy as np

from ....lru import LRUCache
from .align import FlowRefiner
from .fields import remap_points


def chain_capacity(reach: int, side_by_side: int = 1) -> int:
    """Consecutive flows that the chains of `side_by_side` consecutive frames need at once (`reach`
    steps on each side of each, shared), with one to spare on each side (pure function)."""
    return 2 * (max(1, reach) + side_by_side)


class FlowChain:
    def __init__(self, refiner: FlowRefiner, reach: int, flows: LRUCache | None = None) -> None:
        """`flows`: the cache of consecutive flows, shared with the chains of the frames estimated
        at the same time (each measures with its own refiner)."""
        self.refiner, self.reach = refiner, reach
        # (frame, ±1) → (coarse flow, scale)
        self.flows: LRUCache = flows if flows is not None else LRUCache(chain_capacity(reach))
        self.window = None  # the inpainter's FrameWindow, where the frames of each pair come from
        self.origin = 0
        self.start_xy: tuple[np.ndarray, np.ndarray] | None = None
        self.state: dict[int, tuple] = {}  # side → (steps done, x, y) of the followed pixels

    def start(self, window, index: int, xs: np.ndarray, ys: np.ndarray) -> None:
        """Begin following the pixels at (xs, ys) of frame `index` (working coordinates)."""
        self.window, self.origin = window, index
        self.start_xy = (xs, ys)
        self.state = {}

    def positions(self, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Where the followed pixels are in frame `index` (within `reach` of the start, on one
        side); None if a frame on the way is not in the window."""
        steps = abs(index - self.origin)
        if steps == 0 or steps > self.reach:
            return None
        side = 1 if index > self.origin else -1
        done, xs, ys = self.state.get(side, (0, *self.start_xy))
        while done < steps:
            frame = self.origin + side * done
            flow = self._flow(frame, side)
            if flow is None:
                return None
            coarse, scale = flow
            mx, my = xs.ravel() * np.float32(scale), ys.ravel() * np.float32(scale)
            dx, dy = (remap_points(coarse[..., c], mx, my, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE).reshape(xs.shape)
                      for c in (0, 1))
            xs, ys = xs + dx * np.float32(1.0 / scale), ys + dy * np.float32(1.0 / scale)
            done += 1
            self.state[side] = (done, xs, ys)
        return xs, ys

    def _flow(self, frame: int, side: int):
        """Flow from `frame` to its neighbour on `side`, both holes treated as unreliable."""
        a, b = self.window.get(frame), self.window.get(frame + side)
        if a is None or b is None:
            return None
        return self.flows.get_or_compute(
            (frame, side), lambda: self.refiner.coarse(a.gray, b.gray, a.unusable.whole() | b.unusable.whole()))
