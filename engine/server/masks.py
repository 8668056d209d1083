"""Masks on the wire: PNG (any client) or run-length counts (cheap to decode in pure Python).

RLE layout: {"size": [height, width], "counts": [n0, n1, ...]} over the mask in row-major order,
alternating runs of background and object pixels, starting with background (n0 may be 0).
"""

from __future__ import annotations

import base64

import cv2
import numpy as np

from ..errors import EngineError
from ..fileio import decode_mask, encode_mask_png


def rle_encode(mask: np.ndarray) -> dict:
    flat = np.asarray(mask, bool).ravel()
    if flat.size == 0:
        return {"size": list(mask.shape), "counts": []}
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def rle_decode(rle: dict) -> np.ndarray:
    h, w = (int(v) for v in rle["size"])
    counts = np.asarray(rle["counts"], np.int64)
    if counts.sum() != h * w or (counts < 0).any():
        raise EngineError(f"RLE counts sum to {int(counts.sum())}, expected {h * w}")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape(h, w)


def png_bytes(mask: np.ndarray) -> bytes:
    return encode_mask_png(mask)


def encode_mask(mask: np.ndarray, fmt: str) -> dict:
    """The fields a click response carries for the client's chosen format(s)."""
    out: dict = {}
    if fmt in ("rle", "both"):
        out["rle"] = rle_encode(mask)
    if fmt in ("png", "both"):
        out["png_base64"] = base64.b64encode(png_bytes(mask)).decode()
    return out


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's start-of-frame, read without decoding any
    pixels; None when the bytes are neither (or the header is cut short)."""
    if data[:8] == _PNG_SIGNATURE:
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 4 <= len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
                i += 2
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if marker in _JPEG_SOF:
                if i + 9 > len(data):
                    return None
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            if length < 2:
                return None
            i += 2 + length
    return None


def check_mask_header(data: bytes, width: int, height: int) -> None:
    """Refuse a mask upload whose header declares a size other than the clip's, before decoding:
    a 100 KB PNG can declare 30000x30000 pixels and take gigabytes to decode."""
    if not data:
        raise EngineError("the mask upload is empty")
    size = image_header_size(data)
    if size is None:
        raise EngineError("the mask is not a readable PNG/JPEG image (no valid header)")
    if size != (width, height):
        raise EngineError(f"mask is {size[0]}x{size[1]}, the video is {width}x{height}")


def decode_png_mask(data: bytes) -> np.ndarray:
    """An uploaded matte (8/16-bit, gray/RGB/RGBA/palette) → bool, by the engine's one mask
    reader (engine.fileio.decode_mask: above half scale = object)."""
    if not data:
        raise EngineError("the mask upload is empty")
    return decode_mask(data, "the mask")


def preview_jpeg(image: np.ndarray, max_size: int, quality: int = 85) -> bytes:
    """A downscaled frame for remote clients' viewers (RGB in, JPEG bytes out)."""
    h, w = image.shape[:2]
    scale = min(1.0, max_size / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise EngineError("JPEG encoding failed")
    return buf.tobytes()
