"""The segmenter's per-frame work done ahead of the click, on one background thread.

Two kinds of requests: the frame under the playhead (the artist is looking at it: urgent, served
first, newest first) and guesses (the neighbours of a frame just clicked, served after, and dropped
when `skip_guesses` says so when their turn comes: on a busy shared engine they would only take the
CPU from clicks and push frames in use out of the cache). A frame already queued is not queued twice, and the queue is
bounded: when it is full a guess is refused, while an urgent request pushes out the newest guess.
A prefetch is only a hint; the click computes whatever is missing."""

from __future__ import annotations

import collections
import logging
import threading
from typing import Callable, Hashable

log = logging.getLogger("vta.server")


class Prefetcher:
    def __init__(self, work: Callable[[object, Hashable], None], max_pending: int = 8,
                 skip_guesses: Callable[[], bool] = lambda: False) -> None:
        self._work = work
        self._skip_guesses = skip_guesses
        self.max_pending = max_pending
        self._queue: collections.deque = collections.deque()  # (reader, key, urgent); left end first
        self._pending: set = set()  # keys queued or being worked on
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, reader, key: Hashable, urgent: bool = False) -> bool:
        """Queue `key`; False when it was queued already or the queue is full of its betters."""
        with self._cond:
            if self._closed or key in self._pending:
                return False
            if len(self._pending) >= self.max_pending:
                if not urgent or not self._queue:
                    return False
                _, dropped, _ = self._queue.pop()  # the newest queued request is the weakest guess
                self._pending.discard(dropped)
            self._pending.add(key)
            if urgent:
                self._queue.appendleft((reader, key, True))
            else:
                self._queue.append((reader, key, False))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vta-prefetch", daemon=True)
                self._thread.start()
            self._cond.notify()
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                reader, key, urgent = self._queue.popleft()
            try:
                if urgent or not self._skip_guesses():
                    self._work(reader, key)
            except Exception as exc:  # a failed prefetch only costs the next click its cache hit
                log.debug("prefetch of %s failed: %s", key, exc)
            finally:
                with self._cond:
                    self._pending.discard(key)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
