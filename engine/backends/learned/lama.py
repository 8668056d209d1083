"""LaMa inpainter: the classical temporal machinery, with LaMa inventing only the pixels the clip
never shows.

The classical machinery (TemporalInpainting) fills each hole from other frames first and hands only
the never-seen rest to its spatial-fill component; it then carries that fill to the following
frames (its forward clean plate), so LaMa's result does not flicker. LamaInpainter composes that
machinery with `LamaFill` as the component (docs/INPAINTING.md). The model is IOPaint's TorchScript
`big-lama.pt`, called as `model(image [1,3,H,W] 0..1, mask [1,1,H,W] 0/1) -> [1,3,H,W] 0..1` with H
and W padded to a multiple of 8 (symmetric padding, as IOPaint's lama.py does). It runs on a crop
around the hole with context, at most `max_side` pixels long, so 4K frames cost what 1K frames cost.
LaMa runs in float32 even on CUDA: its Fourier convolutions are unreliable in half precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...device import choose_device, describe
from ...errors import EngineError
from ..base import Inpainter
from ..classical.inpainter import InpainterParams, TemporalInpainting
from .weights import require_weights, weights_reason

LAMA_PREFERENCE = ("big_lama",)
PAD_MOD = 8


def context_box(hole: np.ndarray, context: float = 0.5, min_margin: int = 32) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the hole's bounding box grown by `context` of its size (at least
    `min_margin` px) on each side, clipped to the image (pure; unit-tested). LaMa needs surrounding
    texture to continue, but not the whole frame."""
    ys, xs = np.nonzero(hole)
    if len(xs) == 0:
        return None
    h, w = hole.shape
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    my = max(min_margin, int(context * (y1 - y0)))
    mx = max(min_margin, int(context * (x1 - x0)))
    return max(0, y0 - my), min(h, y1 + my), max(0, x0 - mx), min(w, x1 + mx)


def pad_to_multiple(image: np.ndarray, mod: int = PAD_MOD) -> np.ndarray:
    """Symmetric padding of the bottom/right edges to a multiple of `mod`."""
    h, w = image.shape[:2]
    ph, pw = (-h) % mod, (-w) % mod
    pad = ((0, ph), (0, pw)) + ((0, 0),) * (image.ndim - 2)
    return np.pad(image, pad, mode="symmetric")


@dataclass(frozen=True)
class LamaParams(InpainterParams):
    """The temporal machinery's numbers (InpainterParams) plus LaMa's own."""

    weights: str | None = None  # weights file or registry name (default: VTA_LAMA_WEIGHTS, then big_lama)
    max_side: int = 1024  # px: LaMa runs on the crop around the hole scaled to at most this long side
    context: float = 0.5  # × the hole's size: texture kept around it on each side (at least 32 px)


class LamaFill:
    """The SpatialFill that asks LaMa: the hole's bounding box with context, bounded in size, padded
    to LaMa's multiple of 8; only the hole's pixels are pasted back."""

    def __init__(self, model, device, max_side: int, context: float) -> None:
        self.model, self.device, self.max_side, self.context = model, device, max_side, context
        self.calls = 0  # LaMa runs so far (the temporal machinery should need few)
        self.pixels = 0  # hole pixels LaMa has invented so far

    def __call__(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        box = context_box(hole, self.context)
        if box is None:
            return image
        y0, y1, x0, x1 = box
        crop, crop_hole = image[y0:y1, x0:x1], hole[y0:y1, x0:x1]
        ch, cw = crop_hole.shape
        scale = min(1.0, self.max_side / max(ch, cw))
        if scale < 1.0:
            size = (max(PAD_MOD, round(cw * scale)), max(PAD_MOD, round(ch * scale)))
            crop_in = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            hole_in = cv2.resize(crop_hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            hole_in |= cv2.resize(crop_hole.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
        else:
            crop_in, hole_in = crop, crop_hole
        filled = self._run(crop_in, hole_in)
        if filled.shape[:2] != (ch, cw):
            filled = cv2.resize(filled, (cw, ch), interpolation=cv2.INTER_CUBIC)
        out = image.copy()
        region = out[y0:y1, x0:x1]
        region[crop_hole] = filled[crop_hole]
        self.calls += 1
        self.pixels += int(crop_hole.sum())
        return out

    def _run(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """One LaMa call on RGB uint8 (h, w, 3) + bool hole → RGB uint8 (h, w, 3)."""
        import torch

        h, w = hole.shape
        img = pad_to_multiple(image).astype(np.float32) / 255.0
        msk = pad_to_multiple(hole.astype(np.float32))
        with torch.inference_mode():
            t_img = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(self.device)
            t_msk = torch.from_numpy(np.ascontiguousarray(msk))[None, None].to(self.device)
            try:
                result = self.model(t_img, t_msk)
            except Exception as exc:
                raise EngineError(f"LaMa failed on a {w}x{h} crop: {str(exc).splitlines()[0]}") from None
        if tuple(result.shape) != (1, 3, img.shape[0], img.shape[1]):
            raise EngineError(f"LaMa returned shape {tuple(result.shape)}, expected (1, 3, {img.shape[0]}, {img.shape[1]})")
        out = result[0].permute(1, 2, 0).float().cpu().numpy()[:h, :w]
        return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


class LamaInpainter(Inpainter):
    """The classical temporal machinery composed with a LaMa spatial fill."""

    name = "lama"
    learned = True
    Params = LamaParams

    @classmethod
    def availability(cls) -> str | None:
        return weights_reason(("torch",), LAMA_PREFERENCE, "lama_weights")

    def __init__(self, params: LamaParams | None = None, device: str | None = None) -> None:
        self.params = params = params or LamaParams()
        self.weights, path = require_weights("inpainter 'lama'", ("torch",), LAMA_PREFERENCE, "lama_weights",
                                             params.weights)
        import torch

        self.device = choose_device(device)
        try:
            model = torch.jit.load(str(path), map_location=self.device).eval()
        except Exception as exc:  # torch raises many types for a bad file
            raise EngineError(f"cannot load LaMa TorchScript {path.name}: {str(exc).splitlines()[0]}") from None
        self.spatial_fill = LamaFill(model, self.device, params.max_side, params.context)
        self.temporal = TemporalInpainting(params, self.spatial_fill)

    @property
    def last_stats(self) -> dict:
        return self.temporal.last_stats

    def describe(self) -> dict:
        return {"name": self.name, "learned": True, "device": describe(self.device), "dtype": "float32",
                "weights": self.weights, "temporal": "classical"}

    def inpaint(self, video, masks, frames, dilate=8, resize_ratio=1.0, cancel=None):
        return self.temporal.inpaint(video, masks, frames, dilate, resize_ratio, cancel)
