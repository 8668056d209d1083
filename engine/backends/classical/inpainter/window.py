"""The sliding window of prepared frames the clean-plate inpainter draws its sources from.

Each frame is decoded, masked and aligned once, when it enters the window (`radius` frames ahead
of the frame being cleaned), and dropped once it falls `radius` frames behind. So the window holds
at most 2 * radius + 1 frames whatever the clip length (one more for each further frame estimated
at the same time, and while the plates of a block are made, the frames from that block on stay),
and consecutive output frames share almost all their sources: there are no
block boundaries in time, hence no seams.

Frames are prepared in order on a thread of their own (engine.pipeline.Ahead), at most `AHEAD`
beyond the window: decoding, the masks and the camera alignment do not depend on the inpainting,
and mostly run in OpenCV without the GIL, so they take the second core.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from ....errors import EngineError
from ....pipeline import Ahead
from .align import consecutive_homography
from .fields import BoxedMask, dilate_mask

AHEAD = 2  # frames prepared beyond those the window asked for

@dataclass
class PreparedFrame:
    index: int
    full: np.ndarray | None  # RGB uint8 at full resolution, the original pixels (None once output, below full size)
    hole_full: BoxedMask | None  # full resolution: the dilated hole that gets replaced
    base: np.ndarray  # RGB uint8 at working resolution (the same array as `full` at ratio 1)
    hole: BoxedMask  # working resolution
    unusable: BoxedMask  # working resolution: may not serve as a source (the hole plus a safety margin)
    to_first: np.ndarray  # 3x3 homography: this frame's working coordinates → the first frame's
    # a clean plate is its frame with the fill in a box: (box, the box's pixels) over `base`
    patch: tuple[tuple[int, int, int, int], np.ndarray] | None = None

    @property
    def image(self) -> np.ndarray:
        """RGB uint8 at working resolution. A plate's is put together at each use (a copy: the
        window keeps only the box, 8 MB less per plate at 1080p, 8 plates at a time)."""
        if self.patch is None:
            return self.base
        (y0, y1, x0, x1), pixels = self.patch
        image = self.base.copy()
        image[y0:y1, x0:x1] = pixels
        return image

    @property
    def gray(self) -> np.ndarray:
        """The image in gray, made at each use: the alignments need it for a few frames of the
        window at a time, and keeping it for all 61 would take 2 MB each at 1080p."""
        return cv2.cvtColor(self.image, cv2.COLOR_RGB2GRAY)


class FrameWindow:
    def __init__(self, video, masks: Callable[[int], np.ndarray], frames: Sequence[int], radius: int,
                 dilate: int, resize_ratio: float, source_margin: int) -> None:
        self.video, self.masks, self.frames = video, masks, list(frames)
        self.radius, self.dilate, self.ratio, self.source_margin = radius, dilate, resize_ratio, source_margin
        self.items: OrderedDict[int, PreparedFrame] = OrderedDict()
        self._next = 0  # position in `frames` of the next frame to load
        self._prepared: Ahead | None = None  # the frames prepared on their thread, started by the first get
        self._upto = -1  # the window's last frame (set by advance)
        self._cancel = None
        self._lock = threading.Lock()
        self.peak = 0  # most frames ever held at once (for tests and diagnostics)

    def advance(self, current: int, cancel=None, last: int | None = None) -> None:
        """From now on the window is frames current-radius .. last+radius (those in `frames`; `last`
        is `current` unless several frames are estimated at once): older ones are dropped. Newer
        ones are taken as get() asks for them, so the estimate of a frame starts as soon as its
        nearest sources are prepared rather than after all those up to `radius` ahead (31 at the
        start of a shot); the same frames are there when asked for. Safe while other threads get()."""
        with self._lock:
            for index in [i for i in self.items if i < current - self.radius]:
                del self.items[index]
            self._upto, self._cancel = (current if last is None else last) + self.radius, cancel

    def _take(self, index: int) -> None:
        """Take the prepared frames of the window in order: waiting for those up to `index`, and
        any later ones that are ready without waiting (so the preparing thread keeps going)."""
        while self._next < len(self.frames) and self.frames[self._next] <= self._upto:
            if self._prepared is None:
                self._prepared = Ahead(self._prepare_all(), AHEAD, self._cancel, name="vta-window")
            if self.frames[self._next] > index and not self._prepared.ready():
                return
            if self._cancel is not None:
                self._cancel.check()
            frame = next(self._prepared)
            self.items[frame.index] = frame
            self._next += 1
            self.peak = max(self.peak, len(self.items))

    def close(self) -> None:
        """Stop preparing frames (the thread ends after the frame in hand)."""
        if self._prepared is not None:
            self._prepared.close()

    def release_full(self, index: int) -> None:
        """Frame `index` has been output: below full size, its full-resolution copy is no longer
        needed (sources are used at working size), so only frames still to be output hold one."""
        frame = self.items.get(index)
        if frame is not None and self.ratio < 1.0:
            frame.full = frame.hole_full = None

    def get(self, index: int) -> PreparedFrame | None:
        """Frame `index` if it is in the window (waiting for it to be prepared), else None. Safe
        from several threads (frames estimated side by side): one takes frames at a time."""
        frame = self.items.get(index)
        if frame is not None or index > self._upto:
            return frame
        with self._lock:
            if index not in self.items:
                self._take(index)
            return self.items.get(index)

    def _prepare_all(self):
        """Every frame of `frames` prepared, in order (on the preparing thread)."""
        last = last_gray = None
        for index in self.frames:
            last, last_gray = self._prepare(index, last, last_gray)
            yield last

    def _prepare(self, index: int, prev: PreparedFrame | None,
                 prev_gray: np.ndarray | None) -> tuple[PreparedFrame, np.ndarray]:
        """The frame `index`, and its gray image (the next frame's alignment needs it)."""
        full = self.video.read(index)
        h, w = full.shape[:2]
        mask = np.asarray(self.masks(index))
        if mask.shape[:2] != (h, w):
            raise EngineError(f"mask of frame {index} is {mask.shape[1]}x{mask.shape[0]}, the video is {w}x{h}")
        hole_full = dilate_mask(mask.astype(bool), self.dilate)
        if self.ratio < 1.0:
            size = (max(8, round(w * self.ratio)), max(8, round(h * self.ratio)))
            image = cv2.resize(full, size, interpolation=cv2.INTER_AREA)
            # any hole pixel inside a working pixel makes it a hole pixel: never sample the object
            hole = cv2.resize(hole_full.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) > 0
        else:
            image, hole = full, hole_full
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        unusable = dilate_mask(hole, self.source_margin)
        if prev is None:
            to_first = np.eye(3)
        else:
            H, _ok = consecutive_homography(prev_gray, gray, prev.unusable.whole(), unusable)
            to_first = prev.to_first @ H
        # the masks are kept as their boxes' contents, not as full-size masks (2 MB each at 1080p)
        hole_boxed = BoxedMask.of(hole)
        hole_full_boxed = hole_boxed if hole is hole_full else BoxedMask.of(hole_full)
        return PreparedFrame(index, full, hole_full_boxed, image, hole_boxed, BoxedMask.of(unusable), to_first), gray
