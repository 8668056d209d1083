"""SAM click segmenter: segment-anything's image encoder in torch, its mask decoder in onnxruntime.

Why split: the encoder is the expensive part (one pass per frame, then cached), the decoder is
cheap and runs once per click, so it goes through onnxruntime (CUDA provider when the GPU build is
installed) exported once with segment-anything's own `SamOnnxModel` and cached next to the
weights under the weights' sha256. Embeddings are kept in a small LRU keyed by the caller's
`cache_key`; `prefetch` fills it for the frames the user is likely to click next.

The checkpoint architecture is read from the state dict itself (embedding width, depth, window
and global-attention blocks all show in tensor shapes), so official ViT-B/L/H files go through
segment-anything's `sam_model_registry` and any smaller model with the same keys (the tests'
tiny one) builds with the same modules.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Hashable

import cv2
import numpy as np

import models

from ...device import choose_device, choose_dtype, describe, onnx_providers, torch_dtype
from ...errors import EngineError
from ...lru import LRUCache
from ..base import SegmentResult, Segmenter
from ..params import BackendParams
from .weights import require_weights, weights_reason

# Preference when several are present: the user fetched the big one on purpose.
SAM_PREFERENCE = ("sam_vit_h", "sam_vit_l", "sam_vit_b")
PIXEL_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
PIXEL_STD = np.array([58.395, 57.12, 57.375], np.float32)
ONNX_OPSET = 17
MASK_LOGIT = 10.0  # magnitude of logits made from a binary mask (SAM's own are typically 5..20)

PACKAGES = ("torch", "segment_anything", "onnxruntime", "onnx")
KNOWN_ARCHS = {  # (embed_dim, depth) → segment-anything registry name
    (768, 12): "vit_b",
    (1024, 24): "vit_l",
    (1280, 32): "vit_h",
}


# ---- pure mappings (unit-tested) -----------------------------------------------------------------
def resized_shape(h: int, w: int, longest: int) -> tuple[int, int]:
    """Shape of an (h, w) image scaled so its longest side is `longest` (SAM's ResizeLongestSide)."""
    scale = longest / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def points_to_model(points: np.ndarray, h: int, w: int, longest: int) -> np.ndarray:
    """Image pixel (x, y) → coordinates in the resized frame the decoder expects."""
    nh, nw = resized_shape(h, w, longest)
    pts = np.asarray(points, np.float32).reshape(-1, 2).copy()
    pts[:, 0] *= nw / w
    pts[:, 1] *= nh / h
    return pts


def prepare_image(image: np.ndarray, img_size: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) → normalised, zero-padded float32 (3, img_size, img_size)."""
    h, w = image.shape[:2]
    nh, nw = resized_shape(h, w, img_size)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR if nh > h else cv2.INTER_AREA)
    out = np.zeros((img_size, img_size, 3), np.float32)
    out[:nh, :nw] = (resized.astype(np.float32) - PIXEL_MEAN) / PIXEL_STD
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def lowres_to_image(logits: np.ndarray, h: int, w: int, img_size: int) -> np.ndarray:
    """Decoder low-res logits (L, L) → logits (h, w) over the original image: upscale to the padded
    model frame, drop the padding, scale to the image (what SAM's postprocess_masks does)."""
    full = cv2.resize(logits.astype(np.float32), (img_size, img_size), interpolation=cv2.INTER_LINEAR)
    nh, nw = resized_shape(h, w, img_size)
    return cv2.resize(full[:nh, :nw], (w, h), interpolation=cv2.INTER_LINEAR)


def mask_to_lowres(mask: np.ndarray, img_size: int, lowres: int) -> np.ndarray:
    """Binary image mask → (lowres, lowres) logits in the decoder's frame, for `mask_input`."""
    h, w = mask.shape
    nh, nw = resized_shape(h, w, img_size)
    frame = np.zeros((img_size, img_size), np.float32)
    frame[:nh, :nw] = cv2.resize(mask.astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
    small = cv2.resize(frame, (lowres, lowres), interpolation=cv2.INTER_AREA)
    return (small * 2.0 - 1.0) * MASK_LOGIT


def sam_arch_from_shapes(shapes: dict[str, tuple[int, ...]]) -> dict:
    """The architecture parameters of a segment-anything state dict, read from tensor shapes."""
    try:
        grid, embed_dim = shapes["image_encoder.pos_embed"][1], shapes["image_encoder.pos_embed"][3]
        patch = shapes["image_encoder.patch_embed.proj.weight"][2]
        out_chans = shapes["image_encoder.neck.0.weight"][0]
    except KeyError as exc:
        raise EngineError(f"not a segment-anything checkpoint (no {exc.args[0]})") from None
    blocks = sorted({int(m.group(1)) for k in shapes if (m := re.match(r"image_encoder\.blocks\.(\d+)\.", k))})
    global_idx, window, head_dim = [], 14, None
    for i in blocks:
        rel = shapes.get(f"image_encoder.blocks.{i}.attn.rel_pos_h")
        if rel is None:
            raise EngineError("unsupported SAM checkpoint: image encoder without relative positions")
        size = (rel[0] + 1) // 2
        head_dim = rel[1]
        if size == grid:
            global_idx.append(i)
        else:
            window = size
    dec_layers = {int(m.group(1)) for k in shapes if (m := re.match(r"mask_decoder\.transformer\.layers\.(\d+)\.", k))}
    iou_layers = {int(m.group(1)) for k in shapes if (m := re.match(r"mask_decoder\.iou_prediction_head\.layers\.(\d+)\.", k))}
    return {
        "img_size": grid * patch,
        "patch_size": patch,
        "embed_dim": embed_dim,
        "depth": len(blocks),
        "num_heads": embed_dim // head_dim,
        "mlp_ratio": shapes["image_encoder.blocks.0.mlp.lin1.weight"][0] / embed_dim,
        "global_attn_indexes": global_idx,
        "window_size": window,
        "prompt_embed_dim": out_chans,
        "mask_in_chans": shapes["prompt_encoder.mask_downscaling.3.weight"][0],
        "decoder_depth": len(dec_layers),
        "decoder_mlp_dim": shapes["mask_decoder.transformer.layers.0.mlp.lin1.weight"][0],
        "num_multimask_outputs": shapes["mask_decoder.mask_tokens.weight"][0] - 1,
        "iou_head_depth": len(iou_layers),
        "iou_head_hidden_dim": shapes["mask_decoder.iou_prediction_head.layers.0.weight"][0],
    }


def official_arch(arch: dict) -> str | None:
    """segment-anything registry name when `arch` is one of the published models."""
    name = KNOWN_ARCHS.get((arch["embed_dim"], arch["depth"]))
    if name and arch["img_size"] == 1024 and arch["prompt_embed_dim"] == 256:
        return name
    return None


def build_sam(arch: dict):
    """A `segment_anything.modeling.Sam` with the given architecture (random weights)."""
    import torch
    from segment_anything import sam_model_registry
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    official = official_arch(arch)
    if official:
        return sam_model_registry[official]()
    img, emb = arch["img_size"], arch["img_size"] // arch["patch_size"]
    dim = arch["prompt_embed_dim"]
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=img, patch_size=arch["patch_size"], embed_dim=arch["embed_dim"], depth=arch["depth"],
            num_heads=arch["num_heads"], mlp_ratio=arch["mlp_ratio"], out_chans=dim, qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
            global_attn_indexes=arch["global_attn_indexes"], window_size=arch["window_size"]),
        prompt_encoder=PromptEncoder(embed_dim=dim, image_embedding_size=(emb, emb), input_image_size=(img, img),
                                     mask_in_chans=arch["mask_in_chans"]),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=arch["num_multimask_outputs"],
            transformer=TwoWayTransformer(depth=arch["decoder_depth"], embedding_dim=dim,
                                          mlp_dim=arch["decoder_mlp_dim"], num_heads=8),
            transformer_dim=dim, iou_head_depth=arch["iou_head_depth"],
            iou_head_hidden_dim=arch["iou_head_hidden_dim"]),
        pixel_mean=PIXEL_MEAN.tolist(), pixel_std=PIXEL_STD.tolist(),
    ).eval()


def load_sam(path: Path):
    """Load a segment-anything checkpoint (a plain state dict) into a CPU float32 `Sam`."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise EngineError(f"cannot read SAM checkpoint {path.name}: {str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict):
        raise EngineError(f"{path.name} is not a segment-anything checkpoint (expected a state dict)")
    arch = sam_arch_from_shapes({k: tuple(v.shape) for k, v in state.items()})
    sam = build_sam(arch)
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise EngineError(f"{path.name} does not fit the SAM architecture: {str(exc).splitlines()[0]}") from None
    return sam.eval(), arch


def export_decoder(sam, target: Path) -> Path:
    """Export the prompt encoder + mask decoder with segment-anything's exporter (as its
    scripts/export_onnx_model.py does) to `target`, atomically. The multimask choice is made inside
    the graph from the number of points, like SAM's web demo."""
    import torch
    from segment_anything.utils.onnx import SamOnnxModel

    onnx_model = SamOnnxModel(sam, return_single_mask=True)
    dim = sam.prompt_encoder.embed_dim
    emb = sam.prompt_encoder.image_embedding_size
    low = sam.prompt_encoder.mask_input_size
    dummy = {
        "image_embeddings": torch.randn(1, dim, *emb, dtype=torch.float),
        "point_coords": torch.randint(low=0, high=1024, size=(1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(low=0, high=4, size=(1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, *low, dtype=torch.float),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
        "orig_im_size": torch.tensor([1500, 2250], dtype=torch.float),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                onnx_model, tuple(dummy.values()), tmp, dynamo=False, export_params=True, verbose=False,
                opset_version=ONNX_OPSET, do_constant_folding=True, input_names=list(dummy),
                output_names=["masks", "iou_predictions", "low_res_masks"],
                dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}})
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def decoder_path(weights: Path, sha256: str) -> Path:
    """The cached ONNX decoder for these exact weights (a new file if the weights change)."""
    return weights.with_name(f"{weights.stem}.{sha256[:16]}.decoder-op{ONNX_OPSET}.onnx")


@dataclass
class _Embedding:
    features: np.ndarray  # float32 (1, C, h, w)
    size: tuple[int, int]  # original (H, W)
    logits: np.ndarray | None = None  # last low-res decoder output on this frame


@dataclass(frozen=True)
class SamParams(BackendParams):
    cache_frames: int = 16  # frames whose embeddings are kept (a few MB each)
    dtype: str | None = None  # encoder precision: None picks per device (engine/device.py)
    # registry name (tools/fetch_models.py --list); None: $VTA_SAM_WEIGHTS, else the biggest present
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.cache_frames < 1:
            raise ValueError(f"cache_frames must be at least 1, not {self.cache_frames}")


def _image_key(image: np.ndarray) -> Hashable:
    import hashlib

    return ("img", image.shape, hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).hexdigest())


class SamSegmenter(Segmenter):
    name = "sam"
    learned = True

    @classmethod
    def availability(cls) -> str | None:
        return weights_reason(PACKAGES, SAM_PREFERENCE, "sam_weights")

    Params = SamParams

    def __init__(self, params: SamParams | None = None, device: str | None = None) -> None:
        self.params = params = params or SamParams()
        self.weights, path = require_weights("segmenter 'sam'", PACKAGES, SAM_PREFERENCE, "sam_weights",
                                             params.weights)
        import onnxruntime

        self.device = choose_device(device)
        self.dtype = choose_dtype(self.device, params.dtype)
        self.sam, self.arch = load_sam(path)
        self.img_size = self.arch["img_size"]
        self.lowres = self.sam.prompt_encoder.mask_input_size[0]
        sha = models.read_manifest()[path.name]["sha256"]
        onnx_file = decoder_path(path, sha)
        self.exported_now = not onnx_file.is_file()
        if self.exported_now:
            export_decoder(self.sam, onnx_file)
        self.decoder_file = onnx_file
        self.providers = onnx_providers(self.device)
        self.session = onnxruntime.InferenceSession(str(onnx_file), providers=self.providers)
        # Only the encoder moves to the accelerator; the decoder runs in onnxruntime.
        self.encoder = self.sam.image_encoder.to(self.device, torch_dtype(self.dtype)).eval()
        self.cache: LRUCache[Hashable, _Embedding] = LRUCache(params.cache_frames)
        self._encode_lock = threading.Lock()
        self.encoder_runs = 0

    def describe(self) -> dict:
        return {"name": self.name, "learned": True, "device": describe(self.device), "dtype": self.dtype,
                "weights": self.weights, "decoder": self.decoder_file.name,
                "decoder_provider": self.session.get_providers()[0]}

    # ---- embeddings ------------------------------------------------------------------------------
    def embedding(self, image: np.ndarray, cache_key: Hashable | None = None) -> _Embedding:
        return self._cached_embedding(image, cache_key)[0]

    def prefetch(self, image: np.ndarray, cache_key: Hashable) -> bool:
        """Compute and cache the embedding of a frame the user is likely to click next (the one
        under the playhead, its neighbours). Returns False if it was cached already. Safe to call
        from a background thread."""
        return self._cached_embedding(image, cache_key)[1]

    def _cached_embedding(self, image: np.ndarray, cache_key: Hashable | None) -> tuple[_Embedding, bool]:
        """(embedding, whether the encoder ran now). An entry of another image size under the same
        key is encoded again."""
        key = _image_key(image) if cache_key is None else cache_key
        encoded = False

        def encode() -> _Embedding:
            nonlocal encoded
            import torch

            batch = torch.from_numpy(prepare_image(image, self.img_size))[None]
            with self._encode_lock, torch.inference_mode():
                features = self.encoder(batch.to(self.device, torch_dtype(self.dtype)))
                self.encoder_runs += 1
            encoded = True
            return _Embedding(features.float().cpu().numpy(), image.shape[:2])

        item = self.cache.get_or_compute(key, encode, valid=lambda found: found.size == image.shape[:2])
        return item, encoded

    # ---- decoding --------------------------------------------------------------------------------
    def decode(self, image: np.ndarray, points: np.ndarray | None, labels: np.ndarray | None,
               box: np.ndarray | None = None, mask_logits: np.ndarray | None = None,
               cache_key: Hashable | None = None) -> tuple[np.ndarray, float, np.ndarray]:
        """Full-resolution logits (H, W), predicted IoU, low-res logits (L, L) for the prompts.
        box: (x0, y0, x1, y1) in image pixels. mask_logits: low-res logits to refine (mask_input)."""
        emb = self.embedding(image, cache_key)
        h, w = emb.size
        pts = np.zeros((0, 2), np.float32) if points is None else np.asarray(points, np.float32).reshape(-1, 2)
        labs = np.zeros((0,), np.float32) if labels is None else np.asarray(labels, np.float32).reshape(-1)
        if len(pts) != len(labs):
            raise EngineError("points and labels differ in length")
        if len(pts) == 0 and box is None:
            raise EngineError("SAM needs at least one click or a box")
        coords = [points_to_model(pts, h, w, self.img_size)]
        codes = [labs]
        if box is not None:
            coords.append(points_to_model(np.asarray(box, np.float32).reshape(2, 2), h, w, self.img_size))
            codes.append(np.array([2, 3], np.float32))
        else:  # the padding point SAM's exporter expects when there is no box
            coords.append(np.zeros((1, 2), np.float32))
            codes.append(np.array([-1], np.float32))
        feed = {
            "image_embeddings": emb.features,
            "point_coords": np.concatenate(coords)[None].astype(np.float32),
            "point_labels": np.concatenate(codes)[None].astype(np.float32),
            "mask_input": (mask_logits if mask_logits is not None
                           else np.zeros((self.lowres, self.lowres), np.float32))[None, None].astype(np.float32),
            "has_mask_input": np.array([0.0 if mask_logits is None else 1.0], np.float32),
            "orig_im_size": np.array([h, w], np.float32),
        }
        # The exporter traces the crop of the padded frame as a constant, so the full-size output is
        # only right for the dummy's aspect ratio: upscale the low-res logits ourselves.
        _, iou, low = self.session.run(["masks", "iou_predictions", "low_res_masks"], feed)
        low = low[0, 0]
        emb.logits = low
        return lowres_to_image(low, h, w, self.img_size), float(np.clip(iou[0, 0], 0.0, 1.0)), low

    def segment(self, image, points, labels, prev_mask=None, cache_key=None) -> SegmentResult:
        """Clicks → mask. The previous mask of this frame is fed back as SAM's `mask_input`: the
        decoder's own low-res logits when they belong to that mask (the usual case while clicking),
        else logits made from the binary mask."""
        mask_logits = None
        if prev_mask is not None and prev_mask.any():
            emb = self.embedding(image, cache_key)
            if emb.logits is not None and _same_mask(emb.logits, prev_mask, self.img_size):
                mask_logits = emb.logits
            else:
                mask_logits = mask_to_lowres(prev_mask, self.img_size, self.lowres)
        logits, iou, _ = self.decode(image, points, labels, mask_logits=mask_logits, cache_key=cache_key)
        return SegmentResult(logits > 0.0, iou)


def _same_mask(lowres_logits: np.ndarray, mask: np.ndarray, img_size: int) -> bool:
    h, w = mask.shape
    mine = lowres_to_image(lowres_logits, h, w, img_size) > 0
    union = np.logical_or(mine, mask).sum()
    return union > 0 and np.logical_and(mine, mask).sum() / union > 0.9
