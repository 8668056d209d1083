"""Tracking quality and speed on real footage, DAVIS protocol.

The ground-truth mask of frame 0 is given as the keyframe, the tracker runs forward, and every later
frame is scored: J (IoU) and F (boundary F-measure), per object, averaged over frames, then over
objects, then over clips. Two baselines run alongside: plain DIS flow warping and copying the first
mask. Clips come from ../shared/clips (or --clips / $VTA_CLIPS); without them the script says so and
exits 0.

    python tools/eval_tracking.py                       # DAVIS-16 clips + schoolgirls + bmx-trees
    python tools/eval_tracking.py --via session         # through Session + workflow.track (the product path)
    python tools/eval_tracking.py --clips DIR --json out.json
    python tools/eval_tracking.py --seeds 1,2,3 --option motion_gain=3   # a setting, over four seeds
    python tools/eval_tracking.py --step 2              # every second frame: twice the motion per frame

fps counts the tracker's own work on frames already decoded in memory (decoding excluded); the
fps with decoding (frames read from the JPEGs as the tracker asks for them) is printed as well.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backends import create  # noqa: E402
from engine.backends.flow import dis_flow  # noqa: E402
from engine.errors import EngineError  # noqa: E402
from engine.evaluation.metrics import boundary_f, jaccard  # noqa: E402
from engine.evaluation.options import parse_options  # noqa: E402
from engine.evaluation.truth import read_labels  # noqa: E402
from engine.quality import WEAK_BELOW, is_weak  # noqa: E402
from engine.video_io import VideoReader, open_video  # noqa: E402

DEFAULT_CLIPS = ["davis16-blackswan", "davis16-dog", "davis16-car-roundabout", "davis16-libby",
                 "e2fgvi-schoolgirls-432x240", "propainter-bmx-trees-432x240"]
DAVIS_MEAN_CLIPS = DEFAULT_CLIPS[:4]
BAD_J = 0.5  # a frame with J below this is one the weak flag should find


def clips_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("VTA_CLIPS"):
        return Path(os.environ["VTA_CLIPS"])
    return Path(__file__).resolve().parents[1].parent / "shared" / "clips"


class MemoryReader(VideoReader):
    """Frames decoded up front, so timing measures the tracker and not JPEG decoding; with `step`,
    every step-th frame only: the same shot with its motion `step` times faster between frames."""

    def __init__(self, source: VideoReader, step: int = 1) -> None:
        self._init_common()
        self.frames = [source.read(i) for i in range(0, len(source), step)]
        self.info = dataclasses.replace(source.info, frame_count=len(self.frames),
                                        frame_numbers=source.info.frame_numbers[::step])

    def read(self, index: int) -> np.ndarray:
        return self.frames[index]


def score(pred: dict[int, list[np.ndarray]], gt_frames: list[np.ndarray]) -> dict:
    """pred: object id → bool masks for frames 1..N-1; gt_frames: label images for frames 0..N-1."""
    per_object = {}
    for oid, masks in pred.items():
        js = [jaccard(m, g == oid) for m, g in zip(masks, gt_frames[1:])]
        fs = [boundary_f(m, g == oid) for m, g in zip(masks, gt_frames[1:])]
        per_object[oid] = (float(np.mean(js)), float(np.mean(fs)), js)
    j = float(np.mean([v[0] for v in per_object.values()]))
    f = float(np.mean([v[1] for v in per_object.values()]))
    return {"J": j, "F": f, "JF": (j + f) / 2, "objects": {str(k): {"J": v[0], "F": v[1]} for k, v in per_object.items()},
            "_per_frame_J": {k: v[2] for k, v in per_object.items()}}


def run_tracker(tracker, video, init: dict[int, np.ndarray], n: int, signals: list | None = None):
    """signals: when a list, the tracker's per-frame quality cues are appended to it (trackers whose
    state keeps them as `last_quality`, the classical one)."""
    masks = {oid: [] for oid in init}
    confs = {oid: [] for oid in init}
    start = time.perf_counter()
    if signals is None:
        steps = tracker.propagate(video, 0, init, list(range(1, n)))
    else:
        state = tracker.start(video, 0, init)
        steps = ((i, *state.step(i)) for i in range(1, n))
    for frame, probs, conf in steps:
        for oid in init:
            masks[oid].append(probs[oid] >= 0.5)
            confs[oid].append(conf[oid])
        if signals is not None and hasattr(state, "last_quality"):
            for oid, (q, cut_score, trust) in state.last_quality.items():
                signals.append({"frame": frame, "object": oid, "confidence": conf[oid], "cut_score": cut_score,
                                "trust": trust, **dataclasses.asdict(q)})
    return masks, confs, time.perf_counter() - start


def run_session(tracker, video_path: Path, init: dict[int, np.ndarray], n: int):
    from engine import workflow
    from engine.session import Session

    with tempfile.TemporaryDirectory() as tmp:
        video = open_video(video_path)
        session = Session.create(Path(tmp) / "s", str(video_path), len(video))
        ids = {}
        for oid, mask in init.items():
            obj = session.add_object(f"obj{oid}")
            session.set_keyframe(obj.id, 0, mask, source="mask")
            ids[oid] = obj.id
        start = time.perf_counter()
        workflow.track(session, video, tracker, workflow.TrackRequest(direction="forward"))
        elapsed = time.perf_counter() - start
        masks = {oid: [session.result_mask(ids[oid], i) for i in range(1, n)] for oid in init}
        conf = {oid: [session.confidence(ids[oid]).get(i, 0.0) for i in range(1, n)] for oid in init}
        return masks, conf, elapsed


def naive_warp(video, init: dict[int, np.ndarray], n: int) -> dict[int, list[np.ndarray]]:
    """Baseline: warp the previous mask by full-resolution DIS flow, nothing else."""
    dis = dis_flow("fast")
    prev = cv2.cvtColor(video.read(0), cv2.COLOR_RGB2GRAY)
    h, w = prev.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    probs = {k: v.astype(np.float32) for k, v in init.items()}
    out = {k: [] for k in init}
    for i in range(1, n):
        gray = cv2.cvtColor(video.read(i), cv2.COLOR_RGB2GRAY)
        flow = dis.calc(gray, prev, None)
        for k in probs:
            probs[k] = cv2.remap(probs[k], xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR)
            out[k].append(probs[k] >= 0.5)
        prev = gray
    return out


def spearman(a: list[float], b: list[float]) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def weak_flag_counts(confidences: list[float], js: list[float], bad_j: float = BAD_J) -> dict:
    """How well the weak flag (confidence below quality.WEAK_BELOW) finds the bad frames (J < bad_j):
    counts, so clips can be pooled; recall = flagged bad / bad, precision = flagged bad / flagged."""
    weak = [is_weak(c) for c in confidences]
    bad = [j < bad_j for j in js]
    hit = sum(w and b for w, b in zip(weak, bad))
    return {"frames": len(js), "bad": sum(bad), "weak": sum(weak), "weak_and_bad": hit}


def rate(num: int, den: int) -> float:
    return num / den if den else float("nan")


def weak_columns(c: dict) -> str:
    """bad frames, weak frames, recall, precision of the weak flag, as table columns."""
    return (f"{c['bad']:4d} {c['weak']:4d} {rate(c['weak_and_bad'], c['bad']):6.2f} "
            f"{rate(c['weak_and_bad'], c['weak']):6.2f}")


def evaluate_clip(folder: Path, tracker_name: str, via: str, baselines: bool, decode_timing: bool = True,
                  signals: list | None = None, options: dict | None = None, step: int = 1) -> dict:
    """signals: when a list, one record per object and frame is appended: the tracker's quality cues
    and the frame's true J (for choosing the confidence offline, docs/CONFIDENCE.md). step: every
    step-th frame only (direct calls only)."""
    frames_dir = folder / "frames"
    mask_files = sorted((folder / "masks").glob("*.png"))[::step]
    source = open_video(frames_dir)
    memory = MemoryReader(source, step)
    n = min(len(memory), len(mask_files))
    gt = [read_labels(p) for p in mask_files[:n]]
    ids = [int(i) for i in np.unique(gt[0]) if i != 0]
    init = {oid: gt[0] == oid for oid in ids}
    tracker = create("tracker", tracker_name, **(options or {}))
    result = {"clip": folder.name, "frames": n, "objects": len(ids), "step": step}
    if via == "session":
        masks, conf, elapsed = run_session(tracker, frames_dir, init, n)
    else:
        clip_signals = [] if signals is not None else None
        masks, conf, elapsed = run_tracker(tracker, memory, init, n, clip_signals)
    result["tracker"] = score(masks, gt)
    result["fps"] = (n - 1) / elapsed
    if signals is not None and via == "direct":
        js = result["tracker"]["_per_frame_J"]
        for rec in clip_signals:
            signals.append({"clip": folder.name, "J": js[rec["object"]][rec["frame"] - 1], **rec})
    if via == "direct" and decode_timing and step == 1:  # the same run again, decoding JPEGs as it goes
        _, _, with_decode = run_tracker(create("tracker", tracker_name, **(options or {})), open_video(frames_dir),
                                        init, n)
        result["fps_with_decoding"] = (n - 1) / with_decode
    per_frame_j = result["tracker"].pop("_per_frame_J")
    pairs_c = [c for oid in ids for c in conf[oid]]
    pairs_j = [j for oid in ids for j in per_frame_j[oid]]
    result["confidence_mean"] = float(np.mean(pairs_c))
    result["confidence_vs_J_spearman"] = spearman(pairs_c, pairs_j)
    result["weak_flag"] = weak_flag_counts(pairs_c, pairs_j)
    if baselines:
        result["naive_flow"] = score(naive_warp(memory, init, n), gt)
        result["copy_first"] = score({oid: [init[oid]] * (n - 1) for oid in ids}, gt)
        for key in ("naive_flow", "copy_first"):
            result[key].pop("_per_frame_J")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", help="folder of clips (default ../shared/clips or $VTA_CLIPS)")
    ap.add_argument("--tracker", default="classical")
    ap.add_argument("--only", nargs="*", help="clip names to run (default: the DAVIS four + schoolgirls + bmx-trees)")
    ap.add_argument("--via", choices=("direct", "session"), default="direct",
                    help="call the tracker directly, or go through Session + workflow.track")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--json", help="write all numbers here")
    ap.add_argument("--no-decode-timing", action="store_true",
                    help="skip the second run that times decoding (half the time)")
    ap.add_argument("--signals", help="write the tracker's per-frame quality cues and true J here (JSON lines)")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                    help="a tracker parameter (JSON value), e.g. seed=1 to see how much a figure moves with the "
                         "classical tracker's random seed (BENCHMARKS.md)")
    ap.add_argument("--seeds", help="comma-separated random seeds of the classical tracker to run the clips again "
                                    "with (quality only): each seed's J&F and their mean, i.e. how much of a "
                                    "difference is noise")
    ap.add_argument("--step", type=int, default=1,
                    help="score every STEP-th frame only: the same shots with STEP times faster motion between "
                         "frames (direct calls only)")
    args = ap.parse_args(argv)
    options = parse_options(args.option)
    if args.step < 1 or (args.step > 1 and args.via != "direct"):
        raise SystemExit("--step wants a whole number >= 1, and the direct calls (--via direct)")
    try:
        seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else []
    except ValueError:
        raise SystemExit(f"--seeds wants whole numbers separated by commas, not {args.seeds!r}") from None
    try:
        # a wrong name or value (or --seeds for a tracker without a seed) stops here, in one line
        create("tracker", args.tracker, **{**options, **({"seed": seeds[0]} if seeds else {})})
    except EngineError as exc:
        raise SystemExit(str(exc)) from None

    root = clips_root(args.clips)
    names = args.only or DEFAULT_CLIPS
    present = [n for n in names if (root / n / "frames").is_dir() and (root / n / "masks").is_dir()]
    if not present:
        print(f"no evaluation clips found in {root}: skipping")
        return 0
    cv2.setNumThreads(max(1, cv2.getNumThreads()))
    results = []
    header = (f"{'clip':32s} {'J':>6s} {'F':>6s} {'J&F':>6s}  {'naive':>6s} {'copy':>6s}  {'fps':>6s} {'fps+dec':>7s}"
              f"  conf~J  {'bad':>4s} {'weak':>4s} recall precis")
    print(header)
    signals = [] if args.signals else None
    for name in present:
        r = evaluate_clip(root / name, args.tracker, args.via, not args.no_baselines,
                          not args.no_decode_timing, signals, options, args.step)
        results.append(r)
        t = r["tracker"]
        naive = f"{r['naive_flow']['JF']:6.3f}" if "naive_flow" in r else "     -"
        copy = f"{r['copy_first']['JF']:6.3f}" if "copy_first" in r else "     -"
        dec = f"{r['fps_with_decoding']:7.1f}" if "fps_with_decoding" in r else "      -"
        print(f"{name:32s} {t['J']:6.3f} {t['F']:6.3f} {t['JF']:6.3f}  {naive} {copy}  {r['fps']:6.1f} {dec}  "
              f"{r['confidence_vs_J_spearman']:+6.2f}  {weak_columns(r['weak_flag'])}", flush=True)
    pooled = {k: sum(r["weak_flag"][k] for r in results) for k in results[0]["weak_flag"]}
    print(f"weak flag (confidence < {WEAK_BELOW}) vs J < {BAD_J}, all {len(results)} clips: "
          f"{weak_columns(pooled)}; rank correlation conf~J per clip: "
          + ", ".join(f"{r['clip']} {r['confidence_vs_J_spearman']:+.2f}" for r in results))
    if signals is not None:
        Path(args.signals).write_text("".join(json.dumps(rec) + "\n" for rec in signals))
    davis = [r for r in results if r["clip"] in DAVIS_MEAN_CLIPS]
    summary = {}
    if davis:
        for key in ("tracker", "naive_flow", "copy_first"):
            if key in davis[0]:
                summary[key] = {m: float(np.mean([r[key][m] for r in davis])) for m in ("J", "F", "JF")}
        t = summary["tracker"]
        line = f"{'DAVIS-16 mean (' + str(len(davis)) + ' clips)':32s} {t['J']:6.3f} {t['F']:6.3f} {t['JF']:6.3f}"
        if "naive_flow" in summary:
            line += f"  {summary['naive_flow']['JF']:6.3f} {summary['copy_first']['JF']:6.3f}"
        print(line)
    big = [r for r in results if r["clip"].startswith("davis16")]
    if big:
        print(f"tracking fps at 854x480, one object, decoding excluded: {np.mean([r['fps'] for r in big]):.1f}"
              + (f"; with decoding: {np.mean([r['fps_with_decoding'] for r in big]):.1f}" if "fps_with_decoding" in big[0] else ""))
    spread = seed_spread(root, present, args.tracker, args.via, options, seeds, results, args.step) if seeds else None
    if args.json:
        Path(args.json).write_text(json.dumps({"clips": results, "davis_mean": summary, "via": args.via,
                                               "tracker": args.tracker, "options": options, "weak_flag": pooled,
                                               "weak_below": WEAK_BELOW, "bad_j": BAD_J, "seeds": spread}, indent=1))
    return 0


def seed_spread(root: Path, names: list[str], tracker: str, via: str, options: dict, seeds: list[int],
                first: list[dict], step: int = 1) -> dict:
    """J&F of every clip with each of `seeds` (the run above counts as its own seed), printed as one
    line per seed with the means over the DAVIS clips and over all clips, then the mean over the seeds."""
    default = create("tracker", tracker, **options).params.seed
    rows = {options.get("seed", default): {r["clip"]: r["tracker"]["JF"] for r in first}}
    for seed in seeds:
        if seed not in rows:
            rows[seed] = {name: evaluate_clip(root / name, tracker, via, False, False, None,
                                              {**options, "seed": seed}, step)["tracker"]["JF"] for name in names}
    means = {seed: (float(np.mean([jf[c] for c in jf if c in DAVIS_MEAN_CLIPS] or [np.nan])),
                    float(np.mean(list(jf.values())))) for seed, jf in rows.items()}
    print(f"{'seed':>10s} {'DAVIS':>8s} {'all':>6s}  " + " ".join(f"{n[:12]:>12s}" for n in names))
    for seed, jf in rows.items():
        print(f"{seed:10d} {means[seed][0]:8.3f} {means[seed][1]:6.3f}  " + " ".join(f"{jf[n]:12.3f}" for n in names))
    print(f"{'mean':>10s} {np.mean([m[0] for m in means.values()]):8.3f} {np.mean([m[1] for m in means.values()]):6.3f}  "
          + " ".join(f"{np.mean([jf[n] for jf in rows.values()]):12.3f}" for n in names))
    return {str(seed): {"clips": jf, "davis_mean": means[seed][0], "mean": means[seed][1]} for seed, jf in rows.items()}


if __name__ == "__main__":
    raise SystemExit(main())
