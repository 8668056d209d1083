#!/usr/bin/env python3
"""Time and GPU memory of the learned backends, per model.

    .venv-torch/bin/python tools/bench_learned.py                 # real weights where present
    .venv-torch/bin/python tools/bench_learned.py --tiny          # tiny random models (plumbing cost only)
    .venv-torch/bin/python tools/bench_learned.py --size 1920x1080 --frames 24 --device cuda --json out.json

Each backend runs on a synthetic clip: SAM (encoder per frame, decoder per click), SAM 2 and
SAM-flow (propagation per frame), LaMa (one never-seen hole per frame). Peak GPU memory is
torch.cuda.max_memory_allocated per backend when on CUDA. Backends whose weights are missing run
on tiny random models only with --tiny, and every such row says "tiny random": those numbers
measure the pipeline's overhead, never a real model's speed or quality.
"""

from __future__ import annotations

import argparse
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
        else:
            self.peak_mb = None
        self.seconds = time.perf_counter() - self.start


def bench(args) -> list[dict]:
    from engine.backends import lama_inpainter, sam2_tracker, sam_flow_tracker, sam_segmenter
    from engine.synthetic import SyntheticClip
    from engine.video_io import open_video

    w, h = (int(v) for v in args.size.lower().split("x"))
    clip = SyntheticClip(w, h, args.frames + 1, seed=11)
    work = Path(tempfile.mkdtemp(prefix="vta-bench-"))
    rows: list[dict] = []
    label = "tiny random model (pipeline overhead only, not real speed/quality)" if args.tiny else "real weights"
    try:
        video = open_video(clip.write_frames(work / "clip"))

        def row(backend, what, meter, n, extra=None):
            rows.append({"backend": backend, "model": extra or "", "what": what, "ms_per_item": 1000 * meter.seconds / n,
                         "items": n, "peak_gpu_mb": meter.peak_mb, "size": args.size, "kind": label})

        if sam_segmenter.SamSegmenter.availability() is None:
            seg = sam_segmenter.SamSegmenter(device=args.device)
            seg.embedding(video.read(0), "warm")
            with Meter(seg.device) as m:
                for i in range(args.frames):
                    seg.embedding(video.read(i), ("bench", i))
            row("sam", "image encoder per frame", m, args.frames, seg.weights)
            x, y = clip.click(0)
            with Meter(seg.device) as m:
                for _ in range(20):
                    seg.segment(video.read(0), np.array([[x, y]], float), np.array([1]), cache_key=("bench", 0))
            row("sam", "decoder per click (cached frame)", m, 20, seg.weights)
            del seg
        else:
            print("sam: skipped:", sam_segmenter.SamSegmenter.availability(), file=sys.stderr)
        init = {1: clip.mask(0)}
        frames = list(range(1, args.frames + 1))
        for name, cls in (("sam2", sam2_tracker.Sam2Tracker), ("sam-flow", sam_flow_tracker.SamFlowTracker)):
            reason = cls.availability()
            if reason:
                print(f"{name}: skipped: {reason}", file=sys.stderr)
                continue
            tracker = cls(device=args.device)
            with Meter(tracker.device) as m:
                for _ in tracker.propagate(video, 0, init, frames):
                    pass
            row(name, "propagation per frame", m, len(frames), getattr(tracker, "weights", None) or tracker.sam.weights)
            del tracker
        if lama_inpainter.LamaInpainter.availability() is None:
            lama = lama_inpainter.LamaInpainter(device=args.device)
            hole = np.zeros((h, w), bool)
            hole[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = True
            with Meter(lama.device) as m:
                for i in range(args.frames):
                    lama.fill_spatial(video.read(i), hole)
            row("lama", "fill_spatial per frame (1/9 of frame)", m, args.frames, lama.weights)
        else:
            print("lama: skipped:", lama_inpainter.LamaInpainter.availability(), file=sys.stderr)
        video.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="use tiny random models instead of real weights")
    parser.add_argument("--size", default="640x360", help="frame size WxH")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    tmp = None
    if args.tiny:
        tmp = Path(tempfile.mkdtemp(prefix="vta-tiny-models-"))
        os.environ["VTA_MODELS_REGISTRY"] = str(make_tiny_models(tmp))
        os.environ["VTA_MODELS_DIR"] = str(tmp)
    try:
        rows = bench(args)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    from engine.device import choose_device, describe

    print(f"device: {describe(choose_device(args.device))}; frames {args.size}")
    print(f"{'backend':9} {'model':20} {'what':40} {'ms/item':>9} {'peak GPU MB':>12}  kind")
    for r in rows:
        peak = "-" if r["peak_gpu_mb"] is None else f"{r['peak_gpu_mb']:.0f}"
        print(f"{r['backend']:9} {r['model']:20} {r['what']:40} {r['ms_per_item']:9.1f} {peak:>12}  {r['kind']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
