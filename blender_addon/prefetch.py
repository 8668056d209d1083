"""The frame under the playhead is prefetched (issue #20): while the artist looks at a frame, the
engine computes its segmenter features, so the first click there only pays for the solve.

A `frame_change_post` handler notes the wish — (engine, session, source frame of the playhead), or
none: no session, the playhead off the source strip, playback or a render running, or a Track /
Remove job running (the engine's cores are the job's then, and a prefetch is only a hint) — and
never waits. One task on its own worker lane ("prefetch", so a click never queues behind its
waiting) sends the wish once it has held still for SETTLE_S, the latest wish winning: scrubbing
sends nothing, a resting playhead sends one request, and the frame just sent is not sent again.
No timer decides (timers never fire in a headless Blender), so tests drive it with frame_set.
Failures are silent: the click computes what is missing, and the panel's link status already
shows an engine that is gone.
"""

from __future__ import annotations

import threading
import time

import bpy
from bpy.app.handlers import persistent

from . import compat, engine_client, worker
from .state import client, current_source_frame

SETTLE_S = 0.25  # the playhead rests this long before its frame is sent: scrubbing sends nothing
LANE = "prefetch"

_lock = threading.Lock()
# key: (engine url, session id, source frame) wished now, or None; since: when it became the wish;
# sent: the last key sent; following: a task on the lane is looking after the wish
_slot = {"key": None, "client": None, "since": 0.0, "sent": None, "following": False}


def playback_running() -> bool:
    return any(window.screen.is_animation_playing for window in bpy.context.window_manager.windows)


def wish_for(scene, playing: bool) -> tuple | None:
    """Main thread: (client, session id, source frame) to prefetch for `scene`'s playhead, or None."""
    state = scene.vta
    if not state.session_id or playing or worker.busy("job"):
        return None
    frame = current_source_frame(state, scene)
    return None if frame is None else (client(), state.session_id, frame)


def want(wish: tuple | None) -> None:
    """Main thread: make `wish` the one to send (None: nothing), and start the lane's task when none
    is following the wish."""
    key = None if wish is None else (wish[0].url, wish[1], wish[2])
    with _lock:
        if key != _slot["key"]:
            _slot.update(key=key, client=wish[0] if wish else None, since=time.monotonic())
        if key is None or key == _slot["sent"] or _slot["following"]:
            return
        _slot["following"] = True
    worker.submit(_follow, lane=LANE)


def _follow() -> None:
    """Prefetch lane: wait until the wish has held still SETTLE_S, send it, and go on while a newer
    one comes; ends (under the lock, so `want` starts another) when the wish is sent or withdrawn."""
    while True:
        with _lock:
            key, cl = _slot["key"], _slot["client"]
            if key is None or key == _slot["sent"]:
                _slot["following"] = False
                return
            wait = _slot["since"] + SETTLE_S - time.monotonic()
            if wait <= 0:
                _slot["sent"] = key
        if wait > 0:
            time.sleep(wait)
            continue
        try:
            cl.prefetch(key[1], key[2])
        except engine_client.EngineClientError:
            pass  # a hint: the click computes what is missing
        except BaseException:
            with _lock:
                _slot["following"] = False
            raise  # a bug: the worker prints it to the console


def note(scene) -> None:
    """Main thread: `scene`'s playhead may rest on a frame to prefetch (it moved, or the session
    just opened under it)."""
    want(wish_for(scene, playback_running()))


@persistent
def on_frame_change(scene, _depsgraph=None) -> None:
    if not bpy.app.is_job_running("RENDER"):  # rendering an animation changes frames (on its own thread)
        note(scene)


@persistent
def on_playback_end(scene, _depsgraph=None) -> None:
    """Playback stopped where the artist wants to look: its frame changes came while playing."""
    want(wish_for(scene, playing=False))


def _handler_lists() -> list:
    ended = compat.playback_end_handlers()
    return [(bpy.app.handlers.frame_change_post, on_frame_change)] + (
        [(ended, on_playback_end)] if ended is not None else [])


def register() -> None:
    for handlers, fn in _handler_lists():
        if fn not in handlers:
            handlers.append(fn)


def unregister() -> None:
    for handlers, fn in _handler_lists():
        if fn in handlers:
            handlers.remove(fn)
    with _lock:  # a task still waiting on the lane ends at its next look
        _slot.update(key=None, client=None, sent=None)
