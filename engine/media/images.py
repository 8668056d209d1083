"""Single images through OpenImageIO: the header before any pixel (size, channels, type, depth,
colour space, rate, timecode, pixel aspect), the pixels at full depth, and atomic writes of PNG/TIFF/EXR/DPX.

OpenImageIO reads what compositors hand over (EXR half/float and multi-part, DPX 10-bit,
TIFF/PNG 8/16, JPEG); OpenCV stays for processing and for the 8/16-bit PNGs the engine writes.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import publish_file
from ..errors import VideoError
from . import timecode

FORMAT_NAMES = {"openexr": "exr", "tiff": "tiff", "png": "png", "jpeg": "jpeg", "dpx": "dpx", "bmp": "bmp",
                "webp": "webp"}
EXR_COMPRESSIONS = ("zip", "piz", "dwaa")


@dataclass(frozen=True)
class ImageHeader:
    width: int
    height: int
    channels: tuple[str, ...]
    pixel_type: str  # "uint8", "uint16", "half", "float"
    bit_depth: int
    file_format: str  # "exr", "dpx", "tiff", "png", "jpeg", ...
    colorspace: str | None
    fps: float | None
    timecode: str | None = None  # EXR timeCode, DPX header timecode (as OpenImageIO reads them)
    pixel_aspect: float = 1.0


def pixel_type_of(oiio_format: str) -> str:
    """OpenImageIO's type name → the pixel type the engine reports and reads it as."""
    if oiio_format == "uint8":
        return "uint8"
    if oiio_format == "half":
        return "half"
    if oiio_format in ("float", "double"):
        return "float"
    return "uint16"


def _oiio():
    import OpenImageIO as oiio
    return oiio


def _fps(spec) -> float | None:
    value = spec.getattribute("FramesPerSecond")
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[1]:
        value = value[0] / value[1]
    try:
        value = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return value if value and 0 < value < 1000 else None


def _header(inp, spec) -> ImageHeader:
    ptype = pixel_type_of(str(spec.format))
    bits = spec.getattribute("oiio:BitsPerSample")
    bits = int(bits) if isinstance(bits, int) and bits > 0 else {"uint8": 8, "uint16": 16, "half": 16, "float": 32}[ptype]
    colorspace = spec.get_string_attribute("oiio:ColorSpace") or None
    fmt = FORMAT_NAMES.get(inp.format_name(), inp.format_name())
    return ImageHeader(spec.width, spec.height, tuple(spec.channelnames), ptype, bits, fmt, colorspace, _fps(spec),
                       timecode.unpack_smpte(spec.getattribute("smpte:TimeCode")), _pixel_aspect(spec))


def _pixel_aspect(spec) -> float:
    """A pixel's width over its height; 1 when the file does not say (or says nonsense)."""
    value = spec.getattribute("PixelAspectRatio")
    return round(float(value), 6) if isinstance(value, float) and 0.01 < value < 100 else 1.0


def _open(path: Path):
    oiio = _oiio()
    if not path.is_file() or path.stat().st_size == 0:
        raise VideoError(f"cannot read image '{path}': missing, empty or corrupt")
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        oiio.geterror()
        raise VideoError(f"cannot read image '{path}': missing, empty or corrupt")
    return inp


def read_header(path: str | os.PathLike) -> ImageHeader:
    """Size, channels, type, depth and metadata of the first part, without decoding pixels."""
    path = Path(path)
    inp = _open(path)
    try:
        return _header(inp, inp.spec())
    finally:
        inp.close()


def rgb_channels(names: tuple[str, ...]) -> list[int]:
    """Indices of the channels that make the colour picture: R, G, B by name, else the first three,
    else the first channel three times (gray)."""
    upper = [n.upper() for n in names]
    if all(c in upper for c in "RGB"):
        return [upper.index(c) for c in "RGB"]
    return [0, 1, 2] if len(names) >= 3 else [0, 0, 0]


def read_rgb(path: str | os.PathLike) -> tuple[np.ndarray, ImageHeader]:
    """The first part's colour picture at full depth: (H, W, 3) uint8, uint16 or float32 (half and
    float alike), and its header."""
    path = Path(path)
    inp = _open(path)
    try:
        spec = inp.spec()
        header = _header(inp, spec)
        want = {"uint8": "uint8", "uint16": "uint16"}.get(header.pixel_type, "float")
        pixels = inp.read_image(0, 0, 0, spec.nchannels, want)
    finally:
        inp.close()
    if pixels is None or pixels.size == 0:
        _oiio().geterror()
        raise VideoError(f"cannot read image '{path}': missing, empty or corrupt")
    pixels = pixels.reshape(spec.height, spec.width, spec.nchannels)
    channels = rgb_channels(header.channels)
    first = channels[0]
    if channels == [first, first + 1, first + 2]:  # in order: a slice (a view, for plain RGB: no copy)
        return np.ascontiguousarray(pixels[:, :, first:first + 3]), header
    return np.ascontiguousarray(pixels[:, :, channels]), header  # a fancy index: 5 ms a 480p frame


def read_channel(path: str | os.PathLike, name: str | None = None) -> np.ndarray:
    """One channel of the first part as float32 (H, W): `name` (e.g. `car.A`), else the alpha or
    the only channel; for mattes written as EXR."""
    path = Path(path)
    inp = _open(path)
    try:
        spec = inp.spec()
        names = list(spec.channelnames)
        if name is None:
            index = names.index("A") if "A" in names else 0
        elif name in names:
            index = names.index(name)
        else:
            raise VideoError(f"'{path}' has no channel '{name}' (has: {', '.join(names)})")
        pixels = inp.read_image(0, 0, index, index + 1, "float")
    finally:
        inp.close()
    return np.ascontiguousarray(pixels.reshape(spec.height, spec.width))


def write_image(path: str | os.PathLike, pixels: np.ndarray, pixel_type: str, channels: list[str] | None = None,
                compression: str | None = None, bits: int | None = None, attributes: dict | None = None) -> None:
    """Write an image through OpenImageIO, atomically: to `.<name>.<random>.tmp` in the same folder
    (created with the process umask), flushed, then renamed over the target. The format follows the
    file's extension; `pixel_type` is what is stored ("uint8", "uint16", "half", "float").
    `attributes` are OpenImageIO metadata; `smpte:TimeCode` is given as text ("01:00:00:12")."""
    oiio = _oiio()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = pixels if pixels.ndim == 3 else pixels[:, :, None]
    h, w, n = pixels.shape
    out = oiio.ImageOutput.create(str(path))
    if out is None:
        raise OSError(f"OpenImageIO cannot write '{path.suffix}' files: {oiio.geterror()}")
    spec = oiio.ImageSpec(w, h, n, pixel_type)
    if channels:
        spec.channelnames = tuple(channels)
    if compression:
        spec.attribute("compression", compression)
    if bits:
        spec.attribute("oiio:BitsPerSample", int(bits))
    for key, value in (attributes or {}).items():
        if key == "smpte:TimeCode":
            spec.attribute(key, oiio.TypeDesc("timecode"), timecode.pack_smpte(value))
        else:
            spec.attribute(key, value)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if not out.open(str(tmp), spec) or not out.write_image(np.ascontiguousarray(pixels)):
            raise OSError(f"cannot write '{path}': {out.geterror() or oiio.geterror()}")
        out.close()
        publish_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
