"""What a batch tells its user: a live line per shot on a terminal, JSON lines for pipeline tools,
and a summary table at the end. Kept apart from the runners so sequential and Ray runs report the
same way."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
from typing import TextIO

from .shots import Shot


def format_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def summary_table(results) -> str:
    """shot | frames | time | status, one row per shot, then a totals line."""
    rows = [("shot", "frames", "time", "status")]
    for r in results:
        status = r.status if not r.message else f"{r.status}: {r.message}"
        rows.append((r.shot, str(r.frames), format_seconds(r.seconds), status))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    failed = sum(r.status != "done" for r in results)
    lines.append(f"{len(results) - failed} done, {failed} failed")
    return "\n".join(lines)


class Reporter:
    """Progress and results of a batch. JSON lines on stdout with `as_json`; otherwise a bar on
    stderr that redraws in place on a terminal, and one line per finished shot elsewhere (logs)."""

    def __init__(self, as_json: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.tty = bool(getattr(self.err, "isatty", lambda: False)())
        self.last_draw = 0.0
        self.total = 0
        self.finished_count = 0
        self.running: dict[str, tuple] = {}  # shot → (step, steps, label, done, total)

    def _json(self, **event) -> None:
        print(json.dumps(event), file=self.out, flush=True)

    def begin(self, shots: list[Shot], runner: str) -> None:
        self.total = len(shots)
        if self.as_json:
            self._json(event="batch", shots=[s.name for s in shots], runner=runner)
        else:
            print(f"batch: {len(shots)} shot{'s' * (len(shots) != 1)} ({runner})", file=self.err, flush=True)

    def started(self, shot: Shot) -> None:
        if self.as_json:
            self._json(event="shot_start", shot=shot.name, frames=shot.frames)

    def progress(self, shot: str, step: int, steps: int, label: str, done: int, total: int) -> None:
        if self.as_json:
            self._json(event="shot_progress", shot=shot, step=step + 1, steps=steps, stage=label,
                       done=done, total=total)
            return
        self.running[shot] = (step, steps, label, done, total)
        now = time.monotonic()
        if not self.tty or (done < total and now - self.last_draw < 0.1):
            return
        self.last_draw = now
        self._draw()

    def _draw(self) -> None:
        """One line for every running shot: a bar when there is one, counts when several (Ray)."""
        if len(self.running) == 1:
            (shot, (step, steps, label, done, total)), = self.running.items()
            fill = int(24 * done / total) if total else 24
            line = f"{shot} [{step + 1}/{steps} {label}] [{'#' * fill}{'.' * (24 - fill)}] {done}/{total}"
        else:
            line = " | ".join(f"{shot} {step + 1}/{steps} {done}/{total}"
                              for shot, (step, steps, _, done, total) in self.running.items())
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.err.write(f"\r\033[K{line[:width]}")
        self.err.flush()

    def finished(self, result) -> None:
        self.finished_count += 1
        self.running.pop(result.shot, None)
        if self.as_json:
            self._json(event="shot_done", **result.to_dict())
            return
        clear = "\r\033[K" if self.tty else ""
        tail = f": {result.message}" if result.message else ""
        self.err.write(f"{clear}[{self.finished_count}/{self.total}] {result.shot}: {result.status} "
                       f"({result.frames} frames, {format_seconds(result.seconds)}){tail}\n")
        self.err.flush()

    def plan(self, shots: list[Shot]) -> None:
        """What `--check` prints: each shot's commands, exactly as the batch will run them."""
        from .commands import shot_steps

        for shot in shots:
            argvs = [step.argv for step in shot_steps(shot)]
            if self.as_json:
                self._json(event="plan", shot=shot.name, frames=shot.frames, commands=argvs)
                continue
            print(f"{shot.name} ({shot.frames} frames):", file=self.out)
            for argv in argvs:
                print(f"  vta-engine {shlex.join(argv)}", file=self.out)
        self.out.flush()

    def invalid(self, message: str) -> None:
        """One problem of the shots file (all are reported before the batch gives up)."""
        if self.as_json:
            self._json(event="invalid", message=message)
        else:
            print(f"vta-engine: error: {message}", file=self.err, flush=True)

    def note(self, message: str) -> None:
        if self.as_json:
            self._json(event="note", message=message)
        else:
            print(message, file=self.err, flush=True)

    def summary(self, results, seconds: float) -> None:
        failed = [r.shot for r in results if r.status != "done"]
        if self.as_json:
            self._json(event="summary", shots=[r.to_dict() for r in results], failed=failed,
                       seconds=round(seconds, 3))
            return
        print(summary_table(results) + f" in {format_seconds(seconds)}", file=self.out, flush=True)
