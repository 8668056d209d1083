#!/usr/bin/env python3
"""Time and GPU memory of the learned backends, per model.

    .venv-torch/bin/python tools/bench_learned.py                 # real weights where present
    .venv-torch/bin/python tools/bench_learned.py --tiny          # tiny random models (plumbing cost only)
    .venv-torch/bin/python tools/bench_learned.py --size 1920x1080 --frames 24 --device cuda --json out.json
    .venv-torch/bin/python tools/bench_learned.py --random-full --device cuda --models sam_vit_h,sam2.1_hiera_large

Each backend runs on a synthetic clip: SAM (encoder per frame, decoder per click), SAM 2 and
SAM-flow (propagation per frame, after one warm-up frame), LaMa (one never-seen hole per frame).
A "load" row times building the backend from its file (SAM includes the one-off ONNX export of its
decoder). Peak GPU memory is torch.cuda.max_memory_allocated over each measured step (reset
before it) when on CUDA, so it includes the weights already on the GPU. Backends whose weights are
missing run on tiny random models only with --tiny, and every such row says "tiny random": those
numbers measure the pipeline's overhead, never a real model's speed or quality.

--random-full builds the real, full-size official architectures with random initialisation, one
model at a time: SAM ViT-B/L/H through the engine's own builder (segment-anything's registry
builders, checked against the engine's shape reader) from the registry's `arch`, SAM 2.1 Hiera
T/S/B+/L from the hydra configs shipped in the sam2 package (the registry's `config`). Each is
saved in the official file format (SAM: a plain state dict; SAM 2: {"model": state_dict}) under
the registry's file name in a temporary models folder, with a temporary registry carrying its
sha256, then benchmarked through the normal backends (SAM models as "sam" and "sam-flow") and
deleted before the next is built. --models picks them (comma list of registry names; default:
the whole registry). Every row says "random weights, full-size architecture (speed and memory
only)": the masks are meaningless, only time and memory are real. LaMa is skipped with a
reason: big-lama.pt is a TorchScript export of code this project does not have, so its
architecture cannot be rebuilt honestly here. SAM-flow is skipped where opencv lacks its contrib
modules (cv2.ximgproc), which its classical flow step needs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

os.environ.setdefault("TQDM_DISABLE", "1")  # as engine/backends/sam2_tracker.py, also when sam2 is imported first

TINY_LABEL = "tiny random model (pipeline overhead only, not real speed/quality)"
REAL_LABEL = "real weights"
RANDOM_FULL_LABEL = "random weights, full-size architecture (speed and memory only)"
LAMA_SKIP = ("big-lama.pt is a TorchScript export of LaMa's FFC-ResNet, whose code this project does not "
             "have; its architecture cannot be rebuilt honestly, so no random full-size LaMa is made")


def make_tiny_models(folder: Path) -> Path:
    """Tiny random models in the official formats (the same ones tests/learned uses) plus a
    registry carrying their hashes; returns the registry path."""
    import hashlib

    import torch

    from tests.learned import conftest as tiny

    registry = json.loads((ROOT / "models" / "registry.json").read_text())
    by_name = {m["name"]: m for m in registry["models"]}
    sam, _ = tiny.build_tiny_sam()
    torch.save(sam.state_dict(), folder / by_name["sam_vit_b"]["file"])
    made = ["sam_vit_b", "big_lama"]
    tiny.build_tiny_lama().save(str(folder / by_name["big_lama"]["file"]))
    try:
        sam2_file = folder / by_name["sam2.1_hiera_tiny"]["file"]
        torch.save({"model": tiny.build_tiny_sam2_state()}, sam2_file)
        shutil.copy(tiny.TINY_SAM2_CONFIG, sam2_file.with_suffix(".yaml"))
        made.append("sam2.1_hiera_tiny")
    except ImportError:
        pass
    for name in made:
        path = folder / by_name[name]["file"]
        by_name[name]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    reg = folder / "registry.json"
    reg.write_text(json.dumps(registry))
    return reg


# ---- random full-size models ---------------------------------------------------------------------
def random_full_names(requested: str | None) -> list[str]:
    """Registry names for --random-full: the --models list (checked), or every registry model
    (LaMa then only prints why it is skipped)."""
    registry = json.loads((ROOT / "models" / "registry.json").read_text())["models"]
    known = [m["name"] for m in registry]
    if not requested:
        return known
    names = [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def make_random_full_model(name: str, folder: Path, seed: int = 0) -> Path:
    """Build registry model `name` at full size with random weights, save it in the official format
    under the registry's file name in `folder`, and write `folder`/registry.json: the packaged
    registry with this file's sha256 and size (recorded as verified, as tools/fetch_models.py
    does after a download). Returns the registry path. Raises NotImplementedError for LaMa."""
    import torch

    import models

    registry = json.loads((ROOT / "models" / "registry.json").read_text())
    item = {m["name"]: m for m in registry["models"]}[name]
    path = folder / item["file"]
    torch.manual_seed(seed)
    if item["family"] == "sam":
        from engine.backends.learned.sam import KNOWN_ARCHS, build_sam, official_arch, sam_arch_from_shapes

        dims = {arch: key for key, arch in KNOWN_ARCHS.items()}[item["arch"]]
        # build_sam sends an official architecture to segment-anything's own registry builder
        sam = build_sam({"embed_dim": dims[0], "depth": dims[1], "img_size": 1024, "prompt_embed_dim": 256})
        state = sam.state_dict()
        read_back = official_arch(sam_arch_from_shapes({k: tuple(v.shape) for k, v in state.items()}))
        if read_back != item["arch"]:
            raise RuntimeError(f"{name}: built {read_back}, registry says {item['arch']}")
        torch.save(state, path)  # official SAM files are plain state dicts
        del sam, state
    elif item["family"] == "sam2":
        from sam2.build_sam import build_sam2

        model = build_sam2(item["config"], ckpt_path=None, device="cpu")  # sam2's own hydra config
        torch.save({"model": model.state_dict()}, path)  # the official SAM 2 checkpoint layout
        del model
    else:
        raise NotImplementedError(LAMA_SKIP if item["family"] == "lama" else f"no random builder for {name}")
    gc.collect()
    digest = models.file_sha256(path)
    item["sha256"], item["size"] = digest, path.stat().st_size
    reg = folder / "registry.json"
    reg.write_text(json.dumps(registry))
    models.record(item["file"], digest, "verified", folder)
    return reg


# ---- measuring -----------------------------------------------------------------------------------
class Meter:
    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self):
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
            self.reserved_mb = torch.cuda.max_memory_reserved() / 2**20
        else:
            self.peak_mb = self.reserved_mb = None
        self.seconds = time.perf_counter() - self.start


def release(device: str | None) -> None:
    """Drop what the last backend left, so the next model's peak starts from an empty GPU."""
    from engine.device import choose_device

    gc.collect()
    if choose_device(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def flow_step_reason() -> str | None:
    """SAM-flow's flow step is the classical tracker, which needs opencv's contrib modules."""
    import cv2

    if not hasattr(cv2, "ximgproc"):
        return "opencv without contrib modules (cv2.ximgproc), which the classical flow step needs"
    return None


def bench(args, label: str, plan: dict[str, str] | None = None) -> list[dict]:
    """Rows for the backends in `plan` (backend -> registry weights name), or, without a plan, every
    backend whose weights are present (each picks its weights as in normal use)."""
    from engine.backends.learned import lama as lama_inpainter, sam2 as sam2_tracker, sam_flow as sam_flow_tracker, sam as sam_segmenter
    from engine.backends import create
    from engine.device import choose_device, describe
    from engine.evaluation.synthetic import SyntheticClip
    from engine.video_io import open_video

    w, h = (int(v) for v in args.size.lower().split("x"))
    clip = SyntheticClip(w, h, args.frames + 1, seed=11)
    work = Path(tempfile.mkdtemp(prefix="vta-bench-"))
    rows: list[dict] = []
    device_name = describe(choose_device(args.device))

    def wanted(backend: str) -> bool:
        return plan is None or backend in plan

    try:
        video = open_video(clip.write_frames(work / "clip"))

        def row(backend, what, meter, n, obj, note=""):
            model = getattr(obj, "weights", None) or getattr(getattr(obj, "sam", None), "weights", "")
            dtype = getattr(obj, "dtype", None) or getattr(getattr(obj, "sam", None), "dtype", None)
            rows.append({"backend": backend, "model": model or "", "what": what,
                         "ms_per_item": 1000 * meter.seconds / n, "items": n, "peak_gpu_mb": meter.peak_mb,
                         "peak_gpu_reserved_mb": meter.reserved_mb, "size": args.size, "device": device_name,
                         "dtype": dtype, "note": note, "kind": label})

        def load(backend, cls, what="load + build"):
            release(args.device)
            with Meter(choose_device(args.device)) as m:
                obj = create(cls.kind, backend, device=args.device, weights=(plan or {}).get(backend))
            row(backend, what, m, 1, obj)
            return obj

        if wanted("sam"):
            reason = sam_segmenter.SamSegmenter.availability() if plan is None else None
            if reason is None:
                seg = load("sam", sam_segmenter.SamSegmenter, "load + build (+ ONNX decoder export)")
                seg.embedding(video.read(0), "warm")
                with Meter(seg.device) as m:
                    for i in range(args.frames):
                        seg.embedding(video.read(i), ("bench", i))
                row("sam", "image encoder per frame", m, args.frames, seg)
                x, y = clip.click(0)
                with Meter(seg.device) as m:
                    for _ in range(20):
                        seg.segment(video.read(0), np.array([[x, y]], float), np.array([1]), cache_key=("bench", 0))
                row("sam", "decoder per click (cached frame)", m, 20, seg,
                    "onnxruntime " + seg.session.get_providers()[0])
                del seg
                release(args.device)
            else:
                print("sam: skipped:", reason, file=sys.stderr)
        init = {1: clip.mask(0)}
        frames = list(range(1, args.frames + 1))
        for name, cls in (("sam2", sam2_tracker.Sam2Tracker), ("sam-flow", sam_flow_tracker.SamFlowTracker)):
            if not wanted(name):
                continue
            reason = (cls.availability() if plan is None else None) or (
                flow_step_reason() if name == "sam-flow" else None)
            if reason:
                print(f"{name}: skipped: {reason}", file=sys.stderr)
                continue
            tracker = load(name, cls)
            for _ in tracker.propagate(video, 0, init, frames[:1]):  # warm-up (first-call kernels, allocator)
                pass
            if hasattr(tracker, "sam"):  # SAM-flow: forget the warm-up's embedding, so every frame is encoded
                tracker.sam.cache.clear()
            with Meter(tracker.device) as m:
                for _ in tracker.propagate(video, 0, init, frames):
                    pass
            stats = getattr(tracker, "last_stats", None)
            row(name, "propagation per frame", m, len(frames), tracker,
                f"SAM redrew {stats['sam'] + stats['flow_kept']}/{stats['frames']} frames" if stats else "")
            del tracker
            release(args.device)
        if wanted("lama"):
            reason = lama_inpainter.LamaInpainter.availability() if plan is None else None
            if reason is None:
                lama = load("lama", lambda device, weights: lama_inpainter.LamaInpainter.with_options(
                    {"weights": weights}, device=device))
                hole = np.zeros((h, w), bool)
                hole[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = True
                lama.spatial_fill(video.read(0), hole)  # warm-up
                with Meter(lama.device) as m:
                    for i in range(args.frames):
                        lama.spatial_fill(video.read(i), hole)
                row("lama", "fill_spatial per frame (1/9 of frame)", m, args.frames, lama)
                del lama
                release(args.device)
            else:
                print("lama: skipped:", reason, file=sys.stderr)
        video.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def bench_random_full(args, done=None) -> list[dict]:
    """One full-size random model at a time: build, save, bench through the backends, delete.
    `done(rows)` is called after each model with all rows so far (partial results survive a kill)."""
    packaged = {m["name"]: m for m in json.loads((ROOT / "models" / "registry.json").read_text())["models"]}
    rows: list[dict] = []
    backends = {"sam": ("sam", "sam-flow"), "sam2": ("sam2",), "lama": ("lama",)}
    saved = {k: os.environ.get(k) for k in ("VTA_MODELS_DIR", "VTA_MODELS_REGISTRY")}
    for var in ("VTA_SAM_WEIGHTS", "VTA_SAM2_WEIGHTS", "VTA_LAMA_WEIGHTS"):
        os.environ.pop(var, None)
    try:
        for name in random_full_names(args.models):
            family, file = packaged[name]["family"], packaged[name]["file"]
            folder = Path(tempfile.mkdtemp(prefix=f"vta-random-{name}-"))
            try:
                start = time.perf_counter()
                try:
                    reg = make_random_full_model(name, folder)
                except NotImplementedError as exc:
                    print(f"{name}: skipped: {exc}", file=sys.stderr)
                    continue
                size_mb = (folder / file).stat().st_size / 2**20
                official = f", official file {packaged[name]['size'] / 2**20:.0f} MiB" if packaged[name].get("size") else ""
                print(f"{name}: random full-size model built and saved ({size_mb:.0f} MiB{official}) in "
                      f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
                os.environ["VTA_MODELS_DIR"], os.environ["VTA_MODELS_REGISTRY"] = str(folder), str(reg)
                new = bench(args, RANDOM_FULL_LABEL, {b: name for b in backends[family]})
                rows += new
                if done:
                    done(rows, new)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                release(args.device)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--tiny", action="store_true", help="use tiny random models instead of real weights")
    mode.add_argument("--random-full", action="store_true",
                      help="full-size official architectures with random weights (speed and memory only)")
    parser.add_argument("--models", help="with --random-full: comma list of registry names "
                                         "(default: every model in the registry)")
    parser.add_argument("--size", default="640x360", help="frame size WxH")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if args.models and not args.random_full:
        parser.error("--models only applies to --random-full")
    tmp = None
    if args.tiny:
        tmp = Path(tempfile.mkdtemp(prefix="vta-tiny-models-"))
        os.environ["VTA_MODELS_REGISTRY"] = str(make_tiny_models(tmp))
        os.environ["VTA_MODELS_DIR"] = str(tmp)
    def done(rows, new):  # --random-full: show each model's rows and keep the JSON current
        print_rows(new)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))

    try:
        if args.random_full:
            rows = bench_random_full(args, done)
        else:
            rows = bench(args, TINY_LABEL if args.tiny else REAL_LABEL)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    from engine.device import choose_device, describe

    print(f"device: {describe(choose_device(args.device))}; frames {args.size}")
    print(f"{'backend':9} {'model':22} {'what':40} {'ms/item':>9} {'peak GPU MB':>12}  kind")
    print_rows(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def print_rows(rows: list[dict]) -> None:
    for r in rows:
        peak = "-" if r["peak_gpu_mb"] is None else f"{r['peak_gpu_mb']:.0f}"
        note = f"  [{r['note']}]" if r.get("note") else ""
        print(f"{r['backend']:9} {r['model']:22} {r['what']:40} {r['ms_per_item']:9.1f} {peak:>12}  {r['kind']}{note}",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
