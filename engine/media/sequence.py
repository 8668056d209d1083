"""Image sequences through OpenImageIO: a folder of numbered images or a printf pattern
(`shot.%04d.exr`). Each frame keeps its file's number; a missing number is a gap. The first file's
timecode and pixel aspect stand for the sequence's."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import VideoError
from . import colour, timecode
from .images import ImageHeader, read_rgb
from .info import DEFAULT_SEQUENCE_FPS, IMAGE_EXTENSIONS, VideoInfo, number_gaps, sequence_numbers
from .reader import VideoReader, uint16_to_8


def natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_sequence(path: str) -> list[Path]:
    """Files of an image sequence given as a folder or a printf pattern (e.g. plate.%04d.png)."""
    if "%" in path:
        folder = Path(path).parent
        regex = re.compile("^" + re.sub(r"%0?\d*d", lambda m: r"(\d+)", re.escape(Path(path).name)) + "$")
        if not folder.is_dir():
            return []
        return sorted((f for f in folder.iterdir() if regex.match(f.name)), key=natural_key)
    folder = Path(path)
    return sorted((f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()
                   and not f.name.startswith(".")), key=natural_key)


def to_display8(pixels: np.ndarray, header: ImageHeader) -> np.ndarray:
    """A frame at full depth → the display-referred RGB uint8 the backends take: integers scaled
    down (rounded), floats (scene-linear EXR) through the OCIO processor to sRGB."""
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.uint16:
        return uint16_to_8(pixels)
    return colour.float_to_display8(pixels, colour.linear_space(header.colorspace))


class ImageSequenceReader(VideoReader):
    """A folder of numbered images, or a printf pattern such as shot.%04d.exr."""

    def __init__(self, files: list[Path], path: str, fps: float | None = None) -> None:
        self._init_common()
        if not files:
            raise VideoError(f"no image files found for '{path}'")
        self.files = files
        first, header = read_rgb(files[0])
        self.header = header
        numbers, padding = sequence_numbers([f.name for f in files])
        if fps:
            rate, fps_source = float(fps), "given"
        elif header.fps:
            rate, fps_source = float(header.fps), "metadata"
        else:
            rate, fps_source = DEFAULT_SEQUENCE_FPS, "default"
        self.info = VideoInfo(
            path=str(path), kind="sequence", width=header.width, height=header.height, fps=rate,
            frame_count=len(files), first_number=numbers[0], codec=header.file_format,
            frame_numbers=numbers, padding=padding, gaps=number_gaps(numbers), pixel_type=header.pixel_type,
            bit_depth=header.bit_depth, file_format=header.file_format, colorspace=header.colorspace,
            fps_source=fps_source, timecode=timecode.usable(header.timecode, rate), pixel_aspect=header.pixel_aspect,
        )
        self._cache.put(0, to_display8(first, header))

    def _load(self, index: int) -> np.ndarray:
        pixels, header = read_rgb(self.files[index])
        if pixels.shape[:2] != (self.info.height, self.info.width):
            raise VideoError(f"'{self.files[index].name}' is {pixels.shape[1]}x{pixels.shape[0]}, "
                             f"the sequence is {self.info.width}x{self.info.height}")
        return pixels

    def _decode(self, index: int) -> np.ndarray:
        return to_display8(self._load(index), self.header)

    def _decode_source(self, index: int) -> np.ndarray:
        if self.header.pixel_type == "uint8":  # the display frame is the source: decode it once
            return self.read(index)
        return self._load(index)
