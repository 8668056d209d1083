"""The three backend interfaces. Every backend, classical or learned, implements one of these,
so the pipeline, the server and the CLI never know which model is behind a mask."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Hashable, Iterator, Sequence

import numpy as np

from ..errors import EngineError
from ..progress import CancelToken
from ..video_io import VideoReader
from .params import BackendParams


@dataclass
class SegmentResult:
    mask: np.ndarray  # bool (H, W)
    confidence: float  # 0..1, how sure the segmenter is of this mask


class Backend(ABC):
    kind: str = "?"  # segmenter, tracker or inpainter
    name: str = "?"
    #: True when the backend needs model weights; "auto" prefers available learned backends.
    learned: bool = False
    #: the backend's tuning numbers and switches; unknown option names are an error
    Params: type[BackendParams] = BackendParams

    @classmethod
    def with_options(cls, options: dict | None = None, device: str | None = None) -> "Backend":
        """The one way front ends build a backend: `options` by name (None = default) checked by
        `Params`; `device` only reaches learned backends (classical ones run on the CPU)."""
        params = cls.Params.from_options(f"{cls.kind} '{cls.name}'", options)
        return cls(params, device=device) if cls.learned else cls(params)

    @classmethod
    def availability(cls) -> str | None:
        """None when this backend can run here, else a one-line reason (missing weights, package)."""
        return None

    def describe(self) -> dict:
        return {"name": self.name, "learned": self.learned, "device": getattr(self, "device", "cpu")}


class Segmenter(Backend):
    kind = "segmenter"

    """Frame + clicks (+ the previous mask of this frame) → mask. Expensive per-frame work is cached
    under `cache_key`, so the second click on a frame only pays for the cheap part."""

    @abstractmethod
    def segment(self, image: np.ndarray, points: np.ndarray, labels: np.ndarray,
                prev_mask: np.ndarray | None = None, cache_key: Hashable | None = None) -> SegmentResult:
        """image: RGB uint8 (H, W, 3); points: float (N, 2) x, y in image pixels;
        labels: int (N,) 1 = positive (object), 0 = negative (background)."""

    def prefetch(self, image: np.ndarray, cache_key: Hashable) -> bool:
        """Do the expensive per-frame work for a frame the artist is likely to click next (the one
        under the playhead, its neighbours) and cache it under `cache_key`, so the click itself only
        pays for the cheap part. Returns whether work was done (False: cached already, or nothing
        to do ahead, as here). Must be safe to call from a background thread."""
        return False


class TrackState(ABC):
    """One tracker run in progress: everything carried from one frame to the next (bounded size,
    whatever the clip length). `step` moves it one frame on, in one direction, from the keyframe."""

    def __init__(self, init_frame: int) -> None:
        self.frame = init_frame  # the last frame the state holds masks for
        self.direction = 0  # +1 forward, -1 backward, 0 before the first step

    def step(self, frame: int) -> tuple[dict[int, np.ndarray], dict[int, float]]:
        """The masks on `frame` (next to the last one, same direction as before):
        ({object id: float32 probability (H, W) in 0..1}, {object id: confidence 0..1})."""
        move = frame - self.frame
        if abs(move) != 1 or move == -self.direction:
            raise EngineError(f"a track at frame {self.frame} cannot step to frame {frame} "
                              "(one frame at a time, in one direction)")
        result = self._advance(frame)
        self.frame, self.direction = frame, move
        return result

    @abstractmethod
    def _advance(self, frame: int) -> tuple[dict[int, np.ndarray], dict[int, float]]:
        """The tracker's own work for one step (the frame is already checked)."""

    def plan(self, frames: Sequence[int], cancel: CancelToken | None = None) -> None:
        """The frames the run will step to, in order: a state may prepare them ahead (on another
        core) while it works on the current one. Stepping elsewhere still works."""

    def close(self) -> None:
        """The run is over (or abandoned): stop any work made ahead."""


class Tracker(Backend):
    kind = "tracker"

    """Propagates the masks of one keyframe through consecutive frames in one direction: `start`
    builds the run's state once, each `step` of it gives the next frame's masks."""

    def start(self, video: VideoReader, init_frame: int, init_masks: dict[int, np.ndarray]) -> TrackState:
        """init_masks: object id → bool mask on init_frame. Trackers whose model needs the frames
        ahead (SAM 2 works on windows of them) override `propagate` instead."""
        raise EngineError(f"tracker '{self.name}' runs in windows of frames and has no per-frame state; "
                          "use propagate")

    def propagate(self, video: VideoReader, init_frame: int, init_masks: dict[int, np.ndarray],
                  frames: Sequence[int], cancel: CancelToken | None = None
                  ) -> Iterator[tuple[int, dict[int, np.ndarray], dict[int, float]]]:
        """frames: the frame indices to produce, in order of travel, each adjacent to the previous
        (init_frame ± 1, ± 2, ...). Yields (frame, {object id: float32 probability (H, W) in 0..1},
        {object id: confidence 0..1}); checks `cancel` once per frame, before its work."""
        frames = list(frames)
        if not frames:
            return
        self.check_travel(init_frame, frames)
        state = self.start(video, init_frame, init_masks)
        state.plan(frames, cancel)
        try:
            for frame in frames:
                if cancel is not None:
                    cancel.check()
                probs, confs = state.step(frame)
                yield frame, probs, confs
        finally:
            state.close()  # also when the caller stops early or the step failed

    @staticmethod
    def check_travel(init_frame: int, frames: Sequence[int]) -> None:
        """An EngineError unless `frames` are consecutive, one direction, starting next to
        `init_frame` (what propagate's contract promises and the learned trackers rely on)."""
        step = frames[0] - init_frame if len(frames) else 1
        if abs(step) != 1 or any(b - a != step for a, b in zip(frames, frames[1:])):
            raise EngineError("propagation needs consecutive frames starting next to the keyframe")


class Inpainter(Backend):
    kind = "inpainter"

    """Removes masked objects: yields full-resolution clean frames, original pixels outside the hole."""

    @abstractmethod
    def inpaint(self, video: VideoReader, masks: Callable[[int], np.ndarray], frames: Sequence[int],
                dilate: int = 8, resize_ratio: float = 1.0, cancel: CancelToken | None = None
                ) -> Iterator[tuple[int, np.ndarray]]:
        """masks(frame) → bool (H, W) union of the objects to remove on that frame.
        frames: consecutive frame indices, ascending. Yields (frame, RGB uint8 (H, W, 3)) in order.
        Must process in bounded windows (memory independent of len(frames)) and check cancel per frame."""
