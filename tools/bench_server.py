"""Click round-trip latency over the socket, through the add-on's standard-library client.

Starts a real engine (`python -m engine.server`) on a free loopback port with a throwaway state
folder, opens an 854x480 synthetic clip, and measures:
  1. single client, warm frame (the segmenter's per-frame cache is filled by a first click);
  2. single client, the first click on frames never seen, alternately cold and after a prefetch of
     the frame followed by --look seconds (an artist looking at it; the add-on sends the prefetch
     when the playhead rests), issue #20. The prefetch is sent right after the previous click, so
     it waits behind that click's neighbour prefetches (the engine's one prefetch thread works
     first in, first out): the worst case for a given look;
  3. N concurrent clients clicking (each on its own warm frame) while a track job runs.
Prints p50/p95/max and errors. Usage:

    .venv/bin/python tools/bench_server.py [--clicks 60] [--first 20] [--look 0.5] [--clients 8]
                                           [--frames 240] [--size 854x480]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.fileio import encode_png, mask_to_png_array  # noqa: E402
from engine.evaluation.synthetic import SyntheticClip  # noqa: E402
from tests.conftest_server import EngineProcess  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary(label: str, ms: list[float], errors: int) -> str:
    if not ms:
        return f"{label}: no successful clicks, {errors} errors"
    return (f"{label}: n={len(ms)} p50={statistics.median(ms):.1f} ms p95={pct(ms, 95):.1f} ms "
            f"max={max(ms):.1f} ms errors={errors}")


def timed_clicks(client, sid, obj, frame, points, fmt, starts: list[float] | None = None) -> tuple[list[float], int]:
    """Latencies in ms (and, in `starts`, when each click was sent) of a client clicking `points`."""
    times, errors = [], 0
    for i, (x, y) in enumerate(points):
        t0 = time.perf_counter()
        try:
            client.click(sid, obj, frame, x, y, positive=i % 4 != 3 or i == 0, format=fmt)
            times.append((time.perf_counter() - t0) * 1000)
            if starts is not None:
                starts.append(t0)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors += 1
            print(f"  click error: {exc}", file=sys.stderr)
        # each client undoes to keep the click list short, as an artist refining would
        if i % 3 == 2:
            try:
                client.undo_click(sid, obj, frame, format="none")
            except Exception:  # noqa: BLE001
                pass
    return times, errors


def first_clicks(client, sid, obj, clip, frames: list[int], look: float, fmt: str) -> tuple[dict, dict, int]:
    """The first click on each of `frames`, alternately on a cold frame and on one prefetched `look`
    seconds before (an artist looking at it); a cold click waits as long, so both kinds find the
    engine idle and cover the same part of the clip. Returns latencies in ms and errors per kind
    ("cold", "prefetched") and how many prefetches the engine queued."""
    ms: dict = {"cold": [], "prefetched": []}
    errors = {"cold": 0, "prefetched": 0}
    queued = 0
    for i, frame in enumerate(frames):
        kind = "prefetched" if i % 2 else "cold"
        try:
            if kind == "prefetched":
                queued += bool(client.prefetch(sid, frame)["queued"])
            time.sleep(look)
            t0 = time.perf_counter()
            client.click(sid, obj, frame, *clip.click(frame), format=fmt)
            ms[kind].append((time.perf_counter() - t0) * 1000)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors[kind] += 1
            print(f"  click error: {exc}", file=sys.stderr)
    return ms, errors, queued


def jitter_points(clip, frame: int, n: int) -> list[tuple[float, float]]:
    import numpy as np

    rng = np.random.default_rng(frame)
    x, y = clip.click(frame)
    r = clip.radius * 0.4
    return [(float(x + rng.uniform(-r, r)), float(y + rng.uniform(-r, r))) for _ in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=60, help="clicks per client (default 60)")
    parser.add_argument("--first", type=int, default=20, help="first clicks of each kind, cold and prefetched")
    parser.add_argument("--look", type=float, default=0.5, help="seconds between a prefetch and its click")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--frames", type=int, default=240, help="clip length (the track job runs over it)")
    parser.add_argument("--size", default="854x480")
    parser.add_argument("--format", default="rle", choices=["rle", "png", "both", "none"])
    parser.add_argument("--segmenter", default="classical")
    parser.add_argument("--no-job", action="store_true", help="the N clients click without a track job running")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory(prefix="vta-bench-") as tmp:
        engine = EngineProcess(Path(tmp), args=("--segmenter", args.segmenter))
        clip = SyntheticClip(w, h, args.frames, seed=11)
        movie = clip.write_movie(engine.home / "bench.mp4")
        engine.start()
        try:
            client = engine.client()
            info = client.connect()
            print(f"engine {info['version']} protocol {info['protocol']} backends {info['backends']} "
                  f"device {info['device']}; clip {w}x{h}x{args.frames}, mask format {args.format}")
            s = client.open_session(str(movie))
            sid = s["id"]
            obj = client.add_object(sid, "blob")["id"]

            # 1. one client, warm frame
            frame = 10
            client.click(sid, obj, frame, *clip.click(frame), format="none")  # warms decode + segmenter cache
            ms, errors = timed_clicks(client, sid, obj, frame, jitter_points(clip, frame, args.clicks), args.format)
            print(summary("single client, warm frame", ms, errors))

            # 2. first clicks, on frames 3 apart (a click prefetches its neighbours)
            fresh = list(range(frame + 3, args.frames, 3))[:2 * args.first]
            first, first_err, queued = first_clicks(client, sid, client.add_object(sid, "first")["id"], clip, fresh,
                                                    args.look, args.format)
            print(summary("first click on a cold frame", first["cold"], first_err["cold"]))
            print(summary(f"first click after prefetch ({args.look:g} s look)", first["prefetched"],
                          first_err["prefetched"]) + f", prefetches queued {queued}/{len(fresh) // 2}")
            errors += sum(first_err.values())

            # 3. N clients clicking while a track job runs
            track_obj = client.add_object(sid, "tracked")["id"]
            client.import_mask(sid, track_obj, 0, encode_png(mask_to_png_array(clip.mask(0))))
            frames = [20 + 7 * i for i in range(args.clients)]
            objs = [client.add_object(sid, f"c{i}")["id"] for i in range(args.clients)]
            for f, o in zip(frames, objs):
                client.click(sid, o, f, *clip.click(f), format="none")
            job = None if args.no_job else client.track(sid, objects=[track_obj], direction="forward")
            results: list[tuple[list[float], int]] = [([], 0)] * args.clients
            starts: list[list[float]] = [[] for _ in range(args.clients)]
            job_end: list[float] = []

            def run(i: int) -> None:
                c = engine.client()
                results[i] = timed_clicks(c, sid, objs[i], frames[i], jitter_points(clip, frames[i], args.clicks),
                                          args.format, starts[i])

            def watch_job() -> None:  # when the job ended, to split the clicks into during / after it
                c = engine.client()
                while c.job(job["id"])["status"] in ("queued", "running"):
                    time.sleep(0.05)
                job_end.append(time.perf_counter())

            if job is not None:
                threading.Thread(target=watch_job, daemon=True).start()

            threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            all_ms = [m for r in results for m in r[0]]
            all_err = sum(r[1] for r in results)
            label = f"{args.clients} clients" + (" (no job)" if job is None else " during a track job")
            print(summary(label, all_ms, all_err))
            if job is None:
                print(f"  {len(all_ms) / elapsed:.1f} clicks/s overall")
                return 1 if errors or all_err else 0
            state = client.job(job["id"])
            print(f"  {len(all_ms) / elapsed:.1f} clicks/s overall; job was {state['status']} at "
                  f"{state['done']}/{state['total']} frames when the clients finished")
            final = client.wait(job["id"])
            end = job_end[0] if job_end else time.perf_counter()
            pairs = [(t, m) for r, st in zip(results, starts) for t, m in zip(st, r[0])]
            print(summary("  clicks sent while the job ran", [m for t, m in pairs if t < end], 0))
            print(summary("  clicks sent after it ended", [m for t, m in pairs if t >= end], 0))
            print(f"  track job finished: {final['status']} ({final['done']}/{final['total']} frames) "
                  f"{end - t0:.1f} s after the clients started")
            return 1 if errors or all_err or final["status"] != "done" else 0
        finally:
            engine.stop()


if __name__ == "__main__":
    sys.exit(main())
