"""Movies through PyAV: a packet-timestamp index (a few bytes per frame) gives exact frame counts
and random access; rotation metadata (the display matrix) is honoured, so a phone clip shot
upright is read upright; the colour tags, timecode and pixel aspect are kept for the files the
engine writes back."""

from __future__ import annotations

import bisect
import re

import numpy as np

from ..errors import VideoError
from . import timecode
from .info import DEFAULT_SEQUENCE_FPS, VideoInfo
from .reader import VideoReader


def _short(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.errno == 1:  # FFmpeg's generic AVERROR(-1) on a broken file, not EPERM
        return "the file is corrupt or truncated (FFmpeg could not parse it)"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded frame by its display rotation (degrees counter-clockwise, as PyAV reports
    it): -90 turns it a quarter clockwise."""
    turns = (int(round(rotation / 90.0))) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


def _bit_depth(pix_fmt: str | None) -> int:
    """Bits per component of an FFmpeg pixel format name (yuv422p10le → 10)."""
    match = re.search(r"p(\d{2})(le|be)?$", pix_fmt or "") or re.search(r"(48|64)(le|be)$", pix_fmt or "")
    if not match:
        return 8
    value = int(match.group(1))
    return 16 if value in (48, 64) else value


class MovieReader(VideoReader):
    """A movie file decoded with PyAV (any container/codec FFmpeg reads)."""

    def __init__(self, path: str, start_number: int = 0) -> None:
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
        if int(ctx.width) <= 0 or int(ctx.height) <= 0:
            self._container.close()
            raise VideoError(f"video '{path}' reports no frame size")
        self._decoder = None
        self._next_index = -1
        self.rotation = 0
        self.source_depth = _bit_depth(ctx.pix_fmt)
        raw = self._decode_frame(0)  # proves the stream decodes at all
        self.rotation = int(round(getattr(raw, "rotation", 0) or 0))
        #: colour tags of the source stream, written into the movies made from it (outputs.py)
        self.colour_tags = {k: getattr(raw, k, None) for k in ("color_primaries", "color_trc", "colorspace",
                                                                  "color_range")}
        first = upright(raw.to_ndarray(format="rgb24"), self.rotation)
        count = len(self._pts)
        fps = float(rate) if rate else DEFAULT_SEQUENCE_FPS
        self.info = VideoInfo(
            path=str(path), kind="movie", width=first.shape[1], height=first.shape[0],
            fps=fps, frame_count=count, first_number=start_number,
            codec=str(ctx.name), frame_numbers=list(range(start_number, start_number + count)), padding=0,
            pixel_type="uint16" if self.source_depth > 8 else "uint8", bit_depth=self.source_depth,
            file_format=str(ctx.name), colorspace=_colour_name(raw), rotation=self.rotation,
            timecode=timecode.usable(_timecode_tag(self._container, self._stream), fps),
            pixel_aspect=_pixel_aspect(self._stream.sample_aspect_ratio, self.rotation),
        )
        self._cache.put(0, np.ascontiguousarray(first))

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
        key_pos = self._keyframe_positions[max(0, bisect.bisect_right(self._keyframe_positions, index) - 1)]
        self._container.seek(self._pts[key_pos], stream=self._stream, backward=True, any_frame=False)
        for frame in self._container.decode(self._stream):
            if frame.pts is None:
                continue
            pos = bisect.bisect_left(self._pts, frame.pts)
            if pos < len(self._pts) and self._pts[pos] == frame.pts:
                yield pos, frame

    def _decode_frame(self, index: int):
        """The av.VideoFrame at clip position `index`."""
        if self._decoder is None or index != self._next_index:
            self._decoder = self._frames_from(index)
        try:
            for pos, frame in self._decoder:
                if pos < index:
                    continue
                if pos > index:  # a frame the seek skipped over (broken keyframe flag): restart earlier
                    break
                self._next_index = index + 1
                return frame
        except Exception as exc:
            self._decoder = None
            raise VideoError(f"cannot decode frame {index} of '{self.path}': {_short(exc)}") from None
        self._decoder = None
        return self._decode_linear(index)

    def _decode_linear(self, index: int):
        """Slow path for streams with unreliable keyframe flags: decode from the start."""
        self._container.seek(0, stream=self._stream)
        for frame in self._container.decode(self._stream):
            if frame.pts is not None and frame.pts == self._pts[index]:
                return frame
        raise VideoError(f"frame {index} of '{self.path}' could not be decoded")

    def _decode(self, index: int) -> np.ndarray:
        frame = self._decode_frame(index)
        return upright(np.ascontiguousarray(frame.to_ndarray(format="rgb24")), self.rotation)

    def _decode_source(self, index: int) -> np.ndarray:
        if self.source_depth <= 8:
            return self.read(index)
        frame = self._decode_frame(index)
        return upright(np.ascontiguousarray(frame.to_ndarray(format="rgb48le")), self.rotation)

    def close(self) -> None:
        self._decoder = None
        self._container.close()


def _timecode_tag(container, stream) -> str | None:
    """The movie's `timecode` tag: the video stream's, else the container's (Matroska), else a
    timecode (QuickTime tmcd) data stream's; FFmpeg puts each there, in any letter case."""
    for tags in (stream.metadata, container.metadata, *(s.metadata for s in container.streams)):
        for key, value in tags.items():
            if key.lower() == "timecode":
                return value
    return None


def _pixel_aspect(sar, rotation: int) -> float:
    """A displayed pixel's width over its height from the stream's sample aspect ratio; a movie
    turned a quarter on display has its pixels turned too."""
    if not sar or sar <= 0:
        return 1.0
    aspect = float(sar) if rotation % 180 == 0 else 1.0 / float(sar)
    return round(aspect, 6)


#: FFmpeg's numbers for the common colour tags (libavutil/pixfmt.h), for `info` to print
_PRIMARIES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020", 11: "p3dci", 12: "p3d65"}
_TRANSFER = {1: "bt709", 4: "gamma22", 6: "smpte170m", 8: "linear", 13: "srgb", 14: "bt2020-10",
             16: "pq", 18: "hlg"}
_MATRIX = {0: "rgb", 1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc"}
_UNSPECIFIED = 2


def _colour_name(frame) -> str | None:
    """The colour tags a movie carries, e.g. 'bt709/bt709/bt709 tv'; None when it carries none."""
    values = [getattr(frame, k, None) for k in ("color_primaries", "color_trc", "colorspace")]
    if all(v in (None, _UNSPECIFIED) for v in values):
        return None
    names = [table.get(int(v), str(int(v))) if v not in (None, _UNSPECIFIED) else "?"
             for table, v in zip((_PRIMARIES, _TRANSFER, _MATRIX), values)]
    rng = int(getattr(frame, "color_range", 0) or 0)
    return "/".join(names) + {1: " tv", 2: " full"}.get(rng, "")
