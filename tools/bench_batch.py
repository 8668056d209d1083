"""Speed-up of `vta-engine batch --ray auto` from one worker to two (and the sequential baseline).

Writes N generated shots (default 4 × 320x180 × 24 frames; track with one click, then remove,
classical backends) into a throwaway folder and runs the same shots file three times, each into
fresh outputs, as real `vta-engine batch` processes: sequential, Ray with 1 worker, Ray with 2.
Wall time includes Ray's start-up (a few seconds), as a user sees it; the per-shot time is the
sum of the shots' own times from the JSON summary. Usage:

    .venv/bin/python tools/bench_batch.py [--shots 4] [--size 320x180] [--frames 24] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.evaluation.synthetic import SyntheticClip  # noqa: E402


def write_shots(folder: Path, shots: int, width: int, height: int, frames: int) -> Path:
    items = []
    for i in range(shots):
        clip = SyntheticClip(width, height, frames, seed=100 + i)
        clip.write_movie(folder / f"clip{i}.mp4")
        x, y = clip.click(0)
        items.append({"name": f"sh{i + 1:03d}0", "video": f"clip{i}.mp4", "out": f"sh{i + 1:03d}0",
                      "objects": [{"name": "blob", "clicks": [{"frame": 0, "x": x, "y": y}]}], "remove": True})
    doc = {"version": 1, "defaults": {"segmenter": "classical", "tracker": "classical", "inpainter": "classical"},
           "shots": items}
    (folder / "shots.json").write_text(json.dumps(doc, indent=1))
    return folder / "shots.json"


def run(shots_file: Path, out_root: Path, extra: list[str]) -> tuple[float, float, list[str]]:
    """(wall seconds, sum of per-shot seconds, command) of one batch run into fresh outputs."""
    doc = json.loads(shots_file.read_text())
    for shot in doc["shots"]:
        shot["out"] = str(out_root / shot["name"])
    run_file = out_root.with_suffix(".json")
    run_file.write_text(json.dumps(doc))
    cmd = [sys.executable, "-m", "engine.cli", "batch", str(run_file), "--json", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {shlex.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    summary = json.loads(proc.stdout.splitlines()[-1])
    return wall, sum(s["seconds"] for s in summary["shots"]), cmd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts for --ray auto")
    args = ap.parse_args()
    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="vta-bench-batch-") as tmp:
        folder = Path(tmp)
        shots_file = write_shots(folder, args.shots, width, height, args.frames)
        print(f"{args.shots} shots, {width}x{height} x {args.frames} frames, track + remove, classical; "
              f"{os.cpu_count()} CPUs seen")
        wall, per_shot, cmd = run(shots_file, folder / "seq", [])
        print(f"sequential: {wall:6.1f} s wall ({per_shot:.1f} s in shots)   {shlex.join(cmd[2:])}")
        base = None
        for n in [int(w) for w in args.workers.split(",")]:
            wall, per_shot, cmd = run(shots_file, folder / f"ray{n}", ["--ray", "auto", "--workers", str(n)])
            base = base or wall
            print(f"ray {n} worker{'s' * (n != 1)}: {wall:6.1f} s wall ({per_shot:.1f} s in shots), "
                  f"speed-up {base / wall:.2f}x over 1 worker   {shlex.join(cmd[2:])}")


if __name__ == "__main__":
    main()
