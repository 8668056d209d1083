"""The clean plate at the source's depth: which format it is written in, and how the 8-bit fill
of the hole is put into the full-depth source frame.

Processing (segmenting, tracking, inpainting) runs on 8-bit display-referred frames. Only the fill
goes through that: every pixel outside the hole is the source's own value at full depth; inside
the hole the fill is converted up (x257 for 16-bit; through the OCIO inverse for scene-linear EXR).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EngineError
from . import colour
from .reader import uint16_to_8

PLATE_FORMATS = ("source", "png8", "png16", "tiff16", "exr", "dpx")


@dataclass(frozen=True)
class PlateFormat:
    name: str  # one of PLATE_FORMATS but "source"
    ext: str
    dtype: str  # what the composed array holds: "uint8", "uint16", "float32"
    stored: str  # what the file stores: "uint8", "uint16", "half"
    bits: int | None = None  # DPX: the bits per sample written (10 for a 10-bit scan)


def plate_format(info, choice: str = "source") -> PlateFormat:
    """The clean plate's format (pure): `choice`, or for "source" the source's own format and
    depth: 8-bit → PNG 8; 16-bit TIFF → TIFF 16; other 16-bit → PNG 16; DPX → DPX at its bits;
    half/float EXR → half EXR."""
    if choice not in PLATE_FORMATS:
        raise EngineError(f"plate format must be one of: {', '.join(PLATE_FORMATS)}")
    if choice == "source":
        if info.pixel_type in ("half", "float"):
            choice = "exr"
        elif info.pixel_type == "uint8":
            choice = "png8"
        elif info.file_format == "dpx":
            choice = "dpx"
        else:
            choice = "tiff16" if info.file_format == "tiff" else "png16"
    if choice == "png8":
        return PlateFormat("png8", ".png", "uint8", "uint8")
    if choice == "png16":
        return PlateFormat("png16", ".png", "uint16", "uint16")
    if choice == "tiff16":
        return PlateFormat("tiff16", ".tif", "uint16", "uint16")
    if choice == "dpx":
        bits = info.bit_depth if info.file_format == "dpx" and info.bit_depth in (8, 10, 12, 16) else 10
        return PlateFormat("dpx", ".dpx", "uint16", "uint16", bits)
    return PlateFormat("exr", ".exr", "float32", "half")


def plate_linear_space(info, plate: str) -> str:
    """The scene-linear colour space float pixels are in: a float source's own (its tag, else
    linear Rec.709), the same for an EXR plate of an integer source; "" when no float is involved
    (no OCIO config is loaded then)."""
    is_float = info.pixel_type in ("half", "float")
    if not is_float and plate != "exr":
        return ""
    return colour.linear_space(info.colorspace if is_float else None)


def to_depth(image: np.ndarray, dtype: str, linear: str) -> np.ndarray:
    """An RGB frame (uint8 display, uint16 display, or float32 in colour space `linear`) in another
    of those types; float ↔ integer goes through the OCIO processor, never a hand-made curve."""
    if image.dtype == np.dtype(dtype):
        return image
    if dtype == "float32":
        shown = image.astype(np.float32) / np.float32(65535.0 if image.dtype == np.uint16 else 255.0)
        return colour.convert(shown, colour.display_space(), linear)
    if image.dtype.kind == "f":
        shown = np.clip(colour.convert(image, linear, colour.display_space()), 0, 1)
        top = 65535.0 if dtype == "uint16" else 255.0
        return (shown * top + 0.5).astype(dtype)
    if dtype == "uint16":
        return image.astype(np.uint16) * np.uint16(257)
    return uint16_to_8(image)


def compose(source: np.ndarray, source8: np.ndarray, fill8: np.ndarray, mask: np.ndarray, linear: str) -> np.ndarray:
    """The clean frame at the source's depth: the source everywhere, the fill (converted up) only in
    the hole, that is where the fill differs from the 8-bit source frame or the matte covers."""
    # per channel plane and through a where-copy: what (fill8 != source8).any(axis=2) and
    # out[hole] = ...[hole] give, ten times faster (NumPy reduces and selects a last axis of 3 slowly)
    differs = fill8 != source8
    hole = mask.astype(bool)  # (a copy)
    for c in range(differs.shape[2]):
        hole |= differs[:, :, c]
    out = source.copy()
    if hole.any():
        np.copyto(out, to_depth(fill8, str(source.dtype), linear), where=np.stack([hole] * out.shape[2], axis=2))
    return out
