"""Cooperative cancellation and progress reporting, checked once per frame by every backend."""

from __future__ import annotations

import threading
from typing import Callable

from .errors import Cancelled

ProgressFn = Callable[[int, int, "int | None"], None]  # (done, total, frame index or None)


class CancelToken:
    """Thread-safe cancel flag; backends call check() every frame, which raises Cancelled."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def no_progress(done: int, total: int, frame: int | None = None) -> None:
    """Default progress sink."""
