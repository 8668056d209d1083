"""Mask, matte and JSON files, written atomically (engine/atomic.py) and read back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_write_bytes


def _png_params(image: np.ndarray, compression: int = 1) -> list[int]:
    """Encoder settings by content. libpng's default tries every row filter on every row; one fixed
    filter reads back the same pixels for 1.5–3× less time and a file of about the same size:
    "up" (each row as its difference from the row above) for pictures, none for mattes, whose
    flat runs zlib packs best as they are (run-length for 8-bit ones). docs/BENCHMARKS.md."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
    if image.ndim == 3:
        return params + [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    return params + ([cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE] if image.dtype == np.uint8 else [])


def encode_png(image: np.ndarray, compression: int = 1) -> bytes:
    """PNG bytes of a gray (H,W), RGB (H,W,3) or RGBA (H,W,4) uint8/uint16 array (RGB order, not
    OpenCV's BGR)."""
    if image.ndim == 3:  # a colour conversion, not a reversed view copied (7 ms a 1080p frame, 50× slower)
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image), _png_params(image, compression))
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def encode_mask_png(mask: np.ndarray) -> bytes:
    """A bool mask as a 1-bit gray PNG: about 14× faster to encode than an 8-bit one and a third of
    its size; every PNG reader (OpenCV, OIIO, Blender, libpng) expands it back to 0/255."""
    ok, buf = cv2.imencode(".png", mask_to_png_array(np.asarray(mask, bool)),
                           [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_BILEVEL, 1])
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


#: A matte pixel is "object" when it is above half of its bit depth's full scale (> 127 of 255,
#: > 32767 of 65535). An image whose values are only 0 and 1 is read as a 0/1 mask.
MASK_THRESHOLD = 0.5


def decode_image(data: bytes | np.ndarray, what: str = "image") -> np.ndarray:
    """PNG/JPEG/... bytes → the image as stored (any bit depth and channel count); EngineError if
    the bytes are not an image."""
    from .errors import EngineError

    buf = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf is not None and buf.size else None
    if image is None:
        raise EngineError(f"{what} is not a readable PNG/JPEG image")
    return image


def matte_channel(image: np.ndarray) -> np.ndarray:
    """The one channel that carries coverage: gray as is; RGBA its alpha when the alpha varies
    (a cut-out), otherwise the brightest colour channel (a white-on-black matte saved as RGB)."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4 and image[:, :, 3].min() < image[:, :, 3].max():
        return image[:, :, 3]
    return image[:, :, :3].max(axis=2) if image.shape[2] >= 3 else image[:, :, 0]


def matte_coverage(image: np.ndarray) -> np.ndarray:
    """A decoded matte → float32 coverage 0..1 (8-bit /255, 16-bit /65535, float as is)."""
    image = matte_channel(image)
    if image.dtype.kind == "f":
        return np.clip(image, 0, 1).astype(np.float32)
    top = 65535.0 if image.dtype == np.uint16 else 255.0
    return image.astype(np.float32) / np.float32(top)


def image_to_mask(image: np.ndarray) -> np.ndarray:
    """A decoded matte → bool mask with the one threshold (MASK_THRESHOLD)."""
    image = matte_channel(image)
    if image.dtype.kind == "f":
        return image > MASK_THRESHOLD
    if image.max() <= 1:
        return image > 0
    top = 65535 if image.dtype == np.uint16 else 255
    return image > int(top * MASK_THRESHOLD)


def decode_mask(data: bytes, what: str = "the mask") -> np.ndarray:
    """Mask image bytes (8/16-bit, gray/RGB/RGBA/palette) → bool mask."""
    return image_to_mask(decode_image(data, what))


def _read_image(path: str | os.PathLike) -> np.ndarray:
    if Path(path).suffix.lower() == ".exr":  # an EXR matte: its A channel (OpenCV reads no EXR)
        from .errors import VideoError
        from .media.images import read_channel
        try:
            return read_channel(path)
        except VideoError:
            raise FileNotFoundError(f"cannot read mask '{path}'") from None
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data is not None and data.size else None
    if image is None:
        raise FileNotFoundError(f"cannot read mask '{path}'")
    return image


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """A matte file → bool mask (see MASK_THRESHOLD); FileNotFoundError when unreadable."""
    return image_to_mask(_read_image(path))


def read_coverage(path: str | os.PathLike) -> np.ndarray:
    """A matte file → float32 coverage 0..1 (a 16-bit probability map keeps its precision)."""
    return matte_coverage(_read_image(path))


MATTE_FORMATS = ("png8", "png16", "exr")


def write_matte(path: str | os.PathLike, coverage: np.ndarray, matte_format: str = "png8",
                compression: str = "zip", attributes: dict | None = None) -> None:
    """A matte from coverage 0..1: png8 a hard matte (coverage >= 0.5 → 255), png16 the soft
    coverage, exr the soft coverage as half float in two channels, Y and A, carrying `attributes`
    (the source frame's timecode and pixel aspect). A is what compositors take as the matte; Y
    (luminance) is what viewers and Blender's sequencer show: with A alone, a Mask modifier fed by
    the matte strip masked everything out (bpy 5.0.1, tests/blender/test_matte.py)."""
    if matte_format == "exr":
        from .media.images import write_image
        value = np.clip(coverage.astype(np.float32), 0, 1)
        write_image(path, np.dstack([value, value]), "half", channels=["Y", "A"], compression=compression,
                    attributes=attributes)
    elif matte_format == "png16":
        atomic_write_png(path, mask_to_png_array(coverage.astype(np.float32), bits=16))
    else:
        atomic_write_png(path, mask_to_png_array(coverage >= 0.5, bits=8))


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
