"""Run shots as Ray tasks: one task per shot, on a local Ray or on the user's cluster.

Ray does the scheduling, the resource accounting (a CPU per task; a GPU when a learned backend is
asked to run on CUDA) and the retries when a worker dies. A retried task simply runs the shot's
commands again, and the CLI's own resume skips every frame that was finished, so Ray needs to know
nothing about frames. Each task first checks that it sees the probe file the driver wrote into the
shot's `out`: a worker on another machine that does not share that storage fails the shot with a
clear message instead of writing results nobody will find.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time

from .. import config
from ..errors import EngineError
from .run_local import CommandFn, ShotResult, run_shot
from .shots import BACKEND_KINDS, Options, Shot
from .storage import PROBE, remove_probes, write_probes


def import_ray():
    """Ray is an optional extra, imported only when --ray is given."""
    try:
        import ray
    except ImportError:
        raise EngineError("--ray needs Ray, which is not installed: pip install 'vse-track-anything[ray]' "
                          "(or pip install 'ray>=2.9')") from None
    return ray


def wants_gpu(options: Options) -> bool:
    """A task needs a GPU when the device asked for is CUDA and some backend may be a learned one
    (a backend named "classical" never touches the GPU; "auto" may pick a learned one)."""
    device = options.device or ""
    return device.startswith("cuda") and any(getattr(options, k) != "classical" for k in BACKEND_KINDS)


def task_resources(shot: Shot) -> dict:
    return {"num_cpus": 1, "num_gpus": 1 if wants_gpu(shot.options) else 0}


class ProgressBoard:
    """A Ray actor holding the latest progress of every running shot: tasks post to it (at most a
    few times a second, never waiting), the driver collects it between `ray.wait` calls."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple] = {}

    def post(self, shot: str, *progress) -> None:
        self.latest[shot] = progress

    def collect(self) -> dict[str, tuple]:
        latest, self.latest = self.latest, {}
        return latest


def _poster(board, interval: float = 0.25):
    """A run_shot progress callback that forwards to the board, throttled."""
    last = [0.0]

    def post(shot, step, steps, label, done, total) -> None:
        now = time.monotonic()
        if board is not None and (done >= total or now - last[0] >= interval):
            last[0] = now
            board.post.remote(shot, step, steps, label, done, total)
    return post


def _shot_task(shot_data: dict, token: str, run_command: CommandFn, crash: str | None, board=None) -> dict:
    """What runs on a Ray worker: check the storage, then the shot's CLI commands."""
    shot = Shot.from_dict(shot_data)
    host = os.uname().nodename
    try:
        seen = (shot.out / PROBE).read_text()
    except OSError:
        seen = None
    if seen != token:
        return ShotResult(shot.name, "failed", shot.frames, 0.0,
                          f"out '{shot.out}' is not the driver's storage on worker {host}: "
                          "every worker must see the same (shared) storage", host).to_dict()
    if shot.options.device and shot.options.device.startswith("cuda:"):
        # Ray gives the task its GPU through CUDA_VISIBLE_DEVICES: it is always "cuda" in the task
        shot = Shot(**{**shot.__dict__, "options": Options(**{**shot.options.__dict__, "device": "cuda"})})
    return run_shot(shot, run_command, _poster(board), crash).to_dict()


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a cluster address nobody answers at (Ray itself keeps retrying for minutes)."""
    host_port = address.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise EngineError(f"--ray takes 'auto' or a cluster address HOST:PORT (or ray://HOST:PORT), got '{address}'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EngineError(f"cannot reach the Ray cluster at '{address}': {exc.strerror or exc}") from None


def _connect(ray, address: str, workers: int | None) -> None:
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address == "auto":
        ray.init(address="local", num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, **quiet)
    else:
        _check_reachable(address)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EngineError(f"cannot join the Ray cluster at '{address}': {exc}") from None


def run_on_ray(shots: list[Shot], reporter, run_command: CommandFn, address: str, workers: int | None,
               retries: int = 3) -> list[ShotResult]:
    """One task per shot; each shot is reported as it finishes (ray.wait). Ray prints its own
    notices (a worker died, ...) on whatever sys.stdout is; they go to stderr, so that stdout
    holds only the reporter's lines (pure JSON lines with --json)."""
    with contextlib.redirect_stdout(sys.stderr):
        return _run_on_ray(shots, reporter, run_command, address, workers, retries)


def _run_on_ray(shots: list[Shot], reporter, run_command: CommandFn, address: str, workers: int | None,
                retries: int) -> list[ShotResult]:
    ray = import_ray()
    token = write_probes(shots)
    try:
        _connect(ray, address, workers)
        try:
            if any(task_resources(s)["num_gpus"] for s in shots) and ray.cluster_resources().get("GPU", 0) < 1:
                raise EngineError("a shot asks for a learned backend on CUDA but the Ray cluster has no GPU")
            limit = workers if address != "auto" and workers else None  # on a cluster: tasks in flight
            results = _schedule(ray, shots, reporter, run_command, token, limit, retries)
        finally:
            ray.shutdown()
    finally:
        remove_probes(shots)
    order = {s.name: i for i, s in enumerate(shots)}
    return sorted(results, key=lambda r: order[r.shot])  # the summary lists shots in file order


def _schedule(ray, shots: list[Shot], reporter, run_command: CommandFn, token: str, limit: int | None,
              retries: int) -> list[ShotResult]:
    """Submit (at most `limit` in flight), pass progress on, collect results as they come."""
    task = ray.remote(_shot_task)
    board = ray.remote(num_cpus=0)(ProgressBoard).remote()
    crash = config.current().batch_crash_after
    queue, pending, submitted, results = list(shots), {}, {}, []
    while queue or pending:
        while queue and (limit is None or len(pending) < limit):
            shot = queue.pop(0)
            ref = task.options(max_retries=retries, **task_resources(shot)).remote(shot.to_dict(), token, run_command, crash, board)
            pending[ref], submitted[shot.name] = shot, time.monotonic()
            reporter.started(shot)
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
        running = {s.name for s in pending.values()}
        for name, progress in ray.get(board.collect.remote()).items():
            if name in running:
                reporter.progress(name, *progress)
        for ref in ready:
            shot = pending.pop(ref)
            try:
                result = ShotResult(**ray.get(ref))
            except Exception as exc:  # the worker died more than max_retries times, or a bug
                first_line = (str(exc).splitlines() or [""])[0]
                result = ShotResult(shot.name, "failed", shot.frames, time.monotonic() - submitted[shot.name],
                                    f"Ray task failed: {type(exc).__name__}: {first_line}")
            reporter.finished(result)
            results.append(result)
    return results
