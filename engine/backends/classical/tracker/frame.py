"""Per-frame preparation shared by every tracked object: the frame at working resolution, its colour
bins, and the optical flow from the previous frame (computed once per frame pair for all objects).
Also the way between full and working resolution (masks in, probabilities out)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ....errors import EngineError
from ....pipeline import Ahead
from ....progress import CancelToken
from ...flow import FlowEstimator, FlowPair, gray_histogram, pixel_grid
from .appearance import colour_index
from .params import TrackerParams


@dataclass
class Frame:
    """Everything about the current frame that all objects share."""

    rgb: np.ndarray  # working-resolution RGB uint8
    guide: np.ndarray  # float32 0..1, guide image for the guided filter
    index: np.ndarray  # colour bin per pixel
    flow: FlowPair | None  # None on the first frame of a run
    cut: bool
    background: np.ndarray | None = None  # 0..1: how surely each pixel shows the remembered background

    def window(self, win: tuple[slice, slice]) -> Frame:
        """The same frame cut to `win` (rows, columns): views, no copies."""
        return Frame(self.rgb[win], None if self.guide is None else self.guide[win], self.index[win],
                     None if self.flow is None else self.flow.window(win), self.cut,
                     None if self.background is None else self.background[win])


_GRID: tuple[np.ndarray, np.ndarray] = pixel_grid(0, 0)  # the largest grid made so far (replaced whole)


def grid(f: Frame) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (xs, ys) of the frame, or of a window cut from it (its own coordinates:
    the top-left corner of the largest grid made so far; safe from several threads at once)."""
    global _GRID
    h, w = f.index.shape
    xs, ys = _GRID
    if h > xs.shape[0] or w > xs.shape[1]:
        xs, ys = pixel_grid(max(h, xs.shape[0]), max(w, xs.shape[1]))
        _GRID = xs, ys
    return xs[:h, :w], ys[:h, :w]


AHEAD = 2  # frames prepared beyond the one being tracked, when the run's frames are planned


class FrameSource:
    """Reads frames of one video at working resolution and pairs each with the one before it.

    Once the run's frames are planned, they are prepared in order on a thread of their own, at
    most AHEAD beyond the one being tracked: decoding, resizing and the flow pair depend only on
    the images, and run in OpenCV and PyAV without the GIL, so they take the second core while the
    tracker (graph cut, guided filter) works on the current frame. Same frames, same results."""

    def __init__(self, video, p: TrackerParams) -> None:
        self.video, self.p = video, p
        self.full_h, self.full_w = video.height, video.width
        self.scale = min(1.0, p.work_size / max(self.full_h, self.full_w))
        self.size = (max(8, int(round(self.full_w * self.scale))), max(8, int(round(self.full_h * self.scale))))
        self.long_side = max(self.size)
        self.flow = FlowEstimator(p.flow_preset, p.check_preset, p.check_scale)
        self._prev: tuple[np.ndarray, np.ndarray] | None = None  # gray and histogram of the last frame read
        self._planned: deque[int] = deque()  # frames the preparing thread gives next, in order
        self._ahead: Ahead | None = None

    def plan(self, frames: Sequence[int], cancel: CancelToken | None = None) -> None:
        """Prepare `frames` (the next reads, in order) on a thread, from the frame read last."""
        self.close()
        self._planned = deque(frames)
        self._ahead = Ahead(self._prepare_all(list(frames), self._prev), AHEAD, cancel, name="vta-track-frames")

    def close(self) -> None:
        """Stop preparing (the thread ends after the frame in hand); later reads are made here."""
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None
        self._planned.clear()

    def read(self, index: int) -> Frame:
        """The frame `index`, with the flow from the frame read before it (none for the first)."""
        if self._ahead is not None:
            if self._planned and self._planned[0] == index:
                self._planned.popleft()
                frame, self._prev = next(self._ahead)
                return frame
            self.close()  # off the plan: from here on, frames are prepared on this thread
        frame, self._prev = self._prepare(index, self._prev)
        return frame

    def _prepare_all(self, frames: list[int], prev):
        """_prepare() of each of `frames` in turn, each paired with the one before (on the thread)."""
        for index in frames:
            frame, prev = self._prepare(index, prev)
            yield frame, prev

    def _prepare(self, index: int, prev: tuple[np.ndarray, np.ndarray] | None
                 ) -> tuple[Frame, tuple[np.ndarray, np.ndarray]]:
        """Frame `index` paired with `prev` (the gray and histogram of the frame before it), and
        its own gray and histogram for the next."""
        image = self.video.read(index)
        if image.shape[:2] != (self.full_h, self.full_w):
            raise EngineError(f"frame {index} is {image.shape[1]}x{image.shape[0]}, "
                              f"expected {self.full_w}x{self.full_h}")
        small = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA) if self.scale < 1.0 else image
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        hist = gray_histogram(gray)
        pair = None if prev is None else self.flow.pair(prev[0], gray, prev[1], hist)
        frame = Frame(small, small.astype(np.float32) / 255.0, colour_index(small), pair,
                      cut=pair is not None and pair.cut_score >= self.p.cut_threshold)
        return frame, (gray, hist)

    def shrink_mask(self, oid: int, mask: np.ndarray) -> np.ndarray:
        """A full-resolution mask (or probability) → bool mask at working resolution."""
        mask = np.asarray(mask)
        if mask.shape[:2] != (self.full_h, self.full_w):
            raise EngineError(f"mask of object {oid} is {mask.shape[1]}x{mask.shape[0]}, "
                              f"the video is {self.full_w}x{self.full_h}")
        if self.scale >= 1.0:
            return mask > 0.5 if mask.dtype.kind == "f" else mask.astype(bool)
        small = cv2.resize(mask.astype(np.float32), self.size, interpolation=cv2.INTER_AREA) > 0.5
        full = mask > 0.5 if mask.dtype.kind == "f" else mask.astype(bool)
        if not small.any() and full.any():  # a tiny object: keep at least its centre pixel
            ys, xs = np.nonzero(full)
            small[int(ys.mean() * self.scale), int(xs.mean() * self.scale)] = True
        return small

    def upsample(self, prob: np.ndarray, index: int) -> np.ndarray:
        """A working-resolution probability → float32 at full resolution (optionally edge-snapped)."""
        if self.scale >= 1.0:
            return prob.astype(np.float32, copy=True)
        full = (self.full_w, self.full_h)
        out = cv2.resize(prob, full, interpolation=cv2.INTER_LINEAR)
        if self.p.full_res_snap and out.max() > 0.5:
            guide = self.video.read(index).astype(np.float32) / 255.0
            radius = max(2, int(self.p.full_res_radius * max(full)))
            out = cv2.ximgproc.guidedFilter(guide, out, radius, self.p.full_res_eps)
            out = np.clip(out, 0.0, 1.0)
        return out.astype(np.float32, copy=False)
