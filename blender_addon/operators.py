"""Operators: every button of the panel and the click tool. They change local state at once, hand
network work to worker threads (worker.submit) and apply the replies in main-thread callbacks, so
Blender never waits on the engine. Errors become one readable line in the panel and the status bar.
"""

from __future__ import annotations

import os
import tempfile

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from . import compat, engine_client, engine_ops, mapping, overlay, preferences, props, strips, worker

_job: dict = {"control": None}


# ---- helpers --------------------------------------------------------------------------------------
def scene_of(context):
    return compat.sequencer_scene(context)


def state_of(context):
    return scene_of(context).vta


def status_of(context=None):
    return (context or bpy.context).window_manager.vta


def settings(context=None) -> dict:
    """Engine address, token, start command: the add-on preferences, or environment variables when
    the modules are registered without being an installed add-on (tests)."""
    prefs = preferences.get(context)
    if prefs is not None:
        return {"address": prefs.address, "token": prefs.token, "command": prefs.engine_command,
                "timeout": prefs.timeout, "upload": prefs.upload_clips}
    return {"address": os.environ.get("VTA_ENGINE_ADDRESS", preferences.DEFAULT_ADDRESS),
            "token": os.environ.get("VTA_ENGINE_TOKEN", ""),
            "command": os.environ.get("VTA_ENGINE_COMMAND", "vta-engine serve --port 8765"),
            "timeout": float(os.environ.get("VTA_ENGINE_TIMEOUT", "10")),
            "upload": os.environ.get("VTA_UPLOAD_CLIPS", "AUTO")}


def client(context=None):
    s = settings(context)
    return engine_ops.make_client(s["address"], s["token"], s["timeout"])


def user_dir(*parts: str) -> str:
    """A writable folder for the add-on's files (never the add-on's own folder)."""
    try:
        base = bpy.utils.extension_path_user(__package__, create=True)
    except (AttributeError, ValueError, RuntimeError):
        base = os.path.join(tempfile.gettempdir(), "vse_track_anything")
    path = os.path.join(base, *parts)
    os.makedirs(path, exist_ok=True)
    return path


def report(level: str, message: str) -> None:
    """Show a message in the panel and the status bar (through an operator's report, the only
    public way to reach the status bar from a timer callback)."""
    st = status_of()
    if level == "ERROR":
        st.error, st.message = message, ""
    else:
        st.message, st.error = message, ""
    try:
        bpy.ops.vta.report("EXEC_DEFAULT", level=level, message=message)
    except RuntimeError:
        pass  # an ERROR report raises when run from Python; the message is already shown


def _scene_by_name(name: str):
    return bpy.data.scenes.get(name)


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
    obj["color"] = props.PALETTE[(obj.uid - 1) % len(props.PALETTE)]
    state.active_object = len(state.objects) - 1
    return obj


def object_spec(obj) -> engine_ops.ObjectSpec:
    return engine_ops.ObjectSpec(obj.uid, obj.name, tuple(int(round(c * 255)) for c in obj.color), obj.engine_id)


def clicks_for(state, uid: int, frame: int) -> list[engine_ops.ClickSpec]:
    return [engine_ops.ClickSpec(c.x, c.y, c.positive) for c in state.clicks if c.object_uid == uid and c.frame == frame]


def current_source_frame(state, scene) -> int | None:
    strip = source_strip(state, scene)
    if strip is None or not state.frame_count:
        return None
    return mapping.timeline_to_source(scene.frame_current, strips.strip_timing(strip, state.frame_count))


def count_pending(state) -> int:
    return sum(1 for c in state.clicks if not c.synced)


def ready(state, scene, op) -> bool:
    if not state.session_id or source_strip(state, scene) is None:
        op.report({"ERROR"}, "Select a movie or image strip and press Get Video Info first")
        return False
    return True


# ---- main-thread callbacks ------------------------------------------------------------------------
def _on_connected(info: dict) -> None:
    st = status_of()
    st.connected = True
    st.engine_version = str(info.get("version", "?"))
    b = info.get("backends", {})
    st.backends = ", ".join(f"{k}: {v}" for k, v in b.items()) if isinstance(b, dict) else str(b)
    st.device = str(info.get("device", "?"))
    report("INFO", f"Connected to engine {st.engine_version} on {st.device}")


def _on_connect_error(message: str) -> None:
    status_of().connected = False
    report("ERROR", message)


def _apply_frame_sync(scene_name: str, result: dict) -> None:
    scene = _scene_by_name(scene_name)
    if scene is None:
        return
    state = scene.vta
    uid, frame = result["uid"], result["frame"]
    for obj in state.objects:
        if obj.uid == uid:
            obj.engine_id = int(result["engine_id"])
    n = 0
    for c in state.clicks:
        if c.object_uid == uid and c.frame == frame:
            n += 1
            if n <= result["count"]:
                c.synced = True
    if result.get("mask") is not None or result["count"] == 0:
        overlay.set_click_mask(uid, frame, result.get("mask"))
    status_of().pending_clicks = count_pending(state)


def _on_click_error(scene_name: str, message: str) -> None:
    scene = _scene_by_name(scene_name)
    if scene is not None:
        status_of().pending_clicks = count_pending(scene.vta)
    if "connect" in message.lower() or "no engine" in message.lower():
        status_of().connected = False
    report("ERROR", f"{message} (your clicks are kept and will be sent again)")


def sync_frame(context, scene, state, uid: int, frame: int) -> None:
    obj = next((o for o in state.objects if o.uid == uid), None)
    if obj is None:
        return
    worker.submit(engine_ops.sync_frame, client(context), state.session_id, object_spec(obj), frame,
                  clicks_for(state, uid, frame),
                  on_done=lambda r, n=scene.name: _apply_frame_sync(n, r),
                  on_error=lambda m, n=scene.name: _on_click_error(n, m))


def schedule_object_sync(context) -> None:
    """After a rename or recolour in the object list: push it to the engine."""
    try:
        scene = scene_of(context)
        state = scene.vta
    except AttributeError:
        return
    if not state.session_id:
        return
    cl = client(context)
    for obj in state.objects:
        if obj.meta_dirty and obj.engine_id:
            obj["meta_dirty"] = False
            worker.submit(engine_ops.update_object, cl, state.session_id, object_spec(obj),
                          on_error=lambda m: report("ERROR", m))


# ---- operators: engine ----------------------------------------------------------------------------
class VTA_OT_report(bpy.types.Operator):
    """Internal: put a message in the status bar"""
    bl_idname = "vta.report"
    bl_label = "Track Anything Message"
    bl_options = {"INTERNAL"}

    level: StringProperty(default="INFO")
    message: StringProperty()

    def execute(self, context):
        self.report({self.level if self.level in ("INFO", "WARNING", "ERROR") else "INFO"}, self.message)
        return {"FINISHED"}


class VTA_OT_connect(bpy.types.Operator):
    """Check the engine: version, backends and device"""
    bl_idname = "vta.connect"
    bl_label = "Connect"

    def execute(self, context):
        st = status_of(context)
        st.message, st.error = "Connecting…", ""
        worker.submit(engine_ops.connect, client(context), on_done=_on_connected, on_error=_on_connect_error)
        return {"FINISHED"}


class VTA_OT_start_engine(bpy.types.Operator):
    """Start a local engine with the command from the add-on preferences, then connect"""
    bl_idname = "vta.start_engine"
    bl_label = "Start Local Engine"

    def execute(self, context):
        s = settings(context)
        log_path = os.path.join(user_dir("logs"), "engine.log")
        cl = client(context)

        def start_and_wait():
            try:
                return cl.connect()  # already running: nothing to start
            except engine_client.EngineUnreachable:
                pass
            engine_ops.start_engine(s["command"], log_path)
            return engine_ops.wait_for_engine(cl, timeout=60.0)

        status_of(context).message = "Starting the engine…"
        worker.submit(start_and_wait, on_done=_on_connected,
                      on_error=lambda m: _on_connect_error(f"{m} (log: {log_path})"))
        return {"FINISHED"}


# ---- operators: step 1, the clip ------------------------------------------------------------------
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
                      on_done=lambda view, n=scene.name: _on_session(n, view),
                      on_error=lambda m: report("ERROR", m))
        return {"FINISHED"}


def _set_message(message: str) -> None:
    status_of().message = message


def _on_session(scene_name: str, view: dict) -> None:
    scene = _scene_by_name(scene_name)
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
    state.masks_dir, state.clean_dir = view.get("masks_dir", ""), view.get("clean_dir", "")
    report("INFO", f"{os.path.basename(state.video_path)}: {state.frame_count} frames, "
                   f"{state.width}x{state.height}, {state.fps:g} fps")
    if len(state.clicks):
        cl = client()
        groups: dict = {}
        for c in state.clicks:
            groups.setdefault((c.object_uid, c.frame), []).append(engine_ops.ClickSpec(c.x, c.y, c.positive))
        specs = [object_spec(o) for o in state.objects]
        worker.submit(engine_ops.resync_all, cl, state.session_id, specs, groups,
                      on_done=lambda results, n=scene_name: [_apply_frame_sync(n, r) for r in results],
                      on_error=lambda m, n=scene_name: _on_click_error(n, m))


# ---- operators: step 2, objects, range and clicks -------------------------------------------------
def remove_clicks(state, uid: str, frame: int | None = None) -> None:
    """Drop the stored clicks of object `uid` (on `frame` only, when given)."""
    for i in reversed(range(len(state.clicks))):
        c = state.clicks[i]
        if c.object_uid == uid and (frame is None or c.frame == frame):
            state.clicks.remove(i)


class VTA_OT_object_add(bpy.types.Operator):
    """Add an object to track"""
    bl_idname = "vta.object_add"
    bl_label = "Add Object"
    bl_options = {"UNDO"}

    name: StringProperty(default="")

    def execute(self, context):
        add_object(state_of(context), self.name or None)
        return {"FINISHED"}


class VTA_OT_object_remove(bpy.types.Operator):
    """Remove the active object, its clicks and (in the engine) its results"""
    bl_idname = "vta.object_remove"
    bl_label = "Remove Object"
    bl_options = {"UNDO"}

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        obj = active_object(state)
        if obj is None:
            return {"CANCELLED"}
        spec, uid = object_spec(obj), obj.uid
        remove_clicks(state, uid)
        strips.remove_own_strips(scene, state.strip_name, f"matte:{uid}") if state.strip_name else None
        state.objects.remove(state.active_object)
        state.active_object = min(state.active_object, len(state.objects) - 1)
        if state.session_id:
            worker.submit(engine_ops.remove_object, client(context), state.session_id, spec,
                          on_error=lambda m: report("ERROR", m))
        return {"FINISHED"}


class VTA_OT_set_range(bpy.types.Operator):
    """Set the track start or end to the current frame"""
    bl_idname = "vta.set_range"
    bl_label = "Set From Current Frame"

    which: EnumProperty(items=[("START", "Start", ""), ("END", "End", ""), ("STRIP", "Strip", "")])

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        if self.which == "START":
            state.track_start = scene.frame_current
        elif self.which == "END":
            state.track_end = scene.frame_current
        else:
            strip = source_strip(state, scene)
            if strip is not None:
                state.track_start, state.track_end = strip.frame_final_start, strip.frame_final_end - 1
        return {"FINISHED"}


def preview_region_view(context):
    region = context.region
    if region is None or region.type != "PREVIEW":
        return None
    return overlay.region_view(region)


class VTA_OT_add_click(bpy.types.Operator):
    """Click on the object: positive click (Shift: negative, to exclude a region)"""
    bl_idname = "vta.add_click"
    bl_label = "Add Click"
    bl_options = {"UNDO"}

    x: FloatProperty(name="X", description="Media pixel from the left", default=-1.0)
    y: FloatProperty(name="Y", description="Media pixel from the top", default=-1.0)
    positive: BoolProperty(name="Positive", default=True)
    frame: IntProperty(name="Source frame", default=-1, description="Media frame; -1: the current frame")

    @classmethod
    def poll(cls, context):
        return bool(state_of(context).session_id)

    def invoke(self, context, event):
        scene = scene_of(context)
        state = scene.vta
        view = preview_region_view(context)
        strip = source_strip(state, scene)
        if view is None or strip is None:
            return {"PASS_THROUGH"}
        point = mapping.region_to_image(event.mouse_region_x, event.mouse_region_y, view,
                                        strips.strip_transform(strip, state.width, state.height))
        if point is None:
            self.report({"WARNING"}, "Click inside the picture of the source strip")
            return {"CANCELLED"}
        self.x, self.y = point
        if event.shift:
            self.positive = False
        return self.execute(context)

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        if not ready(state, scene, self):
            return {"CANCELLED"}
        frame = self.frame if self.frame >= 0 else current_source_frame(state, scene)
        if frame is None:
            self.report({"ERROR"}, "The current frame is outside the source strip")
            return {"CANCELLED"}
        if not (0 <= self.x < state.width and 0 <= self.y < state.height):
            self.report({"ERROR"}, f"Click ({self.x:.0f}, {self.y:.0f}) is outside the {state.width}x{state.height} picture")
            return {"CANCELLED"}
        obj = active_object(state, create=True)
        click = state.clicks.add()  # stored first: an engine that is away never loses a click
        click.object_uid, click.frame, click.x, click.y, click.positive = obj.uid, frame, self.x, self.y, self.positive
        status_of(context).pending_clicks = count_pending(state)
        sync_frame(context, scene, state, obj.uid, frame)
        return {"FINISHED"}


class VTA_OT_clear_clicks(bpy.types.Operator):
    """Remove the active object's clicks on this frame (and that keyframe)"""
    bl_idname = "vta.clear_clicks"
    bl_label = "Clear Clicks"
    bl_options = {"UNDO"}

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        obj = active_object(state)
        frame = current_source_frame(state, scene)
        if obj is None or frame is None:
            return {"CANCELLED"}
        remove_clicks(state, obj.uid, frame)
        overlay.set_click_mask(obj.uid, frame, None)
        if state.session_id:
            sync_frame(context, scene, state, obj.uid, frame)
        return {"FINISHED"}


class VTA_OT_sync_clicks(bpy.types.Operator):
    """Send clicks the engine has not received yet (after it was unreachable)"""
    bl_idname = "vta.sync_clicks"
    bl_label = "Send Pending Clicks"

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        for uid, frame in sorted({(c.object_uid, c.frame) for c in state.clicks if not c.synced}):
            sync_frame(context, scene, state, uid, frame)
        return {"FINISHED"}


# ---- operators: steps 3–5, jobs -------------------------------------------------------------------
def _source_range(state, strip) -> tuple[int, int] | None:
    """The track range (timeline frames) as media frames, clamped to what the strip shows."""
    timing = strips.strip_timing(strip, state.frame_count)
    lo, hi = sorted((state.track_start, state.track_end))
    lo, hi = max(lo, timing.final_start), min(hi, timing.final_end - 1)
    frames = [f for f in (mapping.timeline_to_source(t, timing) for t in range(lo, hi + 1)) if f is not None]
    if not frames:
        return None
    return min(frames), max(frames)


def _on_progress(done: int, total: int, message: str) -> None:
    st = status_of()
    st.progress = 100.0 * done / total if total else 0.0
    st.progress_text = f"{done}/{total}" + (f" {message}" if message else "")


def _finish_job(kind: str) -> None:
    st = status_of()
    st.busy, st.job_kind, st.job_id = False, "", ""
    _job["control"] = None


def apply_results(scene, results: dict) -> list:
    """Put result strips and low-confidence markers in the edit (main thread)."""
    state = scene.vta
    strip = source_strip(state, scene)
    if strip is None:
        raise RuntimeError(f"the source strip '{state.strip_name}' is gone")
    state.masks_dir = results.get("masks_dir", state.masks_dir)
    if results.get("clean_dir"):
        state.clean_dir = results["clean_dir"]
    by_uid = {o["uid"]: o for o in results.get("objects", [])}
    for obj in state.objects:
        if obj.uid in by_uid and by_uid[obj.uid]["folder"]:
            obj.folder = by_uid[obj.uid]["folder"]
    return place_result_strips(scene, results.get("confidence"))


def place_result_strips(scene, confidence: dict | None = None) -> list:
    state = scene.vta
    strip = source_strip(state, scene)
    objects = [(str(o.uid), o.name, os.path.join(state.masks_dir, o.folder)) for o in state.objects if o.folder]
    clean = state.clean_dir if state.clean_dir and os.path.isdir(state.clean_dir) else None
    made = strips.place_results(scene, strip, state.frame_count, objects, clean)
    if confidence is not None:
        names = {o.uid: o.name for o in state.objects}
        per_object = {names.get(uid, str(uid)): conf for uid, conf in confidence.items()}
        strips.mark_low_confidence(scene, strip, state.frame_count, per_object, state.low_confidence)
    overlay.forget_masks()
    return made


def start_job(context, op, kind: str, params: dict) -> set:
    scene = scene_of(context)
    state = scene.vta
    st = status_of(context)
    if not ready(state, scene, op):
        return {"CANCELLED"}
    if st.busy:
        op.report({"WARNING"}, f"A {st.job_kind} job is running: cancel it or wait")
        return {"CANCELLED"}
    if not state.objects:
        op.report({"ERROR"}, "Add an object and click on it first")
        return {"CANCELLED"}
    rng = _source_range(state, source_strip(state, scene))
    if rng is None:
        op.report({"ERROR"}, "The track range does not overlap the source strip")
        return {"CANCELLED"}
    params = dict(params, start=rng[0], end=rng[1])
    cl = client(context)
    control = engine_ops.JobControl()
    _job["control"] = control
    specs = [object_spec(o) for o in state.objects]
    groups: dict = {}
    for c in state.clicks:
        groups.setdefault((c.object_uid, c.frame), []).append(engine_ops.ClickSpec(c.x, c.y, c.positive))
    session_id, low = state.session_id, state.low_confidence
    cache = user_dir("results", session_id)

    def work():
        synced = engine_ops.resync_all(cl, session_id, specs, groups)  # clicks made while away
        worker.post(lambda: [_apply_frame_sync(scene_name, r) for r in synced])
        ids = [engine_ops.ensure_object(cl, session_id, s) for s in specs
               if any(uid == s.uid for uid, _ in groups)]
        if not ids:
            raise engine_client.EngineClientError("click on an object first: no object has a keyframe")
        job = engine_ops.run_job(cl, session_id, kind, dict(params, objects=ids), control,
                                 lambda d, t, m: worker.post(_on_progress, d, t, m))
        results = engine_ops.collect_results(cl, session_id, specs, cache, low)
        return job, results

    scene_name = scene.name

    def done(value):
        job, results = value
        _finish_job(kind)
        scene_ = _scene_by_name(scene_name)
        if scene_ is None:
            return
        try:
            made = apply_results(scene_, results)
        except (RuntimeError, OSError) as exc:
            report("ERROR", str(exc))
            return
        if job.get("status") == "cancelled":
            report("WARNING", f"{kind.capitalize()} cancelled; finished frames are kept")
        else:
            report("INFO", f"{kind.capitalize()} done: {len(made)} strip(s) placed")

    def failed(message):
        _finish_job(kind)
        report("ERROR", message)

    st.busy, st.job_kind, st.progress, st.progress_text, st.error = True, kind, 0.0, "starting…", ""
    worker.submit(work, on_done=done, on_error=failed, lane="job")
    return {"FINISHED"}


class _JobModal:
    """Invoke runs the job and stays modal only to catch Esc (events pass through otherwise)."""

    def modal(self, context, event):
        st = status_of(context)
        if not st.busy:
            return {"FINISHED"}
        if event.type == "ESC" and event.value == "PRESS":
            cancel_job()
            return {"FINISHED"}
        return {"PASS_THROUGH"}

    def invoke(self, context, event):
        result = self.execute(context)
        if "FINISHED" in result and status_of(context).busy:
            context.window_manager.modal_handler_add(self)
            return {"RUNNING_MODAL"}
        return result


class VTA_OT_track(_JobModal, bpy.types.Operator):
    """Track every object with clicks through the track range (Esc cancels)"""
    bl_idname = "vta.track"
    bl_label = "Track"

    direction: EnumProperty(name="Direction", default="both", items=[
        ("forward", "Forward", ""), ("backward", "Backward", ""), ("both", "Both", "")])

    def execute(self, context):
        return start_job(context, self, "track", {"direction": self.direction})


class VTA_OT_remove(_JobModal, bpy.types.Operator):
    """Remove the tracked objects: inpaint a clean plate (Esc cancels)"""
    bl_idname = "vta.remove"
    bl_label = "Remove Objects"

    def execute(self, context):
        state = state_of(context)
        return start_job(context, self, "remove", {"dilate": state.dilation, "resize_ratio": state.resize_ratio})


def cancel_job() -> bool:
    control = _job.get("control")
    if control is None:
        return False
    control.cancel.set()
    status_of().progress_text = "cancelling…"
    return True


class VTA_OT_cancel(bpy.types.Operator):
    """Cancel the running job (finished frames are kept)"""
    bl_idname = "vta.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        if not cancel_job():
            return {"CANCELLED"}
        return {"FINISHED"}


class VTA_OT_load_results(bpy.types.Operator):
    """Re-place the result strips (after moving or trimming the source strip)"""
    bl_idname = "vta.load_results"
    bl_label = "Re-align Result Strips"
    bl_options = {"UNDO"}

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        if source_strip(state, scene) is None or not state.masks_dir:
            self.report({"ERROR"}, "No results yet for this strip")
            return {"CANCELLED"}
        made = place_result_strips(scene)
        self.report({"INFO"}, f"{len(made)} result strip(s) placed")
        return {"FINISHED"}


class VTA_OT_use_as_mask(bpy.types.Operator):
    """Add a Mask modifier on the source strip, fed by the active object's matte strip"""
    bl_idname = "vta.use_as_mask"
    bl_label = "Use as Mask"
    bl_options = {"UNDO"}

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        src, obj = source_strip(state, scene), active_object(state)
        if src is None or obj is None:
            self.report({"ERROR"}, "No source strip or object")
            return {"CANCELLED"}
        mattes = strips.own_strips(scene, src.name, f"matte:{obj.uid}")
        if not mattes:
            self.report({"ERROR"}, f"Track '{obj.name}' first: it has no matte strip")
            return {"CANCELLED"}
        strips.use_as_mask(context, scene, src, mattes[0])
        return {"FINISHED"}


classes = (VTA_OT_report, VTA_OT_connect, VTA_OT_start_engine, VTA_OT_get_video_info, VTA_OT_object_add,
           VTA_OT_object_remove, VTA_OT_set_range, VTA_OT_add_click, VTA_OT_clear_clicks, VTA_OT_sync_clicks,
           VTA_OT_track, VTA_OT_remove, VTA_OT_cancel, VTA_OT_load_results, VTA_OT_use_as_mask)
register, unregister = bpy.utils.register_classes_factory(classes)
