"""What a clip is, before any pixel is processed: size, rate, frame numbers, depth, format, colour,
timecode and pixel aspect.

The frame-number helpers are pure functions (tested in tests/test_media.py): a sequence's numbers
come from its file names, and a missing number is a gap that outputs keep as a gap. The metadata
helpers say what each output frame carries over from its source frame.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from . import timecode

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx", ".bmp", ".webp")
DEFAULT_SEQUENCE_FPS = 24.0
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class VideoInfo:
    path: str
    kind: str  # "movie" or "sequence"
    width: int  # as displayed (a rotated movie's upright size)
    height: int
    fps: float
    frame_count: int
    first_number: int  # the first frame's source number (sequences: from its file name)
    codec: str  # the movie codec, or the sequence's file format
    frame_numbers: list[int] = field(default_factory=list)  # source number of each clip position
    padding: int = 0  # digits of the file numbers (0: not numbered)
    gaps: list[int] = field(default_factory=list)  # numbers missing between the first and the last
    pixel_type: str = "uint8"  # "uint8", "uint16", "half", "float": what the source stores
    bit_depth: int = 8  # bits per channel as stored (10 for 10-bit DPX)
    file_format: str = ""  # "png", "tiff", "exr", "dpx", "jpeg", or the movie codec
    colorspace: str | None = None  # from the file's metadata, when it says
    rotation: int = 0  # degrees counter-clockwise the movie is turned by on display
    fps_source: str = "metadata"  # "metadata", "given" (--fps) or "default" (nothing said: 24)
    timecode: str | None = None  # the first frame's SMPTE timecode, when the source carries one
    pixel_aspect: float = 1.0  # a pixel's width over its height as displayed (1: square)

    def to_dict(self) -> dict:
        return asdict(self)


def file_number(name: str) -> tuple[int, int] | None:
    """(number, digits) of the last run of digits in a file name's stem; None when it has none."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    match = _LAST_NUMBER.search(stem)
    return (int(match.group(1)), len(match.group(1))) if match else None


def sequence_numbers(names: list[str]) -> tuple[list[int], int]:
    """(number of each file, padding) for the files of a sequence in clip order. Files that do not
    all carry distinct numbers are numbered by position from 0 (padding 5, today's names)."""
    parsed = [file_number(n) for n in names]
    numbers = [p[0] for p in parsed] if all(parsed) else []
    if not numbers or len(set(numbers)) != len(numbers) or numbers != sorted(numbers):
        return list(range(len(names))), 5
    return numbers, min(p[1] for p in parsed)


def number_gaps(numbers: list[int]) -> list[int]:
    """The numbers missing between the first and the last (sorted input)."""
    have = set(numbers)
    return [n for n in range(numbers[0], numbers[-1] + 1) if n not in have] if numbers else []


def describe_gaps(gaps: list[int]) -> str:
    """'1004, 1010-1012' from [1004, 1010, 1011, 1012]."""
    runs: list[list[int]] = []
    for n in gaps:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def frame_timecode(info: VideoInfo, frame: int) -> str | None:
    """Clip position `frame`'s own timecode: the first frame's plus the frame's distance from it in
    source numbers (so a gap in a sequence skips its timecodes too); None without a timecode."""
    if not info.timecode:
        return None
    distance = info.frame_numbers[frame] - info.first_number if info.frame_numbers else frame
    return timecode.offset(info.timecode, distance, info.fps)


def image_attributes(info: VideoInfo, frame: int) -> dict:
    """The OpenImageIO metadata an output image of clip position `frame` carries from its source:
    the pixel aspect when it is not square, the frame's timecode when the source has one. Empty
    for most clips, so their outputs stay exactly as before."""
    attributes: dict = {}
    if info.pixel_aspect != 1.0:
        attributes["PixelAspectRatio"] = float(info.pixel_aspect)
    code = frame_timecode(info, frame)
    if code:
        attributes["smpte:TimeCode"] = code
    return attributes
