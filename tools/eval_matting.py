"""Soft-matte quality on rendered clips with exact alpha (tools/make_matting_clip.py).

The first frame's alpha, thresholded at 0.5, is the keyframe; the tracker runs forward through the
product path (Session + workflow.track) once per matte variant, and every later frame is scored
against the true alpha with the video-matting protocol (MAD, MSE, Grad, dtSSD; engine/evaluation/
matting.py) and, thresholded at 0.5, with the DAVIS J&F. Variants:

    hard     png8, the default hard matte
    16-bit   png16 with the tracker's own probability and no temporal smoothing (the option before
             the matte finish existed)
    soft     png16 with the default finish (engine/matte): refined edges, steadied in time

    python tools/eval_matting.py /work/data/matting/tune-*           # clip folders
    python tools/eval_matting.py CLIP --matte band=0.01 --matte eps=1e-3   # try other finish settings
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import backends, workflow  # noqa: E402
from engine.evaluation.matting import MattingScores  # noqa: E402
from engine.evaluation.metrics import boundary_f, jaccard  # noqa: E402
from engine.evaluation.options import parse_options  # noqa: E402
from engine.fileio import read_coverage  # noqa: E402
from engine.session import Session  # noqa: E402
from engine.video_io import open_video  # noqa: E402

VARIANTS = {
    "hard": ("png8", {}),
    "16-bit": ("png16", {"edges": "tracker", "temporal": 0.0}),
    "soft": ("png16", {}),
}


def read_alpha(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read alpha {path}")
    return image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)


def track_variant(clip: Path, tracker, matte_format: str, options: dict) -> list[np.ndarray]:
    """The mattes (coverage 0..1) of frames 1..N-1, tracked forward from frame 0's true alpha."""
    with tempfile.TemporaryDirectory() as tmp, open_video(clip / "frames") as video:
        session = Session.create(Path(tmp) / "s", str(clip / "frames"), len(video))
        obj = session.add_object("object")
        session.set_keyframe(obj.id, 0, read_alpha(clip / "alpha" / "00000.png") >= 0.5, source="mask")
        workflow.track(session, video, tracker, workflow.TrackRequest(
            direction="forward", matte_format=matte_format, matte=options))
        files = session.result_files(obj)
        return [read_coverage(files[i]) for i in range(1, len(video))]


def score_clip(clip: Path, mattes: list[np.ndarray]) -> dict:
    scores, js, fs = MattingScores(), [], []
    for i, pred in enumerate(mattes, start=1):
        true = read_alpha(clip / "alpha" / f"{i:05d}.png")
        scores.add(pred, true)
        js.append(jaccard(pred >= 0.5, true >= 0.5))
        fs.append(boundary_f(pred >= 0.5, true >= 0.5))
    out = scores.means()
    out["JF"] = float((np.mean(js) + np.mean(fs)) / 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", help="clip folders with frames/ and alpha/")
    ap.add_argument("--tracker", default="classical")
    ap.add_argument("--matte", action="append", default=[], metavar="KEY=VALUE",
                    help="finish settings for the soft variant (engine/matte/params.py)")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--json", help="write all numbers here")
    args = ap.parse_args(argv)
    clips = [Path(c) for c in args.clips if (Path(c) / "alpha").is_dir()]
    if not clips:
        print("no rendered matting clips given (make them with tools/make_matting_clip.py): skipping")
        return 0
    tracker = backends.create("tracker", args.tracker)
    soft_options = parse_options(args.matte)
    results = {}
    print(f"{'clip':34s} {'variant':8s} {'MAD':>7s} {'MSE':>7s} {'Grad':>7s} {'dtSSD':>7s} {'J&F':>6s}")
    for clip in clips:
        results[clip.name] = {}
        for name in args.variants:
            fmt, options = VARIANTS[name]
            options = {**options, **soft_options} if name == "soft" else options
            r = score_clip(clip, track_variant(clip, tracker, fmt, options))
            results[clip.name][name] = r
            print(f"{clip.name:34s} {name:8s} {r['MAD']:7.2f} {r['MSE']:7.2f} {r['Grad']:7.2f} {r['dtSSD']:7.2f} "
                  f"{r['JF']:6.3f}", flush=True)
    if len(clips) > 1:
        for name in args.variants:
            mean = {k: float(np.mean([results[c.name][name][k] for c in clips])) for k in results[clips[0].name][name]}
            print(f"{'mean of ' + str(len(clips)) + ' clips':34s} {name:8s} {mean['MAD']:7.2f} {mean['MSE']:7.2f} "
                  f"{mean['Grad']:7.2f} {mean['dtSSD']:7.2f} {mean['JF']:6.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"clips": results, "soft_options": soft_options}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
