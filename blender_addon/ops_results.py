"""Result placement: the matte strips, the clean plate strip and the weak-frame markers put in the
edit from what the engine reports (each sequence's folder and file pattern: the add-on never builds
a session path itself), kept relative to the .blend; the stale mark on a clean plate made from
older mattes; Next/Previous Weak Frame; bringing results made before the .blend was saved beside
it; the Mask modifier and the graded object that use a matte on the source."""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, EnumProperty

from . import mapping, overlay, project_results, strips, worker
from .state import (abs_path, active_object, clean_is_stale, report, results_shot_dir, scene_by_name, scene_of,
                    source_strip, stored_path)


def apply_results(scene, results: dict, kind: str) -> list:
    """Main thread, after a `kind` job ("track" or "remove"): remember where the results are
    (relative to the .blend once saved), which mattes the clean plate was made from, the clip's
    frame numbers and the engine's weak-frame threshold; then update the strips and markers."""
    state = scene.vta
    if source_strip(state, scene) is None:
        raise RuntimeError(f"the source strip '{state.strip_name}' is gone")
    if kind == "track":
        state.matte_rev += 1
    elif kind == "remove" and results.get("clean_dir"):
        state.clean_dir, state.clean_pattern = stored_path(results["clean_dir"]), results["clean_pattern"]
        state.clean_rev = state.matte_rev
    state.numbers = mapping.encode_runs(results["numbers"]) if results.get("numbers") else ""
    state.weak_below = results.get("weak_below", state.weak_below)
    by_uid = {o["uid"]: o for o in results.get("objects", [])}
    for obj in state.objects:
        found = by_uid.get(obj.uid)
        if found and found["dir"]:
            obj.result_dir, obj.result_pattern = stored_path(found["dir"]), found["pattern"]
    # a Remove asks for a clean plate: it is made again even if the artist had deleted the old one
    return place_result_strips(scene, results.get("confidence"), clean=kind == "remove", new_clean=kind == "remove")


def numbers_of(state) -> list[int] | None:
    return mapping.decode_runs(state.numbers) if state.numbers else None


def place_result_strips(scene, confidence: dict | None = None, recreate: bool = False, clean: bool = True,
                        new_clean: bool = False) -> list:
    """Update the result strips in place and make missing ones — but not those the artist deleted,
    unless `recreate` (or, for the clean plate, `new_clean`: it was just asked for). The clean plate
    is touched only when `clean` (a Track leaves it as it is and marks it stale)."""
    state = scene.vta
    strip = source_strip(state, scene)
    results = [strips.ResultSequence(f"{kind}:{o.uid}", f"{o.name} matte", abs_path(o.result_dir), o.result_pattern)
               for o in state.objects if o.result_dir for kind in ("matte", "inverse")]
    # inverse mattes are made only by Grade Object; here they are only kept in step with the matte
    gone = {f"inverse:{o.uid}" for o in state.objects}
    if not recreate:
        gone |= {f"matte:{o.uid}" for o in state.objects if o.strip_placed}
    if clean and state.clean_dir:
        results.append(strips.ResultSequence("clean", f"{strip.name} clean", abs_path(state.clean_dir),
                                             state.clean_pattern))
        if state.clean_placed and not (recreate or new_clean):
            gone.add("clean")
    placed = strips.place_results(scene, strip, state.frame_count, results, gone, numbers_of(state))
    roles = {s.get(strips.ROLE) for s in placed}
    for obj in state.objects:
        obj.strip_placed = obj.strip_placed or f"matte:{obj.uid}" in roles
    state.clean_placed = state.clean_placed or "clean" in roles
    for plate in strips.own_strips(scene, strip.name, "clean"):
        strips.mark_stale(plate, clean_is_stale(state))
    if confidence is not None:
        per_object = {}
        for obj in state.objects:
            conf = confidence.get(obj.uid, {})
            keys = {c.frame for c in state.clicks if c.object_uid == obj.uid}
            weak = mapping.weak_frames(conf, state.weak_below, keys)
            obj.weak = mapping.encode_runs(weak)
            per_object[obj.name] = (conf, weak)
        strips.mark_weak_frames(scene, strip, state.frame_count, per_object)
    overlay.forget_masks()
    return placed


class _WeakFrame:
    """Moves the playhead to the nearest weak frame of the active object one way (`forward`)."""

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        src, obj = source_strip(state, scene), active_object(state)
        if src is None or obj is None or not state.frame_count:
            self.report({"ERROR"}, "No source strip or object")
            return {"CANCELLED"}
        pairs = mapping.visible_source_map(strips.strip_timing(src, state.frame_count))
        frame = mapping.next_weak_timeline(pairs, mapping.decode_runs(obj.weak), scene.frame_current, self.forward)
        if frame is None:
            self.report({"INFO"}, f"No weak frame of '{obj.name}' {'after' if self.forward else 'before'} this one")
            return {"CANCELLED"}
        scene.frame_set(frame)
        return {"FINISHED"}


class VTA_OT_next_weak_frame(_WeakFrame, bpy.types.Operator):
    """Move the playhead to the next frame where the active object's matte is weak (its confidence
    is below the engine's threshold)"""
    bl_idname = "vta.next_weak_frame"
    bl_label = "Next Weak Frame"
    forward = True


class VTA_OT_prev_weak_frame(_WeakFrame, bpy.types.Operator):
    """Move the playhead to the previous frame where the active object's matte is weak"""
    bl_idname = "vta.prev_weak_frame"
    bl_label = "Previous Weak Frame"
    forward = False


class VTA_OT_load_results(bpy.types.Operator):
    """Re-place the result strips (after moving or trimming the source strip); brings back result
    strips that were deleted"""
    bl_idname = "vta.load_results"
    bl_label = "Re-align Result Strips"
    bl_options = {"UNDO"}

    recreate: BoolProperty(name="Restore deleted", default=True,
                           description="Also make again the result strips that were deleted")

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        if source_strip(state, scene) is None or not any(o.result_dir for o in state.objects):
            self.report({"ERROR"}, "No results yet for this strip")
            return {"CANCELLED"}
        made = place_result_strips(scene, recreate=self.recreate)
        self.report({"INFO"}, f"{len(made)} result strip(s) placed")
        return {"FINISHED"}


def results_outside_project(scene) -> bool:
    """Whether some of the scene's results are kept outside its results folder beside the saved
    .blend (made while the .blend was unsaved, or by an older version of the add-on)."""
    shot = results_shot_dir(scene)
    if shot is None:
        return False
    state = scene.vta
    dirs = [abs_path(o.result_dir) for o in state.objects if o.result_dir] + [abs_path(state.clean_dir)]
    return any(d and os.path.isdir(d) and not d.startswith(shot + os.sep) for d in dirs)


def _brought(scene_name: str, results: dict) -> None:
    scene = scene_by_name(scene_name)
    if scene is None:
        return
    state = scene.vta
    by_uid = {o["uid"]: o for o in results["objects"]}
    for obj in state.objects:
        if obj.uid in by_uid and by_uid[obj.uid]["dir"]:
            obj.result_dir = stored_path(by_uid[obj.uid]["dir"])
    if results.get("clean_dir"):
        state.clean_dir = stored_path(results["clean_dir"])
    if source_strip(state, scene) is not None:
        place_result_strips(scene)
    report("INFO", f"Results kept beside the .blend: {results['brought']} file(s) brought over", step="results")


class VTA_OT_bring_results(bpy.types.Operator):
    """Copy (or hard-link) the results made while the .blend was unsaved into the results folder beside
    it, and point the result strips there, so the project can be moved and rendered elsewhere"""
    bl_idname = "vta.bring_results"
    bl_label = "Keep Results Beside the .blend"

    def execute(self, context):
        scene = scene_of(context)
        state = scene.vta
        shot = results_shot_dir(scene, context)
        if shot is None:
            self.report({"ERROR"}, "Save the .blend first: the results folder is relative to it")
            return {"CANCELLED"}
        snapshot = {"objects": [{"uid": o.uid, "dir": abs_path(o.result_dir), "pattern": o.result_pattern}
                                for o in state.objects if o.result_dir],
                    "clean_dir": abs_path(state.clean_dir), "clean_pattern": state.clean_pattern,
                    "numbers": numbers_of(state)}
        worker.submit(project_results.mirror_results, snapshot, shot, state.frame_count, lane="job",
                      on_done=lambda r, n=scene.name: _brought(n, r),
                      on_error=lambda m: report("ERROR", m, step="results"))
        return {"FINISHED"}


def active_matte(op, scene):
    """(source strip, active object, its matte strip), or None after reporting what is missing."""
    state = scene.vta
    src, obj = source_strip(state, scene), active_object(state)
    if src is None or obj is None:
        op.report({"ERROR"}, "No source strip or object")
        return None
    mattes = strips.own_strips(scene, src.name, f"matte:{obj.uid}")
    if not mattes:
        op.report({"ERROR"}, f"Track '{obj.name}' first: it has no matte strip")
        return None
    return src, obj, mattes[0]


class VTA_OT_use_as_mask(bpy.types.Operator):
    """Add a Mask modifier on the source strip, fed by the active object's matte strip"""
    bl_idname = "vta.use_as_mask"
    bl_label = "Use as Mask"
    bl_options = {"UNDO"}

    def execute(self, context):
        scene = scene_of(context)
        found = active_matte(self, scene)
        if found is None:
            return {"CANCELLED"}
        src, _obj, matte = found
        strips.use_as_mask(context, scene, src, matte)
        return {"FINISHED"}


class VTA_OT_grade_object(bpy.types.Operator):
    """Add a colour modifier to the source strip, limited to the active object by its matte (or to
    everything but the object); it stays through re-tracks"""
    bl_idname = "vta.grade_object"
    bl_label = "Grade Object"
    bl_options = {"REGISTER", "UNDO"}

    modifier: EnumProperty(name="Modifier", items=strips.GRADE_TYPES, default="COLOR_BALANCE")
    inverse: BoolProperty(name="Everything but the object", default=False,
                          description="Grade everything except the object (the matte inverted)")

    def execute(self, context):
        scene = scene_of(context)
        found = active_matte(self, scene)
        if found is None:
            return {"CANCELLED"}
        src, obj, matte = found
        mask = strips.inverse_matte_strip(scene, src, matte, f"inverse:{obj.uid}") if self.inverse else matte
        name = f"VTA grade {'all but ' if self.inverse else ''}{obj.name}"
        strips.grade_with_mask(context, scene, src, mask, self.modifier, name)
        self.report({"INFO"}, f"{name}: a {self.modifier.replace('_', ' ').title()} modifier on '{src.name}'")
        return {"FINISHED"}


classes = (VTA_OT_load_results, VTA_OT_bring_results, VTA_OT_use_as_mask, VTA_OT_grade_object, VTA_OT_next_weak_frame,
           VTA_OT_prev_weak_frame)
register, unregister = bpy.utils.register_classes_factory(classes)
