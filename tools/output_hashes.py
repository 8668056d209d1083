"""Fingerprints of what the engine writes, for changes that must keep the output bit-identical.

Runs `vta-engine` (as a user would: segment, track with a mask and a second keyframe, remove) on a
generated clip and, when ../shared/clips is present, on the start of davis16-dog, then prints one
sha256 over every matte and clean-plate image per run. Compare the printed lines before and after a
refactor or a speed-up:

    .venv/bin/python tools/output_hashes.py > before.txt   # on the old commit
    .venv/bin/python tools/output_hashes.py | diff before.txt -
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLIPS = Path(os.environ.get("VTA_CLIPS", REPO.parent / "shared" / "clips"))
IMAGE_SUFFIXES = {".png", ".exr", ".tif", ".tiff", ".dpx"}


def vta(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, cwd=REPO, capture_output=True,
                         text=True)
    if run.returncode:
        sys.exit(f"vta-engine {' '.join(args)} failed ({run.returncode}):\n{run.stderr[-2000:]}")


def digest(folder: Path, part: str) -> str:
    """One sha256 over the images under folder/part, in name order (frame order). PNGs count by
    their decoded pixels (shape, type, values), so an encoder setting that keeps every pixel keeps
    the hash; other formats by their bytes."""
    h = hashlib.sha256()
    files = sorted(p for p in (folder / part).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    for p in files:
        # the frame number and extension, not the sequence name a numbered output puts before
        # them (`obj.00003.png` hashes as `00003.png`, the name outputs had before they carried one)
        h.update(re.sub(r"^.*\.(-?\d+)(\.\w+)$", r"\1\2", p.name).encode())
        if p.suffix.lower() == ".png":
            pixels = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            h.update(f"{pixels.shape}{pixels.dtype}".encode())
            h.update(np.ascontiguousarray(pixels).tobytes())
        else:
            h.update(p.read_bytes())
    return f"{len(files):4d} files {h.hexdigest()[:16]}"


def run_case(name: str, video: str, mask: str, click: str, end: int, second: int, work: Path) -> None:
    out = work / name
    vta("track", video, "--init-mask", mask, "--frame", "0", "--end", str(end), "--out", str(out), "--object", "obj")
    vta("track", video, f"--click={click}", "--frame", str(second), "--end", str(end), "--out", str(out),
        "--object", "obj")
    vta("remove", video, "--masks", str(out), "--end", str(end), "--out", str(out))
    print(f"{name:10s} masks {digest(out, 'masks')}  clean {digest(out, 'clean')}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="frames per run (default 24)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        from engine.fileio import atomic_write_png, mask_to_png_array
        try:
            from engine.evaluation.synthetic import SyntheticClip
        except ImportError:  # before the evaluation package existed
            from engine.evaluation.synthetic import SyntheticClip

        clip = SyntheticClip(320, 180, args.frames)
        movie = clip.write_movie(work / "clip.mp4")
        atomic_write_png(work / "clip_mask.png", mask_to_png_array(clip.mask(0)))
        x, y = clip.click(args.frames // 2)
        run_case("synthetic", str(movie), str(work / "clip_mask.png"), f"{x},{y}", args.frames - 1,
                 args.frames // 2, work)
        dog = CLIPS / "davis16-dog"
        if dog.is_dir():
            run_case("dog", str(dog / "frames"), str(dog / "masks" / "00000.png"), "430,260", args.frames - 1,
                     args.frames // 2, work)
        else:
            print(f"dog        skipped: {dog} not found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
