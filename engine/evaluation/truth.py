"""Ground-truth masks as the shared clips and DAVIS store them: gray PNGs hold one object, colour
PNGs are palette masks whose VOC colours name each object's id. One reader for every evaluation."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def voc_palette() -> np.ndarray:
    """The DAVIS/VOC palette: index → RGB (the bits of the index spread over R, G and B)."""
    pal = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


_PALETTE_LOOKUP = {tuple(int(v) for v in rgb): i for i, rgb in enumerate(voc_palette())}


def read_labels(path: str | Path) -> np.ndarray:
    """A ground-truth mask → int label image (0 = background): label 1 where a gray mask is > 127,
    else the palette index of each pixel's colour (a colour not in the palette is background)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read ground-truth mask {path}")
    if image.ndim == 2:
        return (image > 127).astype(np.int32)
    rgb = image[:, :, 2::-1]
    flat = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    labels = np.zeros(flat.shape, np.int32)
    for value in np.unique(flat):
        key = ((value >> 16) & 255, (value >> 8) & 255, value & 255)
        labels[flat == value] = _PALETTE_LOOKUP.get(key, 0)
    return labels


def object_masks(path: str | Path) -> dict[int, np.ndarray]:
    """A ground-truth mask → {object id: bool mask} of the objects present on that frame."""
    labels = read_labels(path)
    return {int(i): labels == i for i in np.unique(labels) if i != 0}
