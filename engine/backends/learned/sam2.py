"""SAM 2 tracker: Meta's video predictor behind `Tracker.propagate`, with memory bounded on long clips.

SAM 2's `init_state` loads every frame of the video it is given, and its state keeps per-frame
outputs for the whole run, which is why users run out of memory on long clips. Here the predictor
only ever sees a window of frames: each window is written as a small JPEG folder (the input format
`init_state` takes), seeded with two conditioning masks: the keyframe itself (the user's exact
mask, so every window re-anchors on it) and the last mask of the previous window (continuity).
Within a window, outputs older than the frames SAM 2 still attends to are dropped as we go.
Backward runs use `propagate_in_video(reverse=True)` over frames in natural order.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import models

from ...device import choose_device, choose_dtype, describe, torch_dtype
from ... import config
from ...errors import EngineError
from ..base import Tracker
from ..params import BackendParams
from .weights import missing_packages, require_weights, weights_reason

os.environ.setdefault("TQDM_DISABLE", "1")  # SAM 2 draws tqdm bars on stderr; set before sam2 is imported
SAM2_PREFERENCE = ("sam2.1_hiera_large", "sam2.1_hiera_base_plus", "sam2.1_hiera_small", "sam2.1_hiera_tiny")
PACKAGES = ("torch", "sam2", "hydra", "omegaconf")
DEFAULT_WINDOW = 32


def window_layout(init_frame: int, last_frame: int, chunk: list[int]) -> tuple[list[int], list[int], int, bool]:
    """Frames of one SAM 2 window in natural (time) order, the seed frames among them, the window
    index to start propagating from, and whether to run in reverse (pure; unit-tested).

    chunk: frames to produce, in order of travel. Seeds: the keyframe and, after the first window,
    the last frame already produced."""
    forward = chunk[0] > last_frame
    seeds = [init_frame] if last_frame == init_frame else [init_frame, last_frame]
    order = sorted(set(seeds) | set(chunk))
    return order, seeds, order.index(last_frame), not forward


def prune_outputs(state: dict, current: int, reverse: bool, keep: int) -> None:
    """Drop non-conditioning outputs more than `keep` frames behind `current` (SAM 2 only attends
    to the last num_maskmem frames and the last max_obj_ptrs_in_encoder object pointers)."""
    for per_obj in state["output_dict_per_obj"].values():
        outputs = per_obj["non_cond_frame_outputs"]
        stale = [t for t in outputs if (t > current + keep if reverse else t < current - keep)]
        for t in stale:
            del outputs[t]


def _default_window() -> int:
    return config.current().sam2_window or DEFAULT_WINDOW


@dataclass(frozen=True)
class Sam2Params(BackendParams):
    dtype: str | None = None  # None: the device's best (engine.device.choose_dtype)
    weights: str | None = None  # registry name or file; None: VTA_SAM2_WEIGHTS or the best present
    #: frames per SAM 2 window: memory vs. continuity (default: VTA_SAM2_WINDOW, else 32)
    window: int = field(default_factory=_default_window)

    def __post_init__(self) -> None:
        if int(self.window) < 2:
            raise ValueError(f"window must be at least 2 frames, not {self.window}")


class Sam2Tracker(Tracker):
    """SAM 2's video predictor, run window by window.

    It keeps overriding `propagate` rather than offering start/step: each window is handed to SAM 2
    as a whole (written as a JPEG folder for `init_state`, propagated in one `propagate_in_video`),
    so the frames ahead must be known when the window is built; a per-frame step would have to
    guess how far the caller will go and do up to a window of frames for nothing."""

    name = "sam2"
    learned = True
    Params = Sam2Params

    @classmethod
    def availability(cls) -> str | None:
        reason = missing_packages(*PACKAGES)
        if reason:
            return reason.replace("(run", "(SAM 2 is an optional extra, see docs/LEARNED.md; or run")
        return weights_reason((), SAM2_PREFERENCE, "sam2_weights")

    def __init__(self, params: Sam2Params | None = None, device: str | None = None) -> None:
        params = params or Sam2Params()
        if missing_packages(*PACKAGES):
            raise EngineError(f"tracker 'sam2' cannot run: {self.availability()}")
        self.weights, path = require_weights("tracker 'sam2'", (), SAM2_PREFERENCE, "sam2_weights",
                                             params.weights)
        # A config next to the weights (same stem, .yaml) wins: fine-tunes and the tests' tiny model.
        sidecar = path.with_suffix(".yaml")
        self.config = str(sidecar) if sidecar.is_file() else models.entry(self.weights).config
        self.device = choose_device(device)
        self.dtype = choose_dtype(self.device, params.dtype)
        self.window = int(params.window)
        self.predictor = _build_predictor(self.config, path, self.device)
        self.image_size = int(self.predictor.image_size)
        self.keep = max(int(self.predictor.num_maskmem), int(getattr(self.predictor, "max_obj_ptrs_in_encoder", 16)))

    def describe(self) -> dict:
        return {"name": self.name, "learned": True, "device": describe(self.device), "dtype": self.dtype,
                "weights": self.weights, "window": self.window}

    def _autocast(self):
        import torch

        if self.device.startswith("cuda") and self.dtype != "float32":
            return torch.autocast("cuda", dtype=torch_dtype(self.dtype))
        return nullcontext()

    @contextmanager
    def _context(self):
        import torch

        with torch.inference_mode(), self._autocast(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield

    def propagate(self, video, init_frame, init_masks, frames, cancel=None):
        frames = list(frames)
        if not frames or not init_masks:
            return
        self.check_travel(init_frame, frames)
        h, w = video.read(init_frame).shape[:2]
        init = {k: np.asarray(m, bool) for k, m in init_masks.items()}
        last_frame, last = init_frame, init
        for start in range(0, len(frames), self.window):
            chunk = frames[start:start + self.window]
            results = self._run_window(video, init_frame, init, last_frame, last, chunk, (h, w), cancel)
            for frame, probs, conf in results:
                yield frame, probs, conf
                last_frame, last = frame, {k: p > 0.5 for k, p in probs.items()}

    def _run_window(self, video, init_frame, init, last_frame, last, chunk, size, cancel):
        import torch

        order, seeds, start_idx, reverse = window_layout(init_frame, last_frame, chunk)
        index = {f: i for i, f in enumerate(order)}
        wanted = set(chunk)
        folder = Path(tempfile.mkdtemp(prefix="vta-sam2-"))
        h, w = size
        try:
            scale = min(1.0, self.image_size / max(h, w))
            small = (max(1, round(w * scale)), max(1, round(h * scale)))
            for f in order:
                if cancel:
                    cancel.check()
                image = video.read(f)
                if scale < 1.0:
                    image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(folder / f"{index[f]:05d}.jpg"), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            with self._context():
                state = self.predictor.init_state(video_path=str(folder), offload_video_to_cpu=True,
                                                  offload_state_to_cpu=not self.device.startswith("cuda"))
                for f, masks in ((init_frame, init), (last_frame, last)):
                    if f not in seeds:
                        continue
                    for obj in sorted(init):
                        mask = cv2.resize(masks[obj].astype(np.uint8), small, interpolation=cv2.INTER_NEAREST) > 0
                        self.predictor.add_new_mask(state, frame_idx=index[f], obj_id=obj, mask=mask)
                steps = self.predictor.propagate_in_video(state, start_frame_idx=start_idx, reverse=reverse)
            while True:
                # Enter torch's modes only around each step: a generator that yields inside them
                # would leave them switched on in the caller's code.
                with self._context():
                    try:
                        idx, obj_ids, logits = next(steps)
                    except StopIteration:
                        break
                    frame = order[idx]
                    if frame not in wanted:
                        continue  # a seed frame: its mask is the one we gave
                    probs, conf = {}, {}
                    for j, obj in enumerate(obj_ids):
                        logit = logits[j, 0].float().cpu().numpy()
                        if logit.shape != (h, w):
                            logit = cv2.resize(logit, (w, h), interpolation=cv2.INTER_LINEAR)
                        probs[obj] = (1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))).astype(np.float32)
                        conf[obj] = _object_confidence(state, j, idx, probs[obj])
                    prune_outputs(state, idx, reverse, self.keep)
                if cancel:
                    cancel.check()
                yield frame, probs, conf
            del steps, state
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()


def _object_confidence(state: dict, obj_idx: int, idx: int, prob: np.ndarray) -> float:
    """SAM 2's own object-presence score for this frame (sigmoid of its logit), else the mean
    certainty of the mask's pixels."""
    out = state["output_dict_per_obj"][obj_idx]["non_cond_frame_outputs"].get(idx) or \
        state["output_dict_per_obj"][obj_idx]["cond_frame_outputs"].get(idx)
    score = None if out is None else out.get("object_score_logits")
    if score is not None:
        return float(1.0 / (1.0 + math.exp(-float(score.float().flatten()[0]))))
    return float(np.mean(np.abs(prob - 0.5)) * 2.0)


def _build_predictor(config: str, checkpoint: Path, device: str):
    """`build_sam2_video_predictor` with either a config inside the sam2 package or a yaml file on
    disk (hydra only searches the package, so a file gets its folder as a temporary search path)."""
    from hydra import initialize_config_dir, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from sam2.build_sam import build_sam2_video_predictor

    def build(name: str):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return build_sam2_video_predictor(name, str(checkpoint), device=device)
        except (RuntimeError, KeyError) as exc:
            raise EngineError(f"SAM 2 weights {checkpoint.name} do not fit config {Path(name).name}: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None

    path = Path(config)
    if not path.is_absolute():
        return build(config)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(path.parent), version_base="1.2"):
            return build(path.name)
    finally:
        if GlobalHydra.instance().is_initialized():
            GlobalHydra.instance().clear()
        initialize_config_module("sam2", version_base="1.2")
