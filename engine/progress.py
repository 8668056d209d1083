"""Cooperative cancellation and progress reporting, checked once per frame by every backend."""

from __future__ import annotations

import threading
from typing import Callable

from .errors import Cancelled

ProgressFn = Callable[[int, int, "int | None"], None]  # (done, total, frame index or None)


class CancelToken:
    """Thread-safe cancel flag; backends call check() every frame, which raises Cancelled.

    `give_way`, when given, is called by every check that does not raise: a job that must not
    compete with interactive work (the server's clicks) waits there, between two frames."""

    def __init__(self, give_way: Callable[[], None] | None = None) -> None:
        self._event = threading.Event()
        self._give_way = give_way

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()
        if self._give_way is not None:
            self._give_way()


def no_progress(done: int, total: int, frame: int | None = None) -> None:
    """Default progress sink."""


class ConsoleProgress:
    """A one-line progress bar on stderr, or JSON lines on stdout (`as_json`): the command-line
    front ends' progress sink."""

    #: a bar is drawn and its line not yet ended: a message printed now must start a new line
    line_open = False

    @classmethod
    def end_line(cls) -> None:
        import sys

        if cls.line_open:
            sys.stderr.write("\n")
            cls.line_open = False

    def __init__(self, label: str, as_json: bool) -> None:
        import time

        self._time = time.monotonic
        self.label, self.as_json, self.t0, self.last = label, as_json, time.monotonic(), 0.0

    def __call__(self, done: int, total: int, frame: int | None = None) -> None:
        import json
        import sys

        now = self._time()
        if self.as_json:
            print(json.dumps({"event": "progress", "stage": self.label, "done": done, "total": total,
                              "frame": frame}), flush=True)
            return
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-6)
        width = 30
        fill = int(width * done / total) if total else width
        sys.stderr.write(f"\r{self.label:8s} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {rate:5.1f} fps")
        ConsoleProgress.line_open = True
        if done >= total:
            ConsoleProgress.end_line()
        sys.stderr.flush()
