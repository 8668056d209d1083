"""Work beside the main loop on a second core: items made ahead of their use (`Ahead`), and jobs
run in order behind it (`Behind`).

Why: the clean plate's main loop is NumPy/OpenCV work on one core, while decoding the frames it
will need and encoding and writing the frames it made do not depend on it. OpenCV, PyAV, PNG
encoding and file I/O release the GIL, so one thread each runs them on the machine's other core.
Both are bounded (memory does not grow with the clip), keep the order, hand a failure back to the
calling thread as the original exception, and stop promptly on cancellation or close.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Iterator

from .progress import CancelToken

_POLL_S = 0.05  # how often a blocked side looks at the cancel token or the stop flag
_END = object()


def _put(q: queue.Queue, entry, keep_waiting: Callable[[], bool]) -> bool:
    """Put `entry` into a bounded queue, waiting while it is full as long as keep_waiting() says
    so (it may also raise, e.g. Cancelled); False if it gave up."""
    while True:
        try:
            q.put(entry, timeout=_POLL_S)
            return True
        except queue.Full:
            if not keep_waiting():
                return False


class Ahead(Iterator):
    """The items of `items` made on a thread of their own, at most `depth` made and not yet taken.
    Iterating gives them in order; an error in making them is raised here, the original exception.
    `close()` (or leaving a `with` block) stops the maker after the item in hand and waits for it.
    A consumer waiting for an item checks `cancel` meanwhile."""

    def __init__(self, items: Iterable, depth: int = 2, cancel: CancelToken | None = None,
                 name: str = "vta-ahead") -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._cancel = cancel
        self._over = False
        self._thread = threading.Thread(target=self._make, args=(iter(items),), name=name, daemon=True)
        self._thread.start()

    def _make(self, items: Iterator) -> None:
        try:
            while not self._stop.is_set():
                try:
                    item = next(items)
                except StopIteration:
                    _put(self._queue, (_END, None), lambda: not self._stop.is_set())
                    return
                if not _put(self._queue, (item, None), lambda: not self._stop.is_set()):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(self._queue, (None, exc), lambda: not self._stop.is_set())
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator is closed on the thread that runs it
                close()

    def __next__(self):
        if self._over:
            raise StopIteration
        while True:
            try:
                item, error = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if self._cancel is not None:
                    self._cancel.check()
                if not self._thread.is_alive() and self._queue.empty():
                    self._over = True  # closed meanwhile
                    raise StopIteration from None
        if error is not None:
            self._over = True
            raise error
        if item is _END:
            self._over = True
            raise StopIteration
        return item

    def ready(self) -> bool:
        """Whether taking the next item would not wait (an item, the end or an error is there)."""
        return not self._queue.empty()

    def close(self) -> None:
        """Stop making items and wait for the thread (at most the item it is making)."""
        self._over = True
        self._stop.set()
        self._thread.join()
        while not self._queue.empty():  # what was made and not taken is dropped now, not at collection
            self._queue.get_nowait()

    def __enter__(self) -> "Ahead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Behind:
    """Jobs (callables without arguments) run one after the other on a thread of their own, at
    most `depth` waiting: `submit` blocks while the queue is full, checking `cancel`. A job's
    error is raised on the submitting thread (the original exception) by the next `submit`,
    `results` or `finish`, and no later job runs. `results()` gives the return values of the jobs
    finished since it was last asked, in order (also after `finish`). Leaving a `with` block waits for every job; leaving
    it by an exception drops the waiting jobs and waits only for the one running."""

    def __init__(self, depth: int = 2, cancel: CancelToken | None = None, name: str = "vta-behind") -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._cancel = cancel
        self._error: BaseException | None = None
        self._dropping = False
        self._done: list = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is _END:
                return
            if self._error is not None or self._dropping:
                continue  # after a failure or an abort nothing more is run
            try:
                result = job()
            except BaseException as exc:
                self._error = exc
            else:
                with self._lock:
                    self._done.append(result)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _waiting(self) -> bool:
        """While blocked on a full queue: stop on a job's error or on cancellation."""
        self._raise_error()
        if self._cancel is not None:
            self._cancel.check()
        return True

    def submit(self, job: Callable[[], Any]) -> None:
        self._raise_error()
        _put(self._queue, job, self._waiting)

    def results(self) -> list:
        """Return values of the jobs finished since the last call, in order."""
        self._raise_error()
        with self._lock:
            done, self._done = self._done, []
        return done

    def finish(self) -> None:
        """Wait for every job submitted (their results stay for `results`)."""
        if self._thread.is_alive():
            try:
                _put(self._queue, _END, self._waiting)
            except BaseException:  # a job failed or the run was cancelled meanwhile
                self.abort()
                raise
            self._thread.join()
        self._raise_error()

    def abort(self) -> None:
        """Drop the waiting jobs and wait for the one running; its error, if any, is dropped too."""
        self._dropping = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread.is_alive():
            self._queue.put(_END)  # room: the worker takes at most one item at a time, nobody else puts
            self._thread.join()

    def __enter__(self) -> "Behind":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()
