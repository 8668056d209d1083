"""Step 1, the clip: open the active strip's media in the engine (a session), and replay the
scene's saved clicks when that session is new."""

from __future__ import annotations

import os

import bpy

from . import compat, engine_ops, mapping, prefetch, strips, worker
from .ops_clicks import apply_frame_sync, on_click_error
from .state import (click_groups, client, object_spec, report, scene_by_name, scene_of, settings,
                    status_of)


def _set_message(message: str) -> None:
    status_of().message = message


def on_session(scene_name: str, view: dict) -> None:
    """Main thread: remember the engine session and the clip's facts; replay clicks it lacks."""
    scene = scene_by_name(scene_name)
    if scene is None:
        return
    state = scene.vta
    clip = view["clip"]
    if state.session_id and state.session_id != view["id"]:
        for c in state.clicks:  # a different engine session: everything must be sent again
            c.synced = False
        for o in state.objects:
            o.engine_id = 0
    state.session_id = view["id"]
    state.upload_sha = view.get("upload_sha", "")
    state.frame_count = int(clip.get("frame_count") or clip.get("frames") or 0)
    state.width, state.height = int(clip["width"]), int(clip["height"])
    state.fps = float(clip.get("fps") or 0.0)
    facts = engine_ops.clip_facts(view)
    state.numbers = mapping.encode_runs(facts["numbers"]) if facts["numbers"] else ""
    state.weak_below = facts["weak_below"]
    report("INFO", f"{os.path.basename(state.video_path)}: {state.frame_count} frames, "
                   f"{state.width}x{state.height}, {state.fps:g} fps")
    prefetch.note(scene)  # the playhead already rests on the frame the artist will click first
    if len(state.clicks):
        specs = [object_spec(o) for o in state.objects]
        worker.submit(engine_ops.resync_all, client(), state.session_id, specs, click_groups(state),
                      on_done=lambda results, n=scene_name: [apply_frame_sync(n, r) for r in results],
                      on_error=lambda m, n=scene_name: on_click_error(n, m))


class VTA_OT_get_video_info(bpy.types.Operator):
    """Open the active movie or image strip's media in the engine (frame count, size, fps)"""
    bl_idname = "vta.get_video_info"
    bl_label = "Get Video Info"

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        strip = compat.active_strip(scene)
        if strip is None or strip.type not in ("MOVIE", "IMAGE"):
            self.report({"ERROR"}, "Make a movie or image strip active first")
            return {"CANCELLED"}
        path = strips.media_path(strip)
        changed = state.strip_name != strip.name or state.video_path != path
        state.strip_name, state.video_path = strip.name, path
        if changed:
            state.track_start, state.track_end = strip.frame_final_start, strip.frame_final_end - 1
        status_of(context).message = "Opening the clip in the engine…"

        def uploading(done: int, total: int) -> None:  # on the worker thread
            worker.post(_set_message, f"Uploading the clip to the engine… {100 * done // max(total, 1)}%")

        worker.submit(engine_ops.open_session, client(context), path, "" if changed else state.session_id,
                      "" if changed else state.upload_sha, settings(context)["upload"], uploading,
                      on_done=lambda view, n=scene.name: on_session(n, view),
                      on_error=lambda m: report("ERROR", m, step="clip"))
        return {"FINISHED"}


classes = (VTA_OT_get_video_info,)
register, unregister = bpy.utils.register_classes_factory(classes)
