"""Run shots in this process, one after another, each through the CLI's `main` (handed in by
engine/cli.py, so the batch never imports the CLI that imports it).

Each step's `--json` output is read line by line (never shown raw): progress events feed the batch's
own progress line, the last error event becomes the shot's failure message. A failed step ends its
shot; the batch goes on with the next shot.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .. import config
from .commands import shot_steps
from .shots import Shot

# on_progress(shot name, step index, step count, step label, done, total)
ProgressFn = Callable[[str, int, int, str, int, int], None]
CommandFn = Callable[[list[str]], int]  # argv → exit status: the CLI's main

# Test-only fault injection ($VTA_BATCH_CRASH_AFTER, read by engine/config.py): "SHOT:N:MARKER"
# makes the process running SHOT exit abruptly once N frames of it are written, unless MARKER exists
# (so only the first attempt dies). The marker holds the inode and mtime of every frame finished at
# that moment, to prove a retry rewrote none of them.


@dataclass
class ShotResult:
    shot: str
    status: str          # "done" or "failed"
    frames: int          # frames in the shot's range
    seconds: float
    message: str = ""
    host: str = ""

    def to_dict(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


class _JsonLines(io.TextIOBase):
    """A stdout stand-in that hands each complete JSON line to `on_event`."""

    def __init__(self, on_event: Callable[[dict], None]) -> None:
        self.on_event, self.pending = on_event, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                self.on_event(event)
        return len(text)


def frame_files(out: Path) -> dict[str, list[int]]:
    """Every finished matte and clean-plate frame under `out`: relative path → [inode, mtime_ns]."""
    found = {}
    for sub in ("masks", "clean"):
        for path in sorted((out / sub).rglob("*.png")) if (out / sub).is_dir() else []:
            st = path.stat()
            found[str(path.relative_to(out))] = [st.st_ino, st.st_mtime_ns]
    return found


def _crash_hook(shot: Shot, spec: str | None) -> Callable[[dict], None]:
    if not spec:
        return lambda event: None
    name, count, marker = spec.split(":", 2)
    if name != shot.name or Path(marker).exists():
        return lambda event: None
    written = [0]

    def hook(event: dict) -> None:
        if event.get("event") == "progress" and event.get("frame") is not None:
            written[0] += 1
            if written[0] >= int(count):
                Path(marker).write_text(json.dumps(frame_files(shot.out)))
                os._exit(17)  # like a killed worker: no cleanup, no exception
    return hook


def run_shot(shot: Shot, run_command: CommandFn, on_progress: ProgressFn | None = None,
             crash: str | None = None) -> ShotResult:
    """All steps of one shot, in-process, each as `run_command(argv)` (the CLI's main); never
    raises for a shot's own failure."""

    t0 = time.monotonic()
    steps = shot_steps(shot)
    crash_hook = _crash_hook(shot, crash)
    for index, step in enumerate(steps):
        errors: list[str] = []

        def on_event(event: dict, index=index, step=step) -> None:
            if event.get("event") == "progress":
                if on_progress:
                    on_progress(shot.name, index, len(steps), step.label, int(event["done"]), int(event["total"]))
                crash_hook(event)
            elif event.get("event") == "error":
                errors.append(str(event.get("message")))

        sink, stderr = _JsonLines(on_event), io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(stderr):
            try:
                rc = run_command([*step.argv, "--json"])
            except SystemExit as exc:  # argparse refusing an argument: a bug in commands.py
                rc = exc.code if isinstance(exc.code, int) else 2
        if rc == 130:  # Ctrl-C reached the CLI: stop the whole batch, not just this shot
            raise KeyboardInterrupt
        if rc != 0:
            detail = errors[-1] if errors else (stderr.getvalue().strip().splitlines() or [f"exit {rc}"])[-1]
            return ShotResult(shot.name, "failed", shot.frames, time.monotonic() - t0,
                              f"{step.label}: {detail}", os.uname().nodename)
    return ShotResult(shot.name, "done", shot.frames, time.monotonic() - t0, host=os.uname().nodename)


def run_sequential(shots: list[Shot], reporter, run_command: CommandFn) -> list[ShotResult]:
    """The shots one after another in this process (a workstation overnight, or one farm task)."""
    crash = config.current().batch_crash_after
    results = []
    for shot in shots:
        reporter.started(shot)
        result = run_shot(shot, run_command, reporter.progress, crash)
        reporter.finished(result)
        results.append(result)
    return results
