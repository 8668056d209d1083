"""The reader interface every clip has: `read` for the backends (RGB uint8, display-referred,
cached) and `read_source` for the outputs (the frame at full depth in its native type)."""

from __future__ import annotations

import threading

import numpy as np

from ..errors import VideoError
from ..lru import LRUCache
from .info import VideoInfo

_CACHE_FRAMES = 8


def uint16_to_8(image: np.ndarray) -> np.ndarray:
    """Full-range 16-bit → 8-bit, rounded (65535 → 255, 257·v → v exactly)."""
    return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


class VideoReader:
    """Random access to the frames of one clip. Thread-safe; use as a context manager or close()."""

    info: VideoInfo

    def __len__(self) -> int:
        return self.info.frame_count

    @property
    def width(self) -> int:
        return self.info.width

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def fps(self) -> float:
        return self.info.fps

    def check_index(self, index: int) -> None:
        if not 0 <= index < self.info.frame_count:
            raise VideoError(f"frame {index} is out of range: the clip has frames 0..{self.info.frame_count - 1}")

    def read(self, index: int) -> np.ndarray:
        """Frame `index` (0-based position in the clip) as an RGB uint8 array of shape (H, W, 3),
        display-referred: what every backend takes."""
        self.check_index(index)
        with self._lock:
            frame = self._cache.get(index)
            if frame is None:
                frame = self._decode(index)
                self._cache.put(index, frame)
            return frame

    def keep(self, frames: int, max_bytes: int) -> int:
        """Keep up to `frames` decoded frames (at least the default few), within `max_bytes`: a
        reader that serves clicks on many frames at once (a shared engine) would otherwise decode
        each again from its keyframe at every click. Returns the count kept."""
        frame_bytes = max(1, self.info.width * self.info.height * 3)
        count = max(_CACHE_FRAMES, min(int(frames), max_bytes // frame_bytes))
        self._cache.resize(count)
        return count

    def read_source(self, index: int) -> np.ndarray:
        """Frame `index` at full depth in its native type: RGB uint8, uint16 or float32 (half and
        float EXR; scene-linear as stored). Not cached: outputs read each frame once."""
        self.check_index(index)
        with self._lock:
            return self._decode_source(index)

    def _decode(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def _decode_source(self, index: int) -> np.ndarray:
        return self._decode(index)

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _init_common(self) -> None:
        self._lock = threading.RLock()
        self._cache: LRUCache[int, np.ndarray] = LRUCache(_CACHE_FRAMES)


class HeldFrames:
    """A clip whose `read` frames are also kept until `take(index)` hands them over: the clean
    plate composes each output frame with the very frame the inpainter decoded, instead of decoding
    it again (in a movie, a seek back from frames the window has read ahead). Frames before the one
    taken are let go, so at most the frames between the reader and the output are held, arrays the
    inpainter's window holds anyway."""

    def __init__(self, video: VideoReader) -> None:
        self.video = video
        self._held: dict[int, np.ndarray] = {}

    def __getattr__(self, name: str):
        return getattr(self.video, name)

    def __len__(self) -> int:
        return len(self.video)

    def read(self, index: int) -> np.ndarray:
        frame = self.video.read(index)
        self._held[index] = frame
        return frame

    def take(self, index: int) -> np.ndarray:
        """Frame `index` as `read` gave it (read now if it was not), no longer held."""
        for older in [i for i in list(self._held) if i < index]:
            self._held.pop(older, None)
        frame = self._held.pop(index, None)
        return self.video.read(index) if frame is None else frame
