"""`vta-engine batch SHOTS.json`: many shots headless, in this process or as Ray tasks.

Each shot runs as the `vta-engine track` / `remove` commands an artist would type (commands.py),
through the CLI's own code path, so resume, atomic writes and error messages are the CLI's. The
whole shots file is checked before any work starts (shots.py). See docs/BATCH.md.
"""

from __future__ import annotations

import time

from ..errors import EngineError
from .shots import ShotsFileError, load_shots, select


def add_batch_arguments(p) -> None:
    p.add_argument("shots", metavar="SHOTS.json", help="the shots file (docs/BATCH.md)")
    p.add_argument("--shot", action="append", metavar="NAME",
                   help="run only this shot; repeat for several (a farm task runs one)")
    p.add_argument("--ray", metavar="auto|ADDRESS",
                   help="one Ray task per shot: 'auto' starts Ray on this machine, an address joins a cluster")
    p.add_argument("--workers", type=int, metavar="N",
                   help="with --ray auto: CPUs (= shots at once) of the local Ray; with an address: "
                        "at most N shots in flight (default: no limit)")
    p.add_argument("--check", action="store_true",
                   help="check the shots file and print each shot's vta-engine commands; run nothing")
    p.add_argument("--retries", type=int, default=3, metavar="N",
                   help="with --ray: times a shot is retried when its worker dies (default 3)")


def cmd_batch(args, run_command) -> None:
    """Check the file, run the shots, print the summary; EngineError (exit 2) when any shot failed.
    `run_command(argv) -> exit status` is the CLI's main, through which every step of a shot runs."""
    from .report import Reporter

    reporter = Reporter(args.json)
    if args.workers is not None and args.workers < 1:
        raise EngineError("--workers must be at least 1")
    if args.workers is not None and not args.ray:
        raise EngineError("--workers needs --ray (without it, shots run one after another)")
    if args.retries < 0:
        raise EngineError("--retries must be 0 or more")
    try:
        shots = select(load_shots(args.shots), args.shot)
    except ShotsFileError as exc:
        for line in exc.errors:
            reporter.invalid(line)
        raise
    if args.check:
        reporter.plan(shots)
        return
    t0 = time.monotonic()
    if args.ray:
        from .run_ray import import_ray, run_on_ray

        import_ray()  # a missing extra is reported before anything else happens
        reporter.begin(shots, f"Ray {args.ray}" + (f", {args.workers} workers" if args.workers else ""))
        results = run_on_ray(shots, reporter, run_command, args.ray, args.workers, args.retries)
    else:
        from .run_local import run_sequential
        from .storage import remove_probes, write_probes

        write_probes(shots)  # every out is writable, checked before any work starts
        remove_probes(shots)
        reporter.begin(shots, "sequential")
        results = run_sequential(shots, reporter, run_command)
    reporter.summary(results, time.monotonic() - t0)
    failed = [r.shot for r in results if r.status != "done"]
    if failed:
        raise EngineError(f"{len(failed)} of {len(results)} shots failed: {', '.join(failed)}")
