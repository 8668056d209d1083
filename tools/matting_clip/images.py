"""Colour and compositing for the matting clips: sRGB <-> linear, resizing, the background frames.

The composite is made in linear light because that is where Cycles' premultiplied RGBA is additive:
a half-covered pixel of a hair is half the hair's light plus half the background's light. Mixing the
sRGB-encoded values instead darkens every soft edge, and the alpha would no longer describe the
composite. The curves are the IEC 61966-2-1 sRGB ones, the same as Blender's "sRGB" with the
"Standard" view transform, so the look matches what Blender would show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(v, np.float64), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def to_uint8(v: np.ndarray) -> np.ndarray:
    return np.round(np.clip(v, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_uint16(v: np.ndarray) -> np.ndarray:
    return np.round(np.clip(v, 0.0, 1.0) * 65535.0).astype(np.uint16)


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) resampling matrix: a triangle filter widened by the shrink factor (antialiased
    when shrinking, linear interpolation when enlarging); the identity when the sizes are equal."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale - 0.5
    x = np.arange(n_in)
    w = np.maximum(0.0, 1.0 - np.abs(x[None, :] - centres[:, None]) / support)
    return w / w.sum(axis=1, keepdims=True)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, C) float image cropped to the target aspect (centred) and resampled to width x height."""
    h, w = image.shape[:2]
    if w * height > h * width * 1.01:  # wider than the target: crop the sides
        cw = round(h * width / height)
        image = image[:, (w - cw) // 2:(w - cw) // 2 + cw]
    elif h * width > w * height * 1.01:  # taller: crop top and bottom
        ch = round(w * height / width)
        image = image[(h - ch) // 2:(h - ch) // 2 + ch]
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image.copy()
    wy, wx = _weights(h, height), _weights(w, width)
    return np.einsum("yh,hwc,xw->yxc", wy, image, wx, optimize=True)


def background_files(clip: Path) -> list[Path]:
    folder = Path(clip) / "frames"
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no frames/*.jpg or *.png in {clip}")
    return files


def load_display_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float64 of an 8-bit sRGB JPEG/PNG as stored (0..1, still sRGB-encoded, top row first).

    Decoded by Blender (the bpy venv has no other image library). For 8-bit images Blender keeps the
    file's bytes and `pixels` gives them divided by 255, without linearising them; the test
    test_background_is_read_as_stored checks that, since composing twice-linearised colours would
    be silently wrong."""
    import bpy

    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = image.size
        channels = image.channels
        buf = np.empty(w * h * channels, np.float32)
        image.pixels.foreach_get(buf)
    finally:
        bpy.data.images.remove(image)
    rgb = buf.reshape(h, w, channels)[::-1, :, :3]
    return np.round(rgb.astype(np.float64) * 255.0) / 255.0  # exactly the stored byte values


def background_linear(path: Path, width: int, height: int) -> np.ndarray:
    """One background frame, linear light, at the clip's size."""
    return resize(srgb_to_linear(load_display_rgb(path)), width, height)


def composite(fg_premult: np.ndarray, alpha: np.ndarray, bg_linear: np.ndarray) -> np.ndarray:
    """8-bit sRGB of `over` in linear light: fg + (1 - a) * bg, fg premultiplied."""
    a = np.clip(alpha, 0.0, 1.0)[:, :, None]
    return to_uint8(linear_to_srgb(fg_premult + (1.0 - a) * bg_linear))
