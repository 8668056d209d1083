"""Deliverables beyond the per-object mattes: the clean plate at the source's depth, the combined
matte, the multi-layer EXRs, the overlay preview movie, and the clean plate as a lossless movie
carrying the source's colour tags, timecode and pixel aspect; the images written through
OpenImageIO carry their source frame's timecode and pixel aspect (media.info.image_attributes).
Movies are encoded to a temporary file and renamed when complete, so a cancelled run never leaves
a truncated movie that looks finished."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from .errors import EngineError
from .atomic import FILE_MODE
from .fileio import append_jsonl, atomic_write_png, mask_to_png_array, read_coverage, read_mask
from .layout import Layout
from .media import colour
from .media.images import read_rgb, write_image
from .media.info import VideoInfo, frame_timecode, image_attributes
from .media.plate import PlateFormat, compose, to_depth
from .media.sequence import to_display8
from .progress import CancelToken

#: the colour tags of a movie: FFmpeg's numbers (libavutil/pixfmt.h), as PyAV reads and writes them
COLOUR_TAGS = ("color_primaries", "color_trc", "colorspace", "color_range")
_UNSPECIFIED = {"color_primaries": 2, "color_trc": 2, "colorspace": 2, "color_range": 0}

MOVIE_CODECS = {  # name → (FFmpeg encoder, pixel format, container suffix)
    "ffv1": ("ffv1", "bgr0", ".mkv"),
    "prores": ("prores_ks", "yuv444p10le", ".mov"),
    "h264": ("libx264", "yuv420p", ".mp4"),
}


class MovieWriter:
    """Encode RGB frames with PyAV to `path`, atomically (temp file renamed on close)."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float, codec: str = "h264",
                 colour_tags: dict | None = None, timecode: str | None = None, pixel_aspect: float = 1.0) -> None:
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
        self.tags = movie_colour_tags(colour_tags or {}, rgb_coded=pix_fmt in ("bgr0", "rgb24", "gbrp"))
        for key, value in self.tags.items():
            setattr(self.stream.codec_context, key, value)
        if timecode:  # QuickTime gets a tmcd track, Matroska a TIMECODE tag (what ffmpeg -timecode does)
            self.container.metadata["timecode"] = timecode
        if pixel_aspect != 1.0:  # QuickTime stores it (pasp); PyAV cannot set Matroska's display size
            self.stream.codec_context.sample_aspect_ratio = Fraction(pixel_aspect).limit_denominator(1000)

    def write(self, rgb: np.ndarray) -> None:
        h, w = self.stream.height, self.stream.width
        if rgb.shape[:2] != (h, w):
            rgb = cv2.copyMakeBorder(rgb, 0, h - rgb.shape[0], 0, w - rgb.shape[1], cv2.BORDER_REPLICATE)
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb48le" if rgb.dtype == np.uint16
                                                  else "rgb24")
        if "colorspace" in self.tags and self.stream.pix_fmt.startswith("yuv"):
            # convert to YUV with the matrix and range the tags say, so players decode what was meant
            frame = frame.reformat(format=self.stream.pix_fmt, dst_colorspace=self.tags["colorspace"],
                                   dst_color_range=self.tags.get("color_range", 1))
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
            os.chmod(self.tmp, FILE_MODE)
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "MovieWriter":
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.close(ok=exc_type is None)


def movie_colour_tags(source: dict, rgb_coded: bool) -> dict:
    """The colour tags a movie made from a source carries (pure): the source's primaries,
    transfer, matrix and range where it says them; an RGB-coded stream (FFV1 bgr0) is RGB and full
    range whatever the source's matrix was."""
    tags = {k: int(v) for k, v in source.items() if k in COLOUR_TAGS and v is not None and int(v) != _UNSPECIFIED[k]}
    if rgb_coded and tags:
        tags["colorspace"], tags["color_range"] = 0, 2
    return tags


def write_plate(path: Path, image: np.ndarray, fmt: PlateFormat, linear: str, compression: str = "zip",
                attributes: dict | None = None) -> None:
    """One clean-plate frame (already at `fmt`'s depth) to `path`: PNGs through the engine's PNG
    writer, TIFF/DPX/EXR through OpenImageIO with the source frame's `attributes` (timecode, pixel
    aspect: image_attributes); an EXR names its colour space in its metadata."""
    if fmt.ext == ".png":
        atomic_write_png(path, image)
    elif fmt.name == "exr":
        write_image(path, image, "half", compression=compression,
                    attributes={"oiio:ColorSpace": linear, **(attributes or {})})
    else:
        write_image(path, image, fmt.stored, bits=fmt.bits, attributes=attributes)


class PlateWriter:
    """One clean-plate frame from the inpainter's 8-bit fill to disk: composed into the source frame
    at its depth (media.plate.compose), written in the plate's format, then noted in the clean log
    (`record`: the run's parameters and mattes), so a rerun resumes after it. Called on the removal's
    writer thread (engine.pipeline.Behind): it only reads what the main loop shares with it."""

    def __init__(self, video, masks: Callable[[int], np.ndarray], out: Layout, fmt: PlateFormat, linear: str,
                 compression: str, record: dict) -> None:
        self.video, self.masks, self.out, self.fmt = video, masks, out, fmt
        self.linear, self.compression, self.record = linear, compression, record

    def __call__(self, frame: int, fill8: np.ndarray, source8: np.ndarray) -> int:
        """`source8`: the frame as the inpainter read it (at 8 bits it is the source itself)."""
        info = self.video.info
        source = source8 if info.pixel_type == "uint8" else self.video.read_source(frame)
        plate = compose(source, source8, fill8, self.masks(frame), self.linear)
        write_plate(self.out.clean_path(frame, self.fmt.ext), to_depth(plate, self.fmt.dtype, self.linear), self.fmt,
                    self.linear, self.compression, image_attributes(info, frame))
        append_jsonl(self.out.clean_log, {"frame": frame, **self.record})
        return frame


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


def write_mask_products(video, objects: list[tuple[Path | dict, tuple[int, int, int]]], frames: Iterable[int],
                        layout: Layout, combined: bool = True, preview: bool = True,
                        cancel: CancelToken | None = None, progress: Callable | None = None) -> dict:
    """From per-object mattes (a folder, or frame → file): the layout's combined/ and preview.mp4."""
    frames = list(frames)
    files = [(found if isinstance(found, dict) else layout.scan(Path(found)), color) for found, color in objects]
    writer = MovieWriter(layout.preview_path, video.width, video.height, video.fps) if preview else None
    ok = False
    try:
        for n, frame in enumerate(frames):
            if cancel:
                cancel.check()
            masks = []
            for found, color in files:
                path = found.get(frame)
                masks.append((read_mask(path) if path is not None and path.exists()
                               else np.zeros((video.height, video.width), bool), color))
            if combined:
                union = np.zeros((video.height, video.width), bool)
                for m, _ in masks:
                    union |= m
                atomic_write_png(layout.combined_path(frame), mask_to_png_array(union))
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


def write_layers(layout: Layout, objects: list[tuple[str, dict[int, Path]]], frames: Iterable[int],
                 clean: dict[int, Path] | None = None, compression: str = "zip",
                 cancel: CancelToken | None = None, source: VideoInfo | None = None) -> Path:
    """One multi-layer EXR per frame in layers/: each object's coverage as half float in the
    channel `<name>.A`, named as the user named it, and the clean plate as `clean.R/G/B`
    (scene-linear: an integer plate goes through the OCIO processor from sRGB) when there is one;
    with the `source` clip's timecode and pixel aspect for that frame."""
    linear = colour.linear_space()
    for frame in frames:
        if cancel:
            cancel.check()
        channels, planes = [], []
        shape = None
        plate = clean.get(frame) if clean else None
        if plate is not None and plate.exists():
            pixels, header = read_rgb(plate)
            space = colour.linear_space(header.colorspace) if pixels.dtype.kind == "f" else linear
            rgb = to_depth(pixels, "float32", space)
            shape = rgb.shape[:2]
            channels += ["clean.R", "clean.G", "clean.B"]
            planes += [rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]]
        for name, found in objects:
            path = found.get(frame)
            coverage = read_coverage(path) if path is not None and path.exists() else None
            shape = shape or (coverage.shape if coverage is not None else None)
            channels.append(f"{name}.A")
            planes.append(coverage)
        if shape is None:
            continue  # nothing for this frame
        planes = [p if p is not None else np.zeros(shape, np.float32) for p in planes]
        write_image(layout.layers_path(frame), np.stack(planes, axis=2).astype(np.float32), "half",
                    channels=channels, compression=compression,
                    attributes={"oiio:ColorSpace": linear, **(image_attributes(source, frame) if source else {})})
    return layout.layers_dir


def write_clean_movie(clean: dict[int, Path], frames: Iterable[int], fps: float, path: str | Path,
                      codec: str = "ffv1", colour_tags: dict | None = None, source: VideoInfo | None = None) -> Path:
    """The clean plate frames (clip position → file, any format the engine writes) as one lossless
    movie, FFV1 in .mkv or ProRes 4444 in .mov, tagged with the source's colour tags, and with the
    `source` clip's timecode at its first frame and its pixel aspect. A 16-bit plate goes into
    ProRes at its 10 bits; EXR is shown as sRGB through OCIO first."""
    frames = [f for f in frames if f in clean]
    if not frames:
        raise EngineError("no clean plate frames to put in a movie")
    first, _ = read_rgb(clean[frames[0]])
    path = Path(path)
    timecode = frame_timecode(source, frames[0]) if source else None
    aspect = source.pixel_aspect if source else 1.0
    with MovieWriter(path, first.shape[1], first.shape[0], fps, codec, colour_tags, timecode, aspect) as writer:
        for frame in frames:
            pixels, header = read_rgb(clean[frame])
            if not (pixels.dtype == np.uint16 and codec == "prores"):
                pixels = to_display8(pixels, header)
            writer.write(pixels)
    return path
