"""The window estimates of the frames to be cleaned, made in order by whichever thread is free.

An estimate (merge.window_estimate) is most of the removal's work, and it needs only the window:
so worker threads make the next block's estimates while the calling thread makes this block's
plates, and the calling thread joins in when it needs a block that is not done yet (then the frames
are estimated side by side). Each worker has its own SourceSampler (its own DIS instance).

Every estimate sees exactly the sources it would see alone, so the plates are the same bit for bit
however many threads there are: the window keeps the sources of the oldest frame being estimated
(and every frame from `hold` on, which the calling thread's plates still need) while it offers
those of the newest.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait

from .merge import HoleEstimate, window_estimate
from .sources import SourceSampler
from .window import FrameWindow


class Estimates:
    def __init__(self, window: FrameWindow, samplers: list[SourceSampler], pool: ThreadPoolExecutor | None,
                 cancel=None, debug_tiers: dict | None = None) -> None:
        """`samplers[0]` is the calling thread's; the others go one to each job on `pool`."""
        self.window, self.pool, self.cancel, self.debug_tiers = window, pool, cancel, debug_tiers
        self.sampler, self._idle = samplers[0], list(samplers[1:])
        self.done: dict[int, HoleEstimate | None] = {}  # frame → its estimate (None: no hole), until popped
        self._todo: deque[int] = deque()
        self._in_flight: set[int] = set()
        self._last = -1  # the last frame ever queued (frames are queued in ascending order)
        self._hold = -1
        self._jobs: list[tuple[Future, SourceSampler]] = []
        self._lock = threading.Lock()

    def want(self, frames: list[int], hold: int) -> None:
        """Queue those of `frames` not queued before; the calling thread still needs the window's
        frames from `hold` on."""
        with self._lock:
            self._hold = hold
            new = [u for u in frames if u > self._last]
            self._todo.extend(new)
            self._last = max(self._last, *new) if new else self._last

    def start(self) -> None:
        """Hand the queue to the idle workers (they stop when it is empty)."""
        while self.pool is not None and self._idle and self._todo:
            sampler = self._idle.pop()
            self._jobs.append((self.pool.submit(self._work, sampler), sampler))

    def finish(self) -> None:
        """Make what is queued, on this thread too, and wait for the workers: a worker's failure is
        raised here."""
        self.start()
        self._work(self.sampler)
        for job in self._join():
            job.result()

    def pop(self, index: int) -> HoleEstimate | None:
        with self._lock:
            return self.done.pop(index)

    def close(self) -> None:
        """Stop the workers after the frame in hand; their failures no longer matter."""
        with self._lock:
            self._todo.clear()
        self._join()

    def _join(self) -> list[Future]:
        """Wait for every job; their samplers are idle again."""
        jobs, self._jobs = self._jobs, []
        wait([job for job, _ in jobs])
        self._idle.extend(sampler for _, sampler in jobs)
        return [job for job, _ in jobs]

    def _work(self, sampler: SourceSampler) -> None:
        while True:
            if self.cancel is not None:
                self.cancel.check()
            index = self._take()
            if index is None:
                return
            frame = self.window.get(index)
            estimate = window_estimate(frame, self.window, sampler, self.debug_tiers) if frame.hole.any() else None
            with self._lock:
                self.done[index] = estimate
                self._in_flight.discard(index)

    def _take(self) -> int | None:
        """The next frame to estimate, with the window moved on for it: the sources of every frame
        in flight stay, and of every frame from `hold` on."""
        with self._lock:
            if not self._todo:
                return None
            index = self._todo.popleft()
            self._in_flight.add(index)
            r = self.window.radius
            self.window.advance(min(min(self._in_flight), self._hold + r), self.cancel, last=index)
            return index
