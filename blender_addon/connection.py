"""The engine status the panel shows, derived from the last real exchange with the engine (every
request the add-on makes reports to engine_ops.link), never from a flag set once by Connect. While
the Engine panel is on screen a light health check runs every HEALTH_INTERVAL_S; opening the panel
or loading a file checks at once, so the add-on connects by itself when an engine is configured."""

from __future__ import annotations

import time

import bpy
from bpy.app.handlers import persistent

from . import engine_ops, local_engine, worker
from .state import client, settings, status_of
from .text import short_line

HEALTH_INTERVAL_S = 5.0
PANEL_SHOWN_S = 3.0  # the panel counts as shown this long after its last draw
TICK_S = 1.0

_panel = {"drawn": 0.0}
_check = {"in_flight": False}


def _set(st, name: str, value) -> None:
    if getattr(st, name) != value:  # writing a property redraws; only write changes
        setattr(st, name, value)


def refresh_status() -> None:
    """Main thread: copy the link's state for the configured address into wm.vta."""
    st = status_of()
    link, url = engine_ops.link(), client().url
    if link["url"] != url or not link["time"]:
        _set(st, "connected", False)
        _set(st, "link_error", "")
        return
    _set(st, "connected", bool(link["answered"]))
    _set(st, "link_error", short_line(link["error"]))
    info = link["info"] or {}
    if info:
        backends = info.get("backends", {})
        _set(st, "engine_version", str(info.get("version", "?")))
        _set(st, "device", str(info.get("device", "?")))
        _set(st, "backends", ", ".join(f"{k}: {v}" for k, v in backends.items())
             if isinstance(backends, dict) else str(backends))


def expected_instance(address: str) -> str | None:
    """The instance id the engine at `address` must echo: set when it is the one this add-on
    started, else None (an engine someone else runs has none to check)."""
    running = local_engine.launched()
    return running["instance_id"] if running and running["address"] == address else None


def check_now() -> None:
    """Submit one health check (at most one in flight); the status follows from its exchange."""
    if _check["in_flight"] or not settings()["address"]:
        return
    _check["in_flight"] = True
    cl = client()

    def finished(_value=None) -> None:
        _check["in_flight"] = False
        refresh_status()

    worker.submit(engine_ops.connect, cl, expected_instance(cl.url), on_done=finished, on_error=finished)


def check_due() -> bool:
    link = engine_ops.link()
    return link["url"] != client().url or time.monotonic() - link["time"] > HEALTH_INTERVAL_S


def panel_shown() -> None:
    """Called from the Engine panel's draw (which may not write properties): note the time, and
    check at once when the last exchange is old."""
    _panel["drawn"] = time.monotonic()
    if check_due():
        check_now()


def tick() -> float:
    refresh_status()
    if time.monotonic() - _panel["drawn"] < PANEL_SHOWN_S and check_due():
        check_now()
    return TICK_S


@persistent
def on_load_post(*_args) -> None:
    """A file was opened: check the engine right away (the saved session needs one)."""
    check_now()


def register() -> None:
    worker.after_task = refresh_status
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=TICK_S, persistent=True)
    if on_load_post not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(on_load_post)


def unregister() -> None:
    if on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(on_load_post)
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    worker.after_task = None
