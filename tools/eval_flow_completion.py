#!/usr/bin/env python3
"""How much of the clean-plate error is the flow inside the hole? A diagnostic for the inpainter.

On the video-completion pairs of eval_cleanplate.py, for frame t and a source t+d, take the hole
pixels of t that t+d shows, and warp t+d onto t two ways:
- oracle: the flow measured on the original (unpunched) frames, which no inpainter can have;
- completed: the engine's FlowRefiner on the punched frames, the flow inside the hole
  interpolated from around it (what the classical inpainter does after its homography).
The PSNR gap between the two is the cost of not knowing how the hidden background moves; a better
flow completion (learned, as in ProPainter) is where a large clean-plate gain would come from.

    python tools/eval_flow_completion.py [--frames 30] [--clips DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

import eval_cleanplate as cp  # noqa: E402
from engine.backends.classical.inpainter.align import FlowRefiner  # noqa: E402
from engine.backends.flow import dis_flow, pixel_grid, warp_map  # noqa: E402
from engine.backends.classical.inpainter.fields import dilate_mask  # noqa: E402


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    mx, my = warp_map(flow, pixel_grid(*flow.shape[:2]))
    return cv2.remap(image, mx, my, interpolation, borderMode=cv2.BORDER_REPLICATE)


def db(squared_error: float, count: int) -> float:
    return 10 * np.log10(255.0 ** 2 * 3 * count / max(squared_error, 1e-9))


def eval_pair(root: Path, mask_clip: str, frame_clip: str, n: int, distances=(1, 3)) -> dict:
    truth, masks = cp.load_pair(root, mask_clip, frame_clip, n)
    n = len(truth)
    holes = [dilate_mask(m, cp.DILATE) for m in masks]
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in truth]
    punched = [cv2.cvtColor(np.where(m[:, :, None], cp.PUNCH_COLOUR, f), cv2.COLOR_RGB2GRAY)
               for f, m in zip(truth, masks)]
    oracle_dis = dis_flow("medium")
    refiner = FlowRefiner()
    out = {}
    for d in distances:
        err = {"oracle": 0.0, "completed": 0.0}
        count = 0
        for t in range(n - d):
            oracle = oracle_dis.calc(gray[t], gray[t + d], None)
            source_hole = dilate_mask(holes[t + d], 3).astype(np.uint8)
            seen = (warp(source_hole, oracle, cv2.INTER_NEAREST) == 0) & holes[t]
            if not seen.any():
                continue
            completed = refiner.residual(punched[t], punched[t + d], holes[t] | holes[t + d])
            for name, flow in (("oracle", oracle), ("completed", completed)):
                diff = warp(truth[t + d], flow).astype(np.float64) - truth[t]
                err[name] += float((diff[seen] ** 2).sum())
            count += int(seen.sum())
        out[d] = {name: db(e, count) for name, e in err.items()} if count else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", help="clips folder (default ../shared/clips or $VTA_CLIPS)")
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args(argv)
    root = cp.clips_root(args.clips)
    if not root.is_dir():
        print(f"clips not found at {root}: nothing to evaluate (skipped)")
        return 0
    print("PSNR (dB) of hole pixels that the source shows, warped with the oracle vs the completed flow")
    for mask_clip, frame_clip in cp.DEFAULT_PAIRS:
        if not (root / mask_clip / "masks").is_dir() or not (root / frame_clip / "frames").is_dir():
            continue
        r = eval_pair(root, mask_clip, frame_clip, args.frames)
        cells = [f"d={d}: oracle {v['oracle']:.1f} completed {v['completed']:.1f}" for d, v in r.items() if v]
        print(f"{mask_clip} masks on {frame_clip}: " + "   ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
