#!/usr/bin/env python3
"""All quality evaluations on ../shared/clips in one run (the three protocols of its README):

    python tools/evaluate.py [--clips DIR] [--out out/eval]

- tracking J&F, DAVIS protocol (tools/eval_tracking.py),
- interactive IoU after 1/3/5 simulated clicks, NoC@85/90 (tools/eval_clicks.py),
- clean-plate PSNR/SSIM on the video-completion protocol vs per-frame Telea (tools/eval_cleanplate.py).
Each writes its JSON into --out; a missing clips folder is reported and skipped, not an error.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = [("tracking", "eval_tracking.py", []), ("clicks", "eval_clicks.py", []),
         ("cleanplate", "eval_cleanplate.py", [])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default=os.environ.get("VTA_CLIPS", str(REPO.parent / "shared" / "clips")))
    parser.add_argument("--out", default=str(REPO / "out" / "eval"))
    args = parser.parse_args()
    if not Path(args.clips).is_dir():
        print(f"clips folder {args.clips} not found: nothing to evaluate (see ../shared/clips/README.md)")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    status = 0
    for name, script, extra in STEPS:
        print(f"\n===== {name} =====", flush=True)
        cmd = [sys.executable, str(REPO / "tools" / script), "--clips", args.clips, "--json", str(out / f"{name}.json"), *extra]
        status |= subprocess.call(cmd, cwd=REPO)
    print(f"\nresults: {out}/{{tracking,clicks,cleanplate}}.json")
    return status


if __name__ == "__main__":
    sys.exit(main())
