"""Lazy, frame-accurate video access for movies (PyAV) and image sequences.

Nothing here holds more than a handful of decoded frames: a packet-timestamp index (a few bytes
per frame) gives exact frame counts and random access, and a small LRU keeps the neighbours of the
frame last asked for. Frames come out as RGB uint8 arrays, the one format the backends take.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # must precede the cv2 import
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from .errors import VideoError  # noqa: E402
from .lru import LRUCache  # noqa: E402

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp")
DEFAULT_SEQUENCE_FPS = 24.0
_CACHE_FRAMES = 8


@dataclass(frozen=True)
class VideoInfo:
    path: str
    kind: str  # "movie" or "sequence"
    width: int
    height: int
    fps: float
    frame_count: int
    first_number: int  # number in the first file's name for sequences, 0 for movies
    codec: str

    def to_dict(self) -> dict:
        return asdict(self)


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, BGR(A), 16-bit, float) → contiguous RGB uint8."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1])


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

    def read(self, index: int) -> np.ndarray:
        """Frame `index` (0-based position in the clip) as an RGB uint8 array of shape (H, W, 3)."""
        if not 0 <= index < self.info.frame_count:
            raise VideoError(f"frame {index} is out of range: the clip has frames 0..{self.info.frame_count - 1}")
        with self._lock:
            frame = self._cache.get(index)
            if frame is None:
                frame = self._decode(index)
                self._cache.put(index, frame)
            return frame

    def _decode(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _init_common(self) -> None:
        self._lock = threading.RLock()
        self._cache: LRUCache[int, np.ndarray] = LRUCache(_CACHE_FRAMES)


class ImageSequenceReader(VideoReader):
    """A folder of numbered images, or a printf pattern such as shot.%04d.exr."""

    def __init__(self, files: list[Path], path: str, fps: float = DEFAULT_SEQUENCE_FPS) -> None:
        self._init_common()
        if not files:
            raise VideoError(f"no image files found for '{path}'")
        self.files = files
        first = self._load(files[0])
        match = re.search(r"(\d+)(?!.*\d)", files[0].stem)
        self.info = VideoInfo(
            path=str(path), kind="sequence", width=first.shape[1], height=first.shape[0], fps=float(fps),
            frame_count=len(files), first_number=int(match.group(1)) if match else 0,
            codec=files[0].suffix.lstrip(".").lower(),
        )
        self._cache.put(0, first)

    @staticmethod
    def _load(file: Path) -> np.ndarray:
        data = np.fromfile(str(file), dtype=np.uint8) if file.exists() else None
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data is not None and data.size else None
        if image is None:
            raise VideoError(f"cannot read image '{file}': missing, empty or corrupt")
        return to_rgb8(image)

    def _decode(self, index: int) -> np.ndarray:
        image = self._load(self.files[index])
        if image.shape[:2] != (self.info.height, self.info.width):
            raise VideoError(f"'{self.files[index].name}' is {image.shape[1]}x{image.shape[0]}, "
                             f"the sequence is {self.info.width}x{self.info.height}")
        return image


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class MovieReader(VideoReader):
    """A movie file decoded with PyAV (any container/codec FFmpeg reads)."""

    def __init__(self, path: str) -> None:
        import av

        self._init_common()
        self.path = path
        try:
            self._container = av.open(path)
        except Exception as exc:  # PyAV raises many error types for bad files
            raise VideoError(f"cannot open video '{path}': {_short(exc)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise VideoError(f"'{path}' has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        try:
            self._pts, self._keyframe_positions = self._index_packets()
        except Exception as exc:
            self._container.close()
            raise VideoError(f"cannot read video '{path}': {_short(exc)}") from None
        if not self._pts:
            self._container.close()
            raise VideoError(f"video '{path}' has no frames")
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        ctx = self._stream.codec_context
        self.info = VideoInfo(
            path=str(path), kind="movie", width=int(ctx.width), height=int(ctx.height),
            fps=float(rate) if rate else DEFAULT_SEQUENCE_FPS, frame_count=len(self._pts), first_number=0,
            codec=str(ctx.name),
        )
        if self.info.width <= 0 or self.info.height <= 0:
            raise VideoError(f"video '{path}' reports no frame size")
        self._decoder = None
        self._next_index = -1
        first = self._decode(0)  # proves the stream decodes at all, and warms the cache
        self._cache.put(0, first)

    def _index_packets(self) -> tuple[list[int], list[int]]:
        """Presentation timestamps of every frame in display order, and the positions of keyframes."""
        entries: list[tuple[int, bool]] = []
        for packet in self._container.demux(self._stream):
            if packet.size == 0 or packet.pts is None:
                continue
            entries.append((int(packet.pts), bool(packet.is_keyframe)))
        self._container.seek(0, stream=self._stream)
        entries.sort()
        pts = [p for p, _ in entries]
        keys = [i for i, (_, k) in enumerate(entries) if k] or [0]
        return pts, keys

    def _frames_from(self, index: int):
        """Seek to the keyframe at or before `index` and yield (position, frame) in display order."""
        import bisect

        key_pos = self._keyframe_positions[max(0, bisect.bisect_right(self._keyframe_positions, index) - 1)]
        self._container.seek(self._pts[key_pos], stream=self._stream, backward=True, any_frame=False)
        for frame in self._container.decode(self._stream):
            if frame.pts is None:
                continue
            pos = bisect.bisect_left(self._pts, frame.pts)
            if pos < len(self._pts) and self._pts[pos] == frame.pts:
                yield pos, frame

    def _decode(self, index: int) -> np.ndarray:
        if self._decoder is None or index != self._next_index:
            self._decoder = self._frames_from(index)
        try:
            for pos, frame in self._decoder:
                if pos < index:
                    continue
                if pos > index:  # a frame the seek skipped over (broken keyframe flag): restart earlier
                    break
                self._next_index = index + 1
                return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
        except Exception as exc:
            self._decoder = None
            raise VideoError(f"cannot decode frame {index} of '{self.path}': {_short(exc)}") from None
        self._decoder = None
        return self._decode_linear(index)

    def _decode_linear(self, index: int) -> np.ndarray:
        """Slow path for streams with unreliable keyframe flags: decode from the start."""
        self._container.seek(0, stream=self._stream)
        for frame in self._container.decode(self._stream):
            if frame.pts is not None and frame.pts == self._pts[index]:
                return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
        raise VideoError(f"frame {index} of '{self.path}' could not be decoded")

    def close(self) -> None:
        self._decoder = None
        self._container.close()


def _short(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.errno == 1:  # FFmpeg's generic AVERROR(-1) on a broken file, not EPERM
        return "the file is corrupt or truncated (FFmpeg could not parse it)"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def list_sequence(path: str) -> list[Path]:
    """Files of an image sequence given as a folder or a printf pattern (e.g. plate.%04d.png)."""
    if "%" in path:
        folder = Path(path).parent
        regex = re.compile("^" + re.sub(r"%0?\d*d", lambda m: r"(\d+)", re.escape(Path(path).name)) + "$")
        if not folder.is_dir():
            return []
        return sorted((f for f in folder.iterdir() if regex.match(f.name)), key=_natural_key)
    folder = Path(path)
    return sorted((f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()), key=_natural_key)


def open_video(path: str | os.PathLike, fps: float | None = None) -> VideoReader:
    """Open a movie file, a folder of frames, or a printf image pattern."""
    path = str(path)
    if "%" in path:
        return ImageSequenceReader(list_sequence(path), path, fps or DEFAULT_SEQUENCE_FPS)
    p = Path(path)
    if not p.exists():
        raise VideoError(f"video '{path}' does not exist")
    if p.is_dir():
        return ImageSequenceReader(list_sequence(path), path, fps or DEFAULT_SEQUENCE_FPS)
    if p.stat().st_size == 0:
        raise VideoError(f"video '{path}' is empty (0 bytes)")
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageSequenceReader([p], path, fps or DEFAULT_SEQUENCE_FPS)
    return MovieReader(path)
