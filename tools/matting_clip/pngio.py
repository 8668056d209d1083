"""PNG files with the standard library (zlib + struct): 8-bit RGB/gray and 16-bit gray.

bpy's image saving goes through colour management and cannot be trusted to write a 16-bit gray
file bit-exactly, and the bpy venv has no OpenCV, so the matting clips are written here. The reader
takes any non-interlaced 8/16-bit gray/RGB/RGBA PNG (all five row filters), so tests can read back
files from other writers too.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (gray, RGB, RGBA)
CHANNELS = {v: k for k, v in COLOUR_TYPES.items()}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an (H, W) or (H, W, C) uint8/uint16 array, C in 1/3/4."""
    a = np.asarray(array)
    if a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"PNG needs uint8 or uint16, got {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    if c not in COLOUR_TYPES:
        raise ValueError(f"PNG needs 1, 3 or 4 channels, got {c}")
    depth = 16 if a.dtype == np.uint16 else 8
    rows = a.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).view(np.uint8)
    # "Sub" filter on every row: each byte minus the byte one pixel to its left (mod 256).
    bpp = c * depth // 8
    sub = rows.copy()
    sub[:, bpp:] = rows[:, bpp:] - rows[:, :-bpp]
    raw = np.concatenate([np.ones((h, 1), np.uint8), sub], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, depth, COLOUR_TYPES[c], 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: a killed run never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_png(path: Path, array: np.ndarray) -> None:
    atomic_write(path, encode_png(array))


def _unfilter(data: bytes, h: int, stride: int, bpp: int) -> np.ndarray:
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    pos = 0
    for y in range(h):
        kind = data[pos]
        line = np.frombuffer(data, np.uint8, stride, pos + 1).astype(np.int32)
        pos += stride + 1
        if kind == 0:
            cur = line
        elif kind == 1:  # left neighbour: a running sum per byte position within the pixel
            cur = (line.reshape(-1, bpp).cumsum(axis=0).ravel()) & 0xFF
        elif kind == 2:
            cur = (line + prev) & 0xFF
        elif kind in (3, 4):  # these depend on the already decoded left neighbour: byte by byte
            cur = np.zeros(stride, np.int32)
            for x in range(stride):
                left = cur[x - bpp] if x >= bpp else 0
                up = prev[x]
                if kind == 3:
                    pred = (left + up) >> 1
                else:
                    upleft = prev[x - bpp] if x >= bpp else 0
                    p = left + up - upleft
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                cur[x] = (line[x] + pred) & 0xFF
        else:
            raise ValueError(f"bad PNG filter type {kind}")
        out[y] = cur
        prev = cur
    return out


def read_png(path: Path) -> np.ndarray:
    """(H, W) or (H, W, C) uint8/uint16 array of a non-interlaced gray/RGB/RGBA PNG."""
    data = Path(path).read_bytes()
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = len(SIGNATURE), [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{path}: no IHDR")
    w, h, depth, ctype, _, _, interlace = header
    if depth not in (8, 16) or ctype not in CHANNELS or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    c = CHANNELS[ctype]
    bpp = c * depth // 8
    rows = _unfilter(zlib.decompress(b"".join(idat)), h, w * bpp, bpp)
    a = rows.view(">u2").astype(np.uint16) if depth == 16 else rows
    a = a.reshape(h, w, c)
    return a[:, :, 0] if c == 1 else a
