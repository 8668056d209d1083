"""Atomic file writes: a result on disk is either complete or absent, never truncated.

Every writer goes to a temporary file in the same folder and renames it over the target, so a
cancelled run, a crash or kill -9 leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def encode_png(image: np.ndarray, compression: int = 1) -> bytes:
    """PNG bytes of a gray (H,W) or RGB (H,W,3) uint8/uint16 array (RGB order, not OpenCV's BGR)."""
    if image.ndim == 3:
        image = image[:, :, ::-1]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image), [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def atomic_write_png(path: str | os.PathLike, image: np.ndarray, compression: int = 1) -> None:
    atomic_write_bytes(path, encode_png(image, compression))


def mask_to_png_array(mask: np.ndarray, bits: int = 8) -> np.ndarray:
    """Boolean or [0,1] float coverage → single-channel 8- or 16-bit matte."""
    top = 65535 if bits == 16 else 255
    dtype = np.uint16 if bits == 16 else np.uint8
    if mask.dtype == bool:
        return mask.astype(dtype) * top
    if mask.dtype.kind == "f":
        return np.clip(mask * top + 0.5, 0, top).astype(dtype)
    return mask.astype(dtype)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """A matte PNG (any bit depth, gray/RGB/palette) → boolean mask (non-zero = object)."""
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data is not None and data.size else None
    if image is None:
        raise FileNotFoundError(f"cannot read mask '{path}'")
    if image.ndim == 3:
        image = image.max(axis=2)
    threshold = 32767 if image.dtype == np.uint16 else 127
    return image > threshold if image.max() > 1 else image > 0


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode())


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one line and fsync: a crash loses at most the line being written, which readers skip."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # the torn last line of a crash
    except FileNotFoundError:
        pass
    return records
