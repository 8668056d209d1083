"""The one place the operators, panels and handlers get at the add-on's state: the sequencer scene
and its saved `scene.vta`, the transient window-manager status `wm.vta`, the preferences and an
engine client built from them. Everything else imports this module and never the operator
modules of each other, so the add-on's import graph has no cycle (tests/test_addon_imports.py).
"""

from __future__ import annotations

import os
import tempfile

import bpy

from . import (compat, engine_ops, local_engine, mapping, matte_settings, preferences, project_results,
               strips)
from .text import short_line

PALETTE = [(0.90, 0.10, 0.29), (0.24, 0.71, 0.29), (1.00, 0.88, 0.10), (0.00, 0.51, 0.78),
           (0.96, 0.51, 0.19), (0.57, 0.12, 0.71), (0.27, 0.94, 0.94), (0.94, 0.20, 0.90)]


# ---- where the state lives -------------------------------------------------------------------------
def scene_of(context):
    return compat.sequencer_scene(context)


def state_of(context):
    return scene_of(context).vta


def status_of(context=None):
    return (context or bpy.context).window_manager.vta


def scene_by_name(name: str):
    return bpy.data.scenes.get(name)


def settings(context=None) -> dict:
    """Engine address, token, start command: the add-on preferences, or environment variables when
    the modules are registered without being an installed add-on (tests). An engine this Blender
    started itself (Start Local Engine) wins over the configured address."""
    prefs = preferences.get(context)
    if prefs is not None:
        s = {"address": prefs.address, "token": prefs.token, "command": prefs.engine_command,
             "timeout": prefs.timeout, "upload": prefs.upload_clips, "keep": prefs.keep_engine,
             "results": prefs.results_folder}
    else:
        s = {"address": os.environ.get("VTA_ENGINE_ADDRESS", preferences.DEFAULT_ADDRESS),
             "token": os.environ.get("VTA_ENGINE_TOKEN", ""),
             "command": os.environ.get("VTA_ENGINE_COMMAND", preferences.DEFAULT_COMMAND),
             "timeout": float(os.environ.get("VTA_ENGINE_TIMEOUT", "10")),
             "upload": os.environ.get("VTA_UPLOAD_CLIPS", "AUTO"),
             "keep": os.environ.get("VTA_KEEP_ENGINE", "") == "1",
             "results": os.environ.get("VTA_RESULTS_FOLDER", preferences.DEFAULT_RESULTS)}
    launched = local_engine.launched()
    if launched is not None:
        s["address"] = launched["address"]
    return s


def client(context=None):
    s = settings(context)
    return engine_ops.make_client(s["address"], s["token"], s["timeout"])


# ---- where results are kept ----------------------------------------------------------------------------
def results_folder_setting(scene, context=None) -> str:
    """The results folder as set: the scene's own, else the preferences' (`//vta_results/`)."""
    return scene.vta.results_folder or settings(context)["results"] or preferences.DEFAULT_RESULTS


def results_shot_dir(scene, context=None) -> str | None:
    """The absolute folder this scene's source strip's results are mirrored into
    (`<results folder>/<scene>_<strip>`), or None while a folder relative to the .blend cannot be
    placed (the .blend was never saved): the results then stay in the engine's folder, as before."""
    folder = results_folder_setting(scene, context)
    if folder.startswith("//") and not bpy.data.filepath:
        return None
    return project_results.shot_folder(os.path.normpath(bpy.path.abspath(folder)), scene.name, scene.vta.strip_name)


def stored_path(path: str) -> str:
    """How a result folder is kept in the .blend: relative to it (`//vta_results/…`) once saved."""
    return bpy.path.relpath(path) if path and bpy.data.filepath else path


def abs_path(path: str) -> str:
    """A kept result folder as an absolute path (relative ones are relative to the .blend)."""
    return os.path.normpath(bpy.path.abspath(path)) if path else ""


def user_dir(*parts: str) -> str:
    """A writable folder for the add-on's files (never the add-on's own folder)."""
    try:
        base = bpy.utils.extension_path_user(__package__, create=True)
    except (AttributeError, ValueError, RuntimeError):
        base = os.path.join(tempfile.gettempdir(), "vse_track_anything")
    path = os.path.join(base, *parts)
    os.makedirs(path, exist_ok=True)
    return path


# ---- messages ----------------------------------------------------------------------------------------
def report(level: str, message: str, step: str = "") -> None:
    """Show a message: the full text in the status bar and the Info log (through an operator's
    report, the only public way to reach them from a timer callback), a short first line in the panel
    next to `step` ("engine", "clip", "clicks", "track", "remove", "results")."""
    st = status_of()
    if level == "ERROR":
        st.error, st.error_step, st.message = short_line(message), step, ""
    else:
        st.message, st.error, st.error_step = short_line(message), "", ""
    st.last_report = message
    try:
        bpy.ops.vta.report("EXEC_DEFAULT", level=level, message=message)
    except RuntimeError:
        pass  # an ERROR report raises when run from Python; the message is already shown


# ---- the source strip, objects and clicks ------------------------------------------------------------
def source_strip(state, scene):
    return strips.find_strip(scene, state.strip_name) if state.strip_name else None


def active_object(state, create: bool = False):
    if 0 <= state.active_object < len(state.objects):
        return state.objects[state.active_object]
    if create:
        return add_object(state)
    return None


def add_object(state, name: str | None = None):
    obj = state.objects.add()
    obj.uid = state.next_uid
    state.next_uid += 1
    taken = {o.name for o in state.objects}
    base = name or "object"
    n, candidate = obj.uid, name or f"object{obj.uid}"
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    obj["name"] = candidate  # bypass the update callback: nothing to sync yet
    obj["color"] = PALETTE[(obj.uid - 1) % len(PALETTE)]
    state.active_object = len(state.objects) - 1
    return obj


def object_spec(obj) -> engine_ops.ObjectSpec:
    return engine_ops.ObjectSpec(obj.uid, obj.name, tuple(int(round(c * 255)) for c in obj.color), obj.engine_id)


def matte_finish(state) -> matte_settings.Finish:
    """The Track panel's matte settings as the engine and the shots file take them."""
    return matte_settings.finish(state.matte_soft, state.matte_grow, state.matte_feather, state.matte_steady)


def clicks_for(state, uid: int, frame: int) -> list[engine_ops.ClickSpec]:
    return [engine_ops.ClickSpec(c.x, c.y, c.positive) for c in state.clicks if c.object_uid == uid and c.frame == frame]


def click_groups(state) -> dict:
    """Every local keyframe: (object uid, media frame) → its clicks, for replaying to the engine."""
    groups: dict = {}
    for c in state.clicks:
        groups.setdefault((c.object_uid, c.frame), []).append(engine_ops.ClickSpec(c.x, c.y, c.positive))
    return groups


def current_source_frame(state, scene) -> int | None:
    strip = source_strip(state, scene)
    if strip is None or not state.frame_count:
        return None
    return mapping.timeline_to_source(scene.frame_current, strips.strip_timing(strip, state.frame_count))


def source_range(state, strip) -> tuple[int, int] | None:
    """The track range (timeline frames) as media frames, clamped to what the strip shows."""
    timing = strips.strip_timing(strip, state.frame_count)
    lo, hi = sorted((state.track_start, state.track_end))
    lo, hi = max(lo, timing.final_start), min(hi, timing.final_end - 1)
    frames = [f for f in (mapping.timeline_to_source(t, timing) for t in range(lo, hi + 1)) if f is not None]
    if not frames:
        return None
    return min(frames), max(frames)


def count_pending(state) -> int:
    return sum(1 for c in state.clicks if not c.synced)


def ready(state, scene, op) -> bool:
    if not state.session_id or source_strip(state, scene) is None:
        op.report({"ERROR"}, "Select a movie or image strip and press Get Video Info first")
        return False
    return True


def clean_is_stale(state) -> bool:
    """Whether the clean plate on the timeline was made from older mattes than the current ones
    (a Track finished after the last Remove), or its files are gone (a new engine session)."""
    return state.clean_placed and (state.clean_rev < state.matte_rev or not os.path.isdir(abs_path(state.clean_dir)))
