"""Clicks before jobs: the count of clicks being answered, which the job worker waits on.

On a machine with few cores a track or removal job and the artists' clicks share the CPU and the
interpreter lock, so every click would wait behind the job's frame in hand. The job checks this
between two frames (its CancelToken's `give_way`) and waits while any click is in flight, for at
most a set time: under a constant stream of clicks it still finishes a frame per that time.
Among themselves, clicks take the segmenter's slots in the order they came (FairSlots).
"""

from __future__ import annotations

import collections
import threading


class InFlight:
    """A thread-safe count of requests in progress (`with in_flight:` around each)."""

    def __init__(self) -> None:
        self._count = 0
        self._none = threading.Condition()

    def __enter__(self) -> "InFlight":
        with self._none:
            self._count += 1
        return self

    def __exit__(self, *exc) -> None:
        with self._none:
            self._count -= 1
            if self._count == 0:
                self._none.notify_all()

    @property
    def count(self) -> int:
        return self._count

    def wait_until_none(self, limit_s: float) -> bool:
        """Block until no request is in progress or `limit_s` seconds have passed; True if none is."""
        with self._none:
            return self._none.wait_for(lambda: self._count == 0, timeout=limit_s)


class FairSlots:
    """A counting semaphore that serves waiters first come, first served (threading.Semaphore
    lets a newcomer take a freed slot before those already waiting, so under load a few clicks
    wait several rounds while most wait none: the slowest clicks set what the artist feels)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"at least one slot is needed, not {slots!r}")
        self._free = slots
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._lock = threading.Lock()

    def __enter__(self) -> "FairSlots":
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return self
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # set by the release that hands this waiter its slot
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the slot passes straight to the longest waiter
            else:
                self._free += 1
