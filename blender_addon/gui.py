"""The "Track Anything" sidebar tab of the Sequencer (sequencer and preview regions): engine status,
then one panel per step of the workflow."""

from __future__ import annotations

import bpy

from . import compat, connection, strips
from .ops_results import results_outside_project
from .text import count_label, wrap
from .state import active_object, clean_is_stale, current_source_frame, results_shot_dir, scene_of


class VTA_UL_objects(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        split = layout.split(factor=0.4, align=True)  # the counts need the wider part
        row = split.row(align=True)
        swatch = row.row(align=True)
        swatch.scale_x = 0.3
        swatch.prop(item, "color", text="")
        row.prop(item, "name", text="", emboss=False)
        row = split.row()
        n = sum(1 for c in data.clicks if c.object_uid == item.uid)
        keys = len({c.frame for c in data.clicks if c.object_uid == item.uid})
        row.label(text=count_label(keys, n))


def draw_error(layout, context, step: str) -> None:
    """The short first line of the last error, wrapped, in the panel of the step that failed (the
    full text went to the Info log and the status bar)."""
    st = context.window_manager.vta
    if st.error and st.error_step == step:
        box = layout.box()
        box.alert = True
        for i, line in enumerate(wrap(st.error, 40)):
            box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")


class _Base:
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Track Anything"


def _state(context):
    return scene_of(context).vta


class VTA_PT_engine(_Base, bpy.types.Panel):
    bl_label = "Engine"
    bl_idname = "VTA_PT_engine"

    def draw(self, context):
        connection.panel_shown()  # a light health check while this panel is on screen
        st = context.window_manager.vta
        col = self.layout.column(align=True)
        if st.connected:
            col.label(text=f"Connected · engine {st.engine_version}", icon="CHECKMARK")
            col.label(text=f"Device: {st.device}")
            for part in st.backends.split(", "):
                if part:
                    col.label(text=part)
        else:
            col.label(text="Not connected", icon="UNLINKED")
            if not (st.error and st.error_step == "engine"):  # else the same reason is in the box below
                for line in wrap(st.link_error, 40)[:3]:
                    col.label(text=line)
        row = self.layout.row(align=True)
        row.operator("vta.connect", icon="LINKED")
        row.operator("vta.start_engine", icon="PLAY")
        draw_error(self.layout, context, "engine")
        if st.message and not st.error:
            self.layout.label(text=st.message, icon="INFO")


class VTA_PT_clip(_Base, bpy.types.Panel):
    bl_label = "1 · Clip"
    bl_idname = "VTA_PT_clip"

    def draw(self, context):
        state = _state(context)
        scene = scene_of(context)
        layout = self.layout
        active = compat.active_strip(scene)
        layout.label(text=f"Active strip: {active.name if active else '—'}", icon="SEQUENCE")
        layout.operator("vta.get_video_info", icon="FILE_MOVIE")
        if state.session_id:
            col = layout.column(align=True)
            col.label(text=f"Source: {state.strip_name}")
            col.label(text=f"{state.frame_count} frames · {state.width}x{state.height} · {state.fps:g} fps")
        draw_error(layout, context, "clip")


class VTA_PT_objects(_Base, bpy.types.Panel):
    bl_label = "2 · Objects and Clicks"
    bl_idname = "VTA_PT_objects"

    def draw(self, context):
        state = _state(context)
        scene = scene_of(context)
        layout = self.layout
        if not state.strip_name:  # before Get Video Info: the range it will take, not two zeros
            active = compat.active_strip(scene)
            if active is not None and active.type in ("MOVIE", "IMAGE"):
                layout.label(text=f"Range: {active.frame_final_start}–{active.frame_final_end - 1} "
                                  f"(the active strip)", icon="ARROW_LEFTRIGHT")
            else:
                layout.label(text="Range: make a movie or image strip active", icon="ARROW_LEFTRIGHT")
        row = layout.row(align=True)
        row.enabled = bool(state.strip_name)
        row.prop(state, "track_start")
        row.operator("vta.set_range", text="", icon="TRIA_LEFT_BAR").which = "START"
        row = layout.row(align=True)
        row.enabled = bool(state.strip_name)
        row.prop(state, "track_end")
        row.operator("vta.set_range", text="", icon="TRIA_RIGHT_BAR").which = "END"
        layout.operator("vta.set_range", text="Range From Strip", icon="ARROW_LEFTRIGHT").which = "STRIP"
        row = layout.row()
        row.template_list("VTA_UL_objects", "", state, "objects", state, "active_object", rows=3)
        col = row.column(align=True)
        col.operator("vta.object_add", text="", icon="ADD")
        col.operator("vta.object_remove", text="", icon="REMOVE")
        frame = current_source_frame(state, scene)
        obj = active_object(state)
        if obj is not None and frame is not None:
            n = sum(1 for c in state.clicks if c.object_uid == obj.uid and c.frame == frame)
            layout.label(text=f"Media frame {frame}: {n} click(s)" + (" · keyframe" if n else ""))
        col = layout.column(align=True)
        col.operator("vta.use_click_tool", icon="RESTRICT_SELECT_OFF")
        col.label(text="click = add, Shift+click = exclude")
        row = layout.row(align=True)
        row.operator("vta.clear_clicks", icon="X")
        row.prop(state, "show_overlay", text="", icon="HIDE_OFF")
        row = layout.row(align=True)
        row.enabled = state.show_overlay
        row.prop(state, "preview_mode", expand=True)
        st = context.window_manager.vta
        if st.pending_clicks:
            layout.operator("vta.sync_clicks", text=f"Send {st.pending_clicks} Pending Click(s)", icon="FILE_REFRESH")
        draw_error(layout, context, "clicks")


class VTA_PT_track(_Base, bpy.types.Panel):
    bl_label = "3 · Track and 4 · Correct"
    bl_idname = "VTA_PT_track"

    def draw(self, context):
        state = _state(context)
        st = context.window_manager.vta
        layout = self.layout
        layout.prop(state, "direction", expand=True)
        draw_matte(layout, state)
        if st.busy:
            layout.progress(factor=st.progress / 100.0, text=f"{st.job_kind} {st.progress_text}") \
                if hasattr(layout, "progress") else layout.prop(st, "progress", text=f"{st.job_kind} {st.progress_text}")
            layout.operator("vta.cancel", icon="CANCEL")
        else:
            layout.operator("vta.track", icon="TRACKING").direction = state.direction
        draw_error(layout, context, "track")
        col = layout.column(align=True)
        col.label(text=f"Weak frames (confidence < {state.weak_below:.2f})", icon="MARKER_HLT")
        col.label(text="are marked 'VTA': fix there, Track again")
        row = layout.row(align=True)
        row.operator("vta.prev_weak_frame", text="Previous Weak", icon="TRIA_LEFT")
        row.operator("vta.next_weak_frame", text="Next Weak", icon="TRIA_RIGHT")


def draw_matte(layout, state) -> None:
    """The matte's finish, sent with the next Track: Feather and Steady shape soft edges only, so
    they are greyed out while Soft Edges is off (and not sent then)."""
    box = layout.box()
    box.label(text="Matte", icon="MOD_MASK")
    col = box.column(align=True)
    col.prop(state, "matte_soft")
    col.prop(state, "matte_grow")
    soft = col.column(align=True)
    soft.enabled = state.matte_soft
    soft.prop(state, "matte_feather")
    soft.prop(state, "matte_steady", slider=True)


class VTA_PT_remove(_Base, bpy.types.Panel):
    bl_label = "5 · Remove and Results"
    bl_idname = "VTA_PT_remove"

    def draw(self, context):
        state = _state(context)
        st = context.window_manager.vta
        layout = self.layout
        layout.prop(state, "resize_ratio", slider=True)
        layout.prop(state, "dilation")
        row = layout.row()
        row.enabled = not st.busy
        row.operator("vta.remove", icon="BRUSH_DATA")
        draw_error(layout, context, "remove")
        draw_error(layout, context, "results")
        if clean_is_stale(state):
            box = layout.box()
            box.alert = True
            box.label(text="The clean plate is older than the mattes", icon="ERROR")
            row = box.row()
            row.enabled = not st.busy
            row.operator("vta.remove", text="Update Clean Plate", icon="FILE_REFRESH")
        row = layout.row(align=True)
        row.operator("vta.load_results", icon="FILE_REFRESH")
        row.operator("vta.use_as_mask", icon="MOD_MASK")
        row = layout.row(align=True)
        row.operator_menu_enum("vta.grade_object", "modifier", text="Grade Object", icon="COLOR")
        row.operator("vta.grade_object", text="Grade All But Object", icon="SELECT_SUBTRACT").inverse = True
        scene = scene_of(context)
        if state.strip_name:
            n = len(strips.own_strips(scene, state.strip_name))
            layout.label(text=f"{n} result strip(s) on the timeline")
        layout.prop(state, "results_folder")
        if results_shot_dir(scene, context) is None:
            box = layout.box()
            box.label(text="Unsaved .blend: results stay in the engine's", icon="INFO")
            box.label(text="folder; save to keep them beside the .blend")
        elif results_outside_project(scene):
            box = layout.box()
            box.label(text="Some results are outside the project folder", icon="INFO")
            box.operator("vta.bring_results", icon="FILE_FOLDER")
        layout.operator("vta.export_shot", icon="EXPORT")


_panels = (VTA_PT_engine, VTA_PT_clip, VTA_PT_objects, VTA_PT_track, VTA_PT_remove)
classes = (VTA_UL_objects,) + _panels
register, unregister = bpy.utils.register_classes_factory(classes)
