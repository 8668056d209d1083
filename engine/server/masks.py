"""Masks on the wire: PNG (any client) or run-length counts (cheap to decode in pure Python).

RLE layout: {"size": [height, width], "counts": [n0, n1, ...]} over the mask in row-major order,
alternating runs of background and object pixels, starting with background (n0 may be 0).
"""

from __future__ import annotations

import base64

import cv2
import numpy as np

from ..errors import EngineError
from ..fileio import decode_mask, encode_png, mask_to_png_array


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
    return encode_png(mask_to_png_array(np.asarray(mask, bool)), compression=1)


def encode_mask(mask: np.ndarray, fmt: str) -> dict:
    """The fields a click response carries for the client's chosen format(s)."""
    out: dict = {}
    if fmt in ("rle", "both"):
        out["rle"] = rle_encode(mask)
    if fmt in ("png", "both"):
        out["png_base64"] = base64.b64encode(png_bytes(mask)).decode()
    return out


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
