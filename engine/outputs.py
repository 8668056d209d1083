"""Deliverables beyond the per-object mattes: the combined matte, the overlay preview movie, and the
clean plate as a lossless movie. Movies are encoded to a temporary file and renamed when complete,
so a cancelled run never leaves a truncated movie that looks finished."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from .errors import EngineError
from .fileio import atomic_write_png, mask_to_png_array, read_mask
from .progress import CancelToken
from .session import Layout, frame_name

MOVIE_CODECS = {  # name → (FFmpeg encoder, pixel format, container suffix)
    "ffv1": ("ffv1", "bgr0", ".mkv"),
    "prores": ("prores_ks", "yuv444p10le", ".mov"),
    "h264": ("libx264", "yuv420p", ".mp4"),
}


class MovieWriter:
    """Encode RGB frames with PyAV to `path`, atomically (temp file renamed on close)."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float, codec: str = "h264") -> None:
        import av
        from fractions import Fraction

        if codec not in MOVIE_CODECS:
            raise EngineError(f"unknown movie codec '{codec}' (known: {', '.join(MOVIE_CODECS)})")
        encoder, pix_fmt, _ = MOVIE_CODECS[codec]
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._av = av
        self.container = av.open(str(self.tmp), "w")
        rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream(encoder, rate=rate)
        # 4:2:0 needs even sizes; pad rather than crop so no pixel is lost
        self.stream.width, self.stream.height = width + width % 2 if codec == "h264" else width, \
            height + height % 2 if codec == "h264" else height
        self.stream.pix_fmt = pix_fmt
        if codec == "h264":
            self.stream.options = {"crf": "18", "preset": "veryfast"}
        elif codec == "prores":
            self.stream.options = {"profile": "4"}  # 4444

    def write(self, rgb: np.ndarray) -> None:
        h, w = self.stream.height, self.stream.width
        if rgb.shape[:2] != (h, w):
            rgb = cv2.copyMakeBorder(rgb, 0, h - rgb.shape[0], 0, w - rgb.shape[1], cv2.BORDER_REPLICATE)
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self, ok: bool = True) -> None:
        try:
            if ok:
                for packet in self.stream.encode():
                    self.container.mux(packet)
        finally:
            self.container.close()
        if ok:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "MovieWriter":
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.close(ok=exc_type is None)


def overlay(image: np.ndarray, masks: Iterable[tuple[np.ndarray, tuple[int, int, int]]], alpha: float = 0.5) -> np.ndarray:
    """Tint each object's mask with its colour and outline it: the preview an artist scrubs through."""
    out = image.astype(np.float32)
    contours = []
    for mask, color in masks:
        m = mask.astype(bool)
        out[m] = out[m] * (1 - alpha) + np.array(color, np.float32) * alpha
        found, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contours.append((found, color))
    out = np.clip(out, 0, 255).astype(np.uint8)
    for found, color in contours:
        cv2.drawContours(out, found, -1, tuple(int(c) for c in color), 2, cv2.LINE_AA)
    return out


def write_mask_products(video, objects: list[tuple[Path, tuple[int, int, int]]], frames: Iterable[int],
                        layout: Layout, combined: bool = True, preview: bool = True,
                        cancel: CancelToken | None = None, progress: Callable | None = None) -> dict:
    """From per-object matte folders: the layout's combined/<frame>.png and preview.mp4."""
    frames = list(frames)
    writer = MovieWriter(layout.preview_path, video.width, video.height, video.fps) if preview else None
    ok = False
    try:
        for n, frame in enumerate(frames):
            if cancel:
                cancel.check()
            masks = []
            for folder, color in objects:
                path = folder / frame_name(frame)
                masks.append((read_mask(path) if path.exists() else np.zeros((video.height, video.width), bool), color))
            if combined:
                union = np.zeros((video.height, video.width), bool)
                for m, _ in masks:
                    union |= m
                atomic_write_png(layout.combined_dir / frame_name(frame), mask_to_png_array(union))
            if writer:
                writer.write(overlay(video.read(frame), masks))
            if progress:
                progress(n + 1, len(frames), frame)
        ok = True
    finally:
        if writer:
            writer.close(ok)
    return {"combined": str(layout.combined_dir) if combined else None,
            "preview": str(layout.preview_path) if preview else None}


def write_clean_movie(clean_dir: str | Path, frames: Iterable[int], fps: float, path: str | Path,
                      codec: str = "ffv1") -> Path:
    """The clean plate PNG sequence as one lossless movie (FFV1 in .mkv or ProRes 4444 in .mov)."""
    frames = list(frames)
    first = cv2.imread(str(Path(clean_dir) / frame_name(frames[0])), cv2.IMREAD_COLOR)
    if first is None:
        raise EngineError(f"no clean plate frames in '{clean_dir}'")
    path = Path(path)
    with MovieWriter(path, first.shape[1], first.shape[0], fps, codec) as writer:
        for frame in frames:
            bgr = cv2.imread(str(Path(clean_dir) / frame_name(frame)), cv2.IMREAD_COLOR)
            writer.write(bgr[:, :, ::-1])
    return path
