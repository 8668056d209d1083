"""Clean-plate quality and speed on real footage: the video-completion protocol, plus object-removal
strips for people to look at.

Video completion: real objects have no ground truth behind them, so the masks of one clip (resized)
are laid over the frames of another; the masked pixels are painted over (bright green, so any
leak shows) before the inpainter sees them, and its output is compared with the untouched frames:
PSNR over the whole frame and inside the replaced (dilated) hole, SSIM over the whole frame, and
temporal stability: the mean absolute flow-warping error of the hole between consecutive outputs,
using the flow of the ground-truth frames (lower is steadier; the ground truth's own figure is
printed as the floor). Per-frame cv2.inpaint (Telea) runs side by side on the same holes.
Fairness: both methods replace the same region (the mask dilated by DILATE px; ours feathers its
fill in over the innermost few px of it, Telea fills it all), and hole PSNR is measured over
exactly that region for both, so neither gets the untouched band around the mask for free.

Object removal: tennis and bmx-trees with their own masks; out/removal_<clip>.png shows, for a
few frames, original | mask overlay | result.

    python tools/eval_cleanplate.py                    # 6 pairs, 30 frames each
    python tools/eval_cleanplate.py --all-pairs --no-strips   # 20 pairs
    python tools/eval_cleanplate.py --frames 50 --json out/cleanplate.json --clips DIR
    python tools/eval_cleanplate.py --no-strips --option blend_tiers=4   # an inpainter setting tried

Without the clips folder the script says so and exits 0. fps is the inpainter's own work on
frames already decoded (the full pipeline also decodes and writes PNGs: see tools/benchmark.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.backends import create  # noqa: E402
from engine.backends.classical.inpainter.fields import dilate_mask  # noqa: E402
from engine.backends.flow import dis_flow  # noqa: E402
from engine.evaluation.metrics import psnr, ssim  # noqa: E402
from engine.evaluation.options import parse_options  # noqa: E402
from engine.video_io import VideoInfo, VideoReader  # noqa: E402

# (mask clip, frame clip): masks of the first punched into the frames of the second. One pair per
# frame clip, masks from a different clip; --all-pairs runs every combination of these clips.
DEFAULT_PAIRS = [
    ("propainter-bmx-trees-432x240", "davis16-blackswan"),
    ("davis16-libby", "davis16-dog"),
    ("propainter-bmx-trees-432x240", "davis16-car-roundabout"),
    ("davis16-libby", "propainter-tennis-432x240"),
    ("propainter-tennis-432x240", "propainter-bmx-trees-432x240"),
    ("davis16-blackswan", "davis16-libby"),
]
MASK_CLIPS = ["propainter-tennis-432x240", "propainter-bmx-trees-432x240", "davis16-libby", "davis16-blackswan"]
FRAME_CLIPS = ["davis16-blackswan", "davis16-dog", "davis16-car-roundabout", "propainter-tennis-432x240",
               "propainter-bmx-trees-432x240", "davis16-libby"]
REMOVAL_CLIPS = ["propainter-tennis-432x240", "propainter-bmx-trees-432x240"]
PUNCH_COLOUR = np.array([0, 255, 0], np.uint8)
DILATE = 8


def clips_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("VTA_CLIPS"):
        return Path(os.environ["VTA_CLIPS"])
    return REPO.parent / "shared" / "clips"


def frame_files(clip: Path) -> list[Path]:
    return sorted(p for p in (clip / "frames").iterdir() if p.suffix.lower() in (".jpg", ".png"))


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Any non-background pixel of a gray or palette mask, resized to (w, h)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise SystemExit(f"cannot read mask {path}")
    mask = (image > 0).astype(np.uint8)
    if mask.shape[::-1] != size:
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    return mask > 0


class ArrayVideo(VideoReader):
    """Frames given as a list of arrays, behind the VideoReader interface the inpainter takes."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self._init_common()
        self.frames = frames
        h, w = frames[0].shape[:2]
        self.info = VideoInfo("memory", "sequence", w, h, 24.0, len(frames), 0, "raw")

    def _decode(self, index: int) -> np.ndarray:
        return self.frames[index]


def telea(frames: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
    return [cv2.inpaint(f, h.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA) for f, h in zip(frames, holes)]


def warp_error(outputs: list[np.ndarray], truth: list[np.ndarray], holes: list[np.ndarray]) -> float:
    """Mean |output_t - warp(output_t+1)| over the hole of frame t, with the flow of the ground truth
    (so every method is judged against the same motion)."""
    dis = dis_flow("medium")
    errors = []
    h, w = truth[0].shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    for t in range(len(outputs) - 1):
        g0 = cv2.cvtColor(truth[t], cv2.COLOR_RGB2GRAY)
        g1 = cv2.cvtColor(truth[t + 1], cv2.COLOR_RGB2GRAY)
        flow = dis.calc(g0, g1, None)
        warped = cv2.remap(outputs[t + 1], gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        region = holes[t]
        if region.any():
            errors.append(float(np.abs(outputs[t].astype(np.float32) - warped.astype(np.float32))[region].mean()))
    return float(np.mean(errors)) if errors else 0.0


def scores(outputs, truth, holes) -> dict:
    return {
        "psnr": float(np.mean([psnr(o, g) for o, g in zip(outputs, truth)])),
        "psnr_hole": float(np.mean([psnr(o, g, h) for o, g, h in zip(outputs, truth, holes) if h.any()])),
        "ssim": float(np.mean([ssim(o, g) for o, g in zip(outputs, truth)])),
        "warp_error": warp_error(outputs, truth, holes),
    }


def run_ours(frames: list[np.ndarray], masks: list[np.ndarray], options: dict | None = None,
             **kwargs) -> tuple[list[np.ndarray], float]:
    video = ArrayVideo(frames)
    inpainter = create("inpainter", "classical", **(options or {}))
    t = time.perf_counter()
    outputs = [img for _, img in inpainter.inpaint(video, lambda i: masks[i], range(len(frames)), dilate=DILATE, **kwargs)]
    return outputs, time.perf_counter() - t


def load_pair(root: Path, mask_clip: str, frame_clip: str, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The first n frames of `frame_clip` (RGB) and the masks of `mask_clip` resized to them."""
    files = frame_files(root / frame_clip)
    mask_files = sorted((root / mask_clip / "masks").glob("*.png"))
    n = min(n, len(files), len(mask_files))
    frames = [read_rgb(p) for p in files[:n]]
    size = frames[0].shape[1], frames[0].shape[0]
    return frames, [read_mask(p, size) for p in mask_files[:n]]


def eval_pair(root: Path, mask_clip: str, frame_clip: str, n: int, options: dict | None = None) -> dict:
    truth, masks = load_pair(root, mask_clip, frame_clip, n)
    n, size = len(truth), (truth[0].shape[1], truth[0].shape[0])
    punched = [np.where(m[:, :, None], PUNCH_COLOUR, f) for f, m in zip(truth, masks)]
    holes = [dilate_mask(m, DILATE) for m in masks]
    ours, dt_ours = run_ours(punched, masks, options)
    t = time.perf_counter()
    base = telea(punched, holes)
    dt_telea = time.perf_counter() - t
    result = {"pair": f"{mask_clip} masks on {frame_clip}", "frames": n, "size": f"{size[0]}x{size[1]}",
              "hole_fraction": float(np.mean([h.mean() for h in holes])),
              "ours": {**scores(ours, truth, holes), "fps": n / dt_ours},
              "telea": {**scores(base, truth, holes), "fps": n / dt_telea},
              "ground_truth_warp_error": warp_error(truth, truth, holes)}
    return result


def removal_strip(root: Path, clip: str, n: int, out_dir: Path, picks: int = 4, options: dict | None = None) -> Path:
    frames, masks = load_pair(root, clip, clip, n)
    n = len(frames)
    outputs, _ = run_ours(frames, masks, options)
    rows = []
    for i in np.linspace(0, n - 1, picks).round().astype(int):
        overlay = frames[i].copy()
        overlay[masks[i]] = (0.5 * overlay[masks[i]] + [127, 0, 0]).astype(np.uint8)
        row = np.concatenate([frames[i], overlay, outputs[i]], axis=1)
        cv2.putText(row, f"frame {i}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
        rows.append(row)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"removal_{clip}.png"
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", help="clips folder (default ../shared/clips or $VTA_CLIPS)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--frames", type=int, default=30, help="frames per pair (default 30)")
    ap.add_argument("--out", default=str(REPO / "out"), help="folder for the removal strips (default out/)")
    ap.add_argument("--no-strips", action="store_true", help="skip the object-removal images")
    ap.add_argument("--all-pairs", action="store_true", help="every mask clip on every other frame clip (20 pairs)")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                    help="an inpainter parameter other than its default, e.g. blend_tiers=4 (repeatable)")
    args = ap.parse_args(argv)
    options = parse_options(args.option)
    root = clips_root(args.clips)
    if not root.is_dir():
        print(f"clips not found at {root}: nothing to evaluate (skipped)")
        return 0
    results = []
    pairs = [(m, f) for m in MASK_CLIPS for f in FRAME_CLIPS if m != f] if args.all_pairs else DEFAULT_PAIRS
    for mask_clip, frame_clip in pairs:
        if not (root / mask_clip / "masks").is_dir() or not (root / frame_clip / "frames").is_dir():
            print(f"skip {mask_clip} → {frame_clip}: clip missing")
            continue
        r = eval_pair(root, mask_clip, frame_clip, args.frames, options)
        results.append(r)
        o, b = r["ours"], r["telea"]
        print(f"{r['pair']} ({r['size']}, {r['frames']} frames, hole {100 * r['hole_fraction']:.1f}%)\n"
              f"  ours : PSNR {o['psnr']:.2f}  hole PSNR {o['psnr_hole']:.2f}  SSIM {o['ssim']:.4f}  "
              f"warp err {o['warp_error']:.2f}  {o['fps']:.2f} fps\n"
              f"  telea: PSNR {b['psnr']:.2f}  hole PSNR {b['psnr_hole']:.2f}  SSIM {b['ssim']:.4f}  "
              f"warp err {b['warp_error']:.2f}  {b['fps']:.2f} fps   (ground-truth warp err {r['ground_truth_warp_error']:.2f})",
              flush=True)
    summary = {}
    if results:
        for key in ("psnr", "psnr_hole", "ssim", "warp_error", "fps"):
            summary[key] = {m: float(np.mean([r[m][key] for r in results])) for m in ("ours", "telea")}
        gain = summary["psnr_hole"]["ours"] - summary["psnr_hole"]["telea"]
        print(f"mean over {len(results)} pairs: hole PSNR ours {summary['psnr_hole']['ours']:.2f} vs telea "
              f"{summary['psnr_hole']['telea']:.2f} ({gain:+.2f} dB); PSNR {summary['psnr']['ours']:.2f} vs "
              f"{summary['psnr']['telea']:.2f}; SSIM {summary['ssim']['ours']:.4f} vs {summary['ssim']['telea']:.4f}; "
              f"warp err {summary['warp_error']['ours']:.2f} vs {summary['warp_error']['telea']:.2f}; "
              f"fps {summary['fps']['ours']:.2f} vs {summary['fps']['telea']:.2f}")
    strips = []
    if not args.no_strips:
        for clip in REMOVAL_CLIPS:
            if (root / clip / "masks").is_dir():
                strips.append(str(removal_strip(root, clip, 10**6, Path(args.out), options=options)))
                print(f"removal strip: {strips[-1]}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"pairs": results, "mean": summary, "strips": strips, "options": options}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
