"""Operators for the objects to track and the track range; renames and recolours made in the
object list are pushed to the engine from here (props.py calls schedule_object_sync)."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from . import compat, engine_ops, strips, worker
from .ops_clicks import remove_clicks
from .state import active_object, add_object, client, object_spec, report, scene_of, source_strip, state_of


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
                          on_error=lambda m: report("ERROR", m, step="clicks"))


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
    """Remove the active object, its clicks, its matte strip and (in the engine) its results"""
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
        if state.strip_name:
            for kind in ("matte", "inverse"):
                strips.remove_own_strips(scene, state.strip_name, f"{kind}:{uid}")
        state.objects.remove(state.active_object)
        state.active_object = min(state.active_object, len(state.objects) - 1)
        if state.session_id:
            worker.submit(engine_ops.remove_object, client(context), state.session_id, spec,
                          on_error=lambda m: report("ERROR", m, step="clicks"))
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
            strip = source_strip(state, scene) or compat.active_strip(scene)
            if strip is not None:
                state.track_start, state.track_end = strip.frame_final_start, strip.frame_final_end - 1
        return {"FINISHED"}


classes = (VTA_OT_object_add, VTA_OT_object_remove, VTA_OT_set_range)
register, unregister = bpy.utils.register_classes_factory(classes)
