"""Steps 3–5, the jobs: Track and Remove run on the "job" worker lane (submit, then follow the
engine's event stream); progress and the results come back to the main thread through
worker.post, so the UI never waits on the network. Esc or Cancel stops a job; finished frames are
kept by the engine. A Track carries the panel's matte settings (matte_settings.py), read on the
main thread and compared with the session's on the lane."""

from __future__ import annotations

import time

import bpy
from bpy.props import EnumProperty

from . import engine_client, engine_ops, matte_settings, project_results, worker
from .ops_clicks import apply_frame_sync
from .ops_results import apply_results
from .text import progress_line
from .state import (click_groups, client, matte_finish, object_spec, ready, report, results_shot_dir, scene_by_name,
                    scene_of, source_range, source_strip, state_of, status_of, user_dir)

_job: dict = {"control": None}


def _on_progress(done: int, total: int, message: str) -> None:
    st = status_of()
    st.progress = 100.0 * done / total if total else 0.0
    if _job.get("first_done") is None:
        _job["first_done"] = done
    elapsed = time.monotonic() - _job.get("started", time.monotonic())
    st.progress_text = progress_line(done, total, elapsed, _job["first_done"]) + (f" {message}" if message else "")


def _finish_job() -> None:
    st = status_of()
    st.busy, st.job_kind, st.job_id = False, "", ""
    _job["control"] = None


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
    rng = source_range(state, source_strip(state, scene))
    if rng is None:
        op.report({"ERROR"}, "The track range does not overlap the source strip")
        return {"CANCELLED"}
    params = dict(params, start=rng[0], end=rng[1])
    cl = client(context)
    control = engine_ops.JobControl()
    _job.update(control=control, started=time.monotonic(), first_done=None)
    specs = [object_spec(o) for o in state.objects]
    groups = click_groups(state)
    session_id, scene_name, frame_count = state.session_id, scene.name, state.frame_count
    cache = user_dir("results", session_id)
    shot_dir = results_shot_dir(scene, context)  # None: an unsaved .blend keeps the engine's folders
    finish = matte_finish(state) if kind == "track" else None

    def work():  # on the job lane: no bpy here
        synced = engine_ops.resync_all(cl, session_id, specs, groups)  # clicks made while away
        worker.post(lambda: [apply_frame_sync(scene_name, r) for r in synced])
        ids = [engine_ops.ensure_object(cl, session_id, s) for s in specs
               if any(uid == s.uid for uid, _ in groups)]
        if not ids:
            raise engine_client.EngineClientError("click on an object first: no object has a keyframe")
        follow = None  # finished frames into the project as they come, on this lane
        if shot_dir is not None:
            follow = project_results.FrameFollower(engine_ops.result_locations(cl, session_id), shot_dir)
        matte = matte_settings.request_fields(finish, cl.session(session_id)) if finish is not None else {}
        try:
            job = engine_ops.run_job(cl, session_id, kind, dict(params, objects=ids, **matte), control,
                                     lambda d, t, m: worker.post(_on_progress, d, t, m), follow)
        except engine_client.EngineHTTPError as exc:
            line = matte_settings.refusal(exc.status, exc.message, matte)
            if line is None:
                raise
            raise engine_client.EngineClientError(line) from None
        results = engine_ops.collect_results(cl, session_id, specs, cache)
        if shot_dir is not None:  # what the follower missed (a download, a failure) into the project
            worker.post(_on_progress, 1, 1, "bringing the results into the project folder…")
            results = project_results.mirror_results(results, shot_dir, frame_count)
        return job, results

    def done(value):
        job, results = value
        _finish_job()
        scene_ = scene_by_name(scene_name)
        if scene_ is None:
            return
        try:
            made = apply_results(scene_, results, kind)
        except (RuntimeError, OSError) as exc:
            report("ERROR", str(exc), step="results")
            return
        if job.get("status") == "cancelled":
            report("WARNING", f"{kind.capitalize()} cancelled; finished frames are kept")
        else:
            report("INFO", f"{kind.capitalize()} done: {len(made)} strip(s) placed")

    def failed(message):
        _finish_job()
        report("ERROR", message, step=kind)

    st.busy, st.job_kind, st.progress, st.progress_text, st.error = True, kind, 0.0, "starting…", ""
    worker.submit(work, on_done=done, on_error=failed, lane="job")
    return {"FINISHED"}


def cancel_job() -> bool:
    """Ask the running job to stop: the job lane sends the cancel on its next event or ping."""
    control = _job.get("control")
    if control is None:
        return False
    control.cancel.set()
    status_of().progress_text = "cancelling…"
    return True


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


class VTA_OT_cancel(bpy.types.Operator):
    """Cancel the running job (finished frames are kept)"""
    bl_idname = "vta.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        return {"FINISHED"} if cancel_job() else {"CANCELLED"}


classes = (VTA_OT_track, VTA_OT_remove, VTA_OT_cancel)
register, unregister = bpy.utils.register_classes_factory(classes)
