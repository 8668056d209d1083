"""Operators for clicks: add one (from the preview click tool or by coordinates), clear a frame's,
send the ones the engine has not received. A click is stored in the scene first and sent after, so
an engine that is away never loses one; the engine's mask for the frame comes back to the overlay."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty

from . import engine_ops, mapping, overlay, strips, worker
from .state import (active_object, client, clicks_for, count_pending, current_source_frame, object_spec,
                    ready, report, scene_by_name, scene_of, source_strip, state_of, status_of)


def apply_frame_sync(scene_name: str, result: dict) -> None:
    """Main thread: the engine now holds `result["count"]` clicks of (object, frame)."""
    scene = scene_by_name(scene_name)
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


def on_click_error(scene_name: str, message: str) -> None:
    scene = scene_by_name(scene_name)
    if scene is not None:
        status_of().pending_clicks = count_pending(scene.vta)
    report("ERROR", f"Clicks kept, to be sent again: {message}", step="clicks")


def sync_frame(context, scene, state, uid: int, frame: int) -> None:
    obj = next((o for o in state.objects if o.uid == uid), None)
    if obj is None:
        return
    worker.submit(engine_ops.sync_frame, client(context), state.session_id, object_spec(obj), frame,
                  clicks_for(state, uid, frame),
                  on_done=lambda r, n=scene.name: apply_frame_sync(n, r),
                  on_error=lambda m, n=scene.name: on_click_error(n, m))


def remove_clicks(state, uid: int, frame: int | None = None) -> None:
    """Drop the stored clicks of object `uid` (on `frame` only, when given)."""
    for i in reversed(range(len(state.clicks))):
        c = state.clicks[i]
        if c.object_uid == uid and (frame is None or c.frame == frame):
            state.clicks.remove(i)


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


def preview_area(context):
    """(area, region) of a sequencer in this window that shows the preview, or None."""
    screen = getattr(context, "screen", None) or getattr(getattr(context, "window", None), "screen", None)
    for area in getattr(screen, "areas", ()):
        if area.type == "SEQUENCE_EDITOR" and area.spaces.active.view_type in ("PREVIEW", "SEQUENCER_PREVIEW"):
            region = next((r for r in area.regions if r.type in ("PREVIEW", "WINDOW")), None)
            if region is not None:
                return area, region
    return None


class VTA_OT_use_click_tool(bpy.types.Operator):
    """Make the Track Anything Click tool active in the sequencer preview"""
    bl_idname = "vta.use_click_tool"
    bl_label = "Click Tool"

    def execute(self, context):
        found = preview_area(context)
        if found is None:
            self.report({"ERROR"}, "Show the sequencer preview first (View › Preview, or Sequencer & Preview)")
            return {"CANCELLED"}
        area, region = found
        with context.temp_override(area=area, region=region):
            bpy.ops.wm.tool_set_by_id(name="vta.click_tool", space_type="SEQUENCE_EDITOR")
        return {"FINISHED"}


classes = (VTA_OT_add_click, VTA_OT_clear_clicks, VTA_OT_sync_clicks, VTA_OT_use_click_tool)
register, unregister = bpy.utils.register_classes_factory(classes)
