"""Reading clips: movies through PyAV, image sequences through OpenImageIO, colour through
OpenColorIO. `open_video` is the one entry point (engine.video_io re-exports it)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import VideoError
from .info import DEFAULT_SEQUENCE_FPS, IMAGE_EXTENSIONS, VideoInfo
from .movie import MovieReader
from .reader import VideoReader
from .sequence import ImageSequenceReader, list_sequence

__all__ = ["DEFAULT_SEQUENCE_FPS", "IMAGE_EXTENSIONS", "ImageSequenceReader", "MovieReader", "VideoError",
           "VideoInfo", "VideoReader", "list_sequence", "open_video"]


def open_video(path: str | os.PathLike, fps: float | None = None, start_number: int | None = None) -> VideoReader:
    """Open a movie file, a folder of frames, or a printf image pattern. `fps` overrides a
    sequence's rate (metadata, else 24); `start_number` numbers a movie's frames from N (the VFX
    convention is 1001) instead of 0; a sequence's numbers are its files'."""
    path = str(path)
    if "%" in path:
        return ImageSequenceReader(list_sequence(path), path, fps)
    p = Path(path)
    if not p.exists():
        raise VideoError(f"video '{path}' does not exist")
    if p.is_dir():
        return ImageSequenceReader(list_sequence(path), path, fps)
    if p.stat().st_size == 0:
        raise VideoError(f"video '{path}' is empty (0 bytes)")
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageSequenceReader([p], path, fps)
    return MovieReader(path, start_number or 0)
