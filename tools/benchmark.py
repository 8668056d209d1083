#!/usr/bin/env python3
"""Speed and memory of the engine core, for docs/BENCHMARKS.md (never a timed unit test).

    python tools/benchmark.py [--quick] [--sizes 854x480,1280x720,1920x1080] [--json out.json]

- click→mask latency at 854×480: first click on a frame (cold), on a prefetched frame, and later
  clicks (warm), through workflow.segment, so the session write is included;
- tracking fps, one object, through workflow.track (decode + track + PNG write);
- clean-plate fps through workflow.remove_masks (decode + inpaint + PNG write);
- plain DIS-flow mask warping in the same run (decode + flow + warp + PNG write of each matte): the
  tracker's and the clean plate's fps are also given as ratios of it, which compare across
  machines and days where absolute fps do not (issue #20); `--sizes` repeats these at other sizes
  on generated clips (davis16-dog stays the 854x480 source when present);
- peak memory (max RSS of a child process) of `vta-engine run` on a 300- and a 3000-frame generated
  clip (320x180 by default, --memory-size 854x480 for the full-size check; --memory-frames to choose
  the two lengths, e.g. 100,200 at 1920x1080, where the removal's window sets the peak).
Uses a DAVIS clip from ../shared/clips when present for latency/fps, else the generated clip.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from engine import backends  # noqa: E402
from engine.backends.flow import dis_flow, pixel_grid, warp_map  # noqa: E402
from engine.fileio import atomic_write_png, mask_to_png_array  # noqa: E402
from engine.fileio import read_mask  # noqa: E402
from engine import workflow  # noqa: E402
from engine.session import Click, Layout, Session  # noqa: E402
from engine.evaluation.synthetic import SyntheticClip  # noqa: E402
from engine.video_io import open_video  # noqa: E402

CLIPS = Path(os.environ.get("VTA_CLIPS", REPO.parent / "shared" / "clips"))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}, no GPU"


def source(tmp: Path, frames: int, size: tuple[int, int]) -> tuple[str, np.ndarray, tuple[int, int], str]:
    """(video path, first-frame mask, click, description)."""
    dog = CLIPS / "davis16-dog"
    if dog.is_dir() and size == (854, 480):
        mask = read_mask(dog / "masks" / "00000.png")
        dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        return str(dog / "frames"), mask, (int(x), int(y)), "davis16-dog (854x480 JPEG frames)"
    clip = SyntheticClip(size[0], size[1], frames)
    path = clip.write_movie(tmp / f"clip{size[0]}x{size[1]}.mp4")
    return str(path), clip.mask(0), clip.click(0), f"generated clip {size[0]}x{size[1]} H.264, {frames} frames"


def bench_plain_flow(video_path: str, mask: np.ndarray, tmp: Path, frames: int) -> dict:
    """The floor a tracker is measured against: warp the previous matte by full-resolution DIS flow
    (the 'fast' preset), decoding each frame and writing each matte as the tracker does."""
    with open_video(video_path) as video:
        n = min(frames, len(video))
        out = tmp / "plain"
        dis = dis_flow("fast")
        t = time.perf_counter()
        prev = cv2.cvtColor(video.read(0), cv2.COLOR_RGB2GRAY)
        grid = pixel_grid(*prev.shape)
        prob = mask.astype(np.float32)
        for i in range(1, n):
            gray = cv2.cvtColor(video.read(i), cv2.COLOR_RGB2GRAY)
            map_x, map_y = warp_map(dis.calc(gray, prev, None), grid)
            prob = cv2.remap(prob, map_x, map_y, cv2.INTER_LINEAR)
            atomic_write_png(out / f"{i:05d}.png", mask_to_png_array(prob >= 0.5))
            prev = gray
        dt = time.perf_counter() - t
    return {"frames": n - 1, "fps": round((n - 1) / dt, 1)}


def bench_click(video_path: str, click: tuple[int, int], mask: np.ndarray, tmp: Path, repeats: int) -> dict:
    """Clicks as the CLI makes them: the first on a frame (cold), the first on a frame whose
    features were prefetched while the artist looked at it (issue #20), and later ones (warm)."""
    segmenter = backends.create("segmenter")
    ahead = backends.create("segmenter")  # a second instance: its own cache, filled by prefetch
    cold, prefetched, warm = [], [], []
    ys, xs = np.nonzero(mask)
    rng = np.random.default_rng(0)
    with open_video(video_path) as video:
        for frame in range(min(repeats, len(video))):
            session = Session.create(tmp / f"click{frame}", video_path, len(video))
            obj = session.add_object("o")
            image = video.read(frame)  # decoding is not part of the click
            clicks = [Click(*click, True)]
            t = time.perf_counter()
            workflow.segment(session, video, segmenter, obj.id, workflow.SegmentRequest(frame, tuple(clicks)))
            cold.append(time.perf_counter() - t)
            looked_at = Session.create(tmp / f"ahead{frame}", video_path, len(video))
            ahead.prefetch(image, (looked_at.video, frame))
            t = time.perf_counter()
            workflow.segment(looked_at, video, ahead, looked_at.add_object("o").id,
                             workflow.SegmentRequest(frame, tuple(clicks[:1])))
            prefetched.append(time.perf_counter() - t)
            for _ in range(3):
                k = int(rng.integers(len(xs)))
                clicks.append(Click(float(xs[k]), float(ys[k]), True))
                t = time.perf_counter()
                workflow.segment(session, video, segmenter, obj.id, workflow.SegmentRequest(frame, tuple(clicks)))
                warm.append(time.perf_counter() - t)
    ms = lambda v: round(1000 * v, 1)  # noqa: E731
    return {"segmenter": segmenter.name, "cold_ms_median": ms(statistics.median(cold)),
            "prefetched_ms_median": ms(statistics.median(prefetched)),
            "prefetched_ms_p95": ms(float(np.percentile(prefetched, 95))),
            "warm_ms_median": ms(statistics.median(warm)), "warm_ms_p95": ms(float(np.percentile(warm, 95))),
            "clicks": len(cold) + len(warm)}


def bench_track(video_path: str, mask: np.ndarray, tmp: Path, frames: int) -> dict:
    with open_video(video_path) as video:
        n = min(frames, len(video))
        session = Session.create(tmp / "track", video_path, len(video))
        obj = session.add_object("o")
        session.set_keyframe(obj.id, 0, mask)
        tracker = backends.create("tracker")
        t = time.perf_counter()
        workflow.track(session, video, tracker, workflow.TrackRequest(direction="forward", start=0, end=n - 1))
        dt = time.perf_counter() - t
    return {"tracker": tracker.name, "frames": n - 1, "fps": round((n - 1) / dt, 1), "session": str(session.root)}


def bench_remove(video_path: str, session_dir: str, frames: int) -> dict:
    with open_video(video_path) as video:
        masks = workflow.MaskFolders.find(session_dir, (video.height, video.width))
        n = min(frames, len(masks.frames()))
        inpainter = backends.create("inpainter")
        t = time.perf_counter()
        workflow.remove_masks(video, inpainter, masks, Layout(Path(session_dir) / "bench"),
                              workflow.RemoveRequest(start=0, end=n - 1))
        dt = time.perf_counter() - t
    return {"inpainter": inpainter.name, "frames": n, "fps": round(n / dt, 2)}


def peak_memory(tmp: Path, frames: int, size: tuple[int, int]) -> dict:
    clip = SyntheticClip(size[0], size[1], frames)
    movie = clip.write_movie(tmp / f"mem{frames}.mp4")
    x, y = clip.click(0)
    code = ("import resource,sys; from engine.cli import main; rc=main(sys.argv[1:]); "
            "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, "run", str(movie), "--click", f"{x},{y}",
                           "--direction", "forward", "--out", str(tmp / f"mem{frames}")],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    rss_kib = int([line for line in proc.stdout.splitlines() if line.startswith("MAXRSS")][0].split()[1])
    return {"frames": frames, "size": f"{size[0]}x{size[1]}", "peak_rss_mib": round(rss_kib / 1024, 1),
            "seconds": round(time.perf_counter() - t, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer frames; memory test at 30 vs 300 frames")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--sizes", default="854x480",
                        help="comma-separated frame sizes for the fps and ratio runs, e.g. 854x480,1280x720,1920x1080")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--memory-size", default="320x180",
                        help="frame size of the generated memory clips (854x480 takes ~15 min for 3000 frames)")
    parser.add_argument("--memory-frames", help="the two clip lengths of the memory runs, e.g. 100,200 "
                        "(default 300,3000; 30,300 with --quick)")
    args = parser.parse_args()
    lengths = (30, 300) if args.quick else (300, 3000)
    if args.memory_frames:
        try:
            lengths = tuple(int(v) for v in args.memory_frames.split(","))
        except ValueError:
            lengths = ()
        if len(lengths) != 2 or min(lengths) < 2:
            parser.error(f"--memory-frames takes two clip lengths of at least 2 frames, e.g. 100,200; got '{args.memory_frames}'")
    mem_size = tuple(int(v) for v in args.memory_size.lower().split("x"))
    sizes = [tuple(int(v) for v in item.lower().split("x")) for item in args.sizes.split(",")]
    results: dict = {"machine": machine(), "command": "python tools/benchmark.py" + (" --quick" if args.quick else "")}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if not args.memory_only:
            for size in sizes:
                key = f"{size[0]}x{size[1]}"
                video_path, mask, click, desc = source(tmp / key, 60, size)
                run: dict = {"source": desc}
                if size == (854, 480):
                    # 24 frames: a p95 of 6 first clicks was their slowest one
                    run["click"] = bench_click(video_path, click, mask, tmp, 3 if args.quick else 24)
                    print("click→mask:", run["click"], flush=True)
                run["plain_flow"] = bench_plain_flow(video_path, mask, tmp / key, 20 if args.quick else 60)
                run["track"] = bench_track(video_path, mask, tmp / key, 20 if args.quick else 60)
                run["remove"] = bench_remove(video_path, run["track"].pop("session"), 10 if args.quick else 30)
                plain = run["plain_flow"]["fps"]
                run["track"]["vs_plain_flow"] = round(run["track"]["fps"] / plain, 3)
                run["remove"]["vs_plain_flow"] = round(run["remove"]["fps"] / plain, 3)
                print(f"{key}: plain flow {plain} fps; tracking {run['track']['fps']} fps "
                      f"({run['track']['vs_plain_flow']}x); clean plate {run['remove']['fps']} fps "
                      f"({run['remove']['vs_plain_flow']}x)", flush=True)
                results[key] = run
        if not args.skip_memory:
            mem = [peak_memory(tmp, n, mem_size) for n in lengths]
            results["memory"] = {"runs": mem, "ratio": round(mem[1]["peak_rss_mib"] / mem[0]["peak_rss_mib"], 3)}
            print("peak memory:", results["memory"], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
