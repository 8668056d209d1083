"""Network calls off Blender's main thread, results back on it (the dream-textures pattern).

Two lanes, each one daemon thread: "quick" (connect, clicks, objects: short requests that must not
wait behind a long job) and "job" (track/remove: submit, then follow events until done). A task is a
plain function run on its lane's thread; it never touches bpy. What it returns (or the error it
raises) is put on one result queue with the main-thread callback that should receive it, and
`drain()` — called by a `bpy.app.timers` timer, or directly by tests since timers never fire in a
headless Blender — runs those callbacks on the main thread, where touching bpy is safe.
"""

from __future__ import annotations

import queue
import threading
import traceback
from typing import Any, Callable

from . import engine_client

_results: "queue.Queue[tuple[Callable, tuple]]" = queue.Queue()
_lanes: dict[str, "queue.Queue"] = {}
_threads: dict[str, threading.Thread] = {}
_lock = threading.Lock()
_pending = {"quick": 0, "job": 0}
TIMER_INTERVAL = 0.1
after_task: Callable[[], None] | None = None  # run on the main thread after every task (status refresh)


def friendly_error(exc: BaseException) -> str:
    """The error's own text for the artist (the client's errors are already worded for people); the
    panel shows its first line, the Info log and the status bar all of it (state.report)."""
    return str(exc).strip() or exc.__class__.__name__


def _loop(lane: str, tasks: "queue.Queue") -> None:
    while True:
        item = tasks.get()
        if item is None:
            return
        fn, args, on_done, on_error = item
        try:
            value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - everything becomes a message, never a traceback in the UI
            if not _is_expected(exc):
                traceback.print_exc()  # the console keeps the detail for bug reports
            if on_error is not None:
                _results.put((on_error, (friendly_error(exc),)))
        else:
            if on_done is not None:
                _results.put((on_done, (value,)))
        finally:
            if after_task is not None:
                _results.put((after_task, ()))
            with _lock:
                _pending[lane] -= 1


def _is_expected(exc: BaseException) -> bool:
    """Engine and network errors are expected and need no traceback in the console."""
    return isinstance(exc, (engine_client.EngineClientError, OSError, TimeoutError))


def submit(fn: Callable, *args, on_done: Callable | None = None, on_error: Callable | None = None,
           lane: str = "quick") -> None:
    """Run fn(*args) on the lane's thread; on_done(value) / on_error(message) later on the main thread."""
    with _lock:
        if lane not in _lanes:
            _lanes[lane] = queue.Queue()
            t = threading.Thread(target=_loop, args=(lane, _lanes[lane]), name=f"vta-{lane}", daemon=True)
            _threads[lane] = t
            t.start()
        _pending[lane] = _pending.get(lane, 0) + 1
    _lanes[lane].put((fn, args, on_done, on_error))


def post(callback: Callable, *args: Any) -> None:
    """From a worker thread: have callback(*args) run on the main thread (progress updates)."""
    _results.put((callback, args))


def busy(lane: str | None = None) -> bool:
    with _lock:
        return any(_pending.values()) if lane is None else _pending.get(lane, 0) > 0


def drain(max_items: int = 200) -> int:
    """Run waiting main-thread callbacks; returns how many ran. A failing callback is reported and
    does not stop the others."""
    ran = 0
    while ran < max_items:
        try:
            callback, args = _results.get_nowait()
        except queue.Empty:
            break
        ran += 1
        try:
            callback(*args)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
    if ran:
        _redraw()
    return ran


def wait_idle(timeout: float = 30.0, lane: str | None = None) -> bool:
    """Tests only: drain until no task is pending (timers never fire headless)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drain()
        if not busy(lane) and _results.empty():
            return True
        time.sleep(0.02)
    drain()
    return False


def _redraw() -> None:
    try:
        import bpy

        for window in bpy.context.window_manager.windows:
            for area in window.screen.areas:
                if area.type in ("SEQUENCE_EDITOR", "STATUSBAR"):
                    area.tag_redraw()
    except Exception:  # noqa: BLE001 - no windows in background mode
        pass


def _timer() -> float:
    drain()
    return TIMER_INTERVAL


def register() -> None:
    import bpy

    if not bpy.app.timers.is_registered(_timer):
        bpy.app.timers.register(_timer, first_interval=TIMER_INTERVAL, persistent=True)


def unregister() -> None:
    import bpy

    if bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)
    for lane, tasks in list(_lanes.items()):
        tasks.put(None)
    _lanes.clear()
    _threads.clear()
