"""The click tool in the sequencer preview's toolbar (the edit_breakdown pattern): with it active,
left click adds a positive click on the source strip's picture, Shift+click a negative one. The
operator maps the mouse through the preview's view2d and the strip's transform (mapping.py)."""

from __future__ import annotations

import bpy


class VTA_WST_click(bpy.types.WorkSpaceTool):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_context_mode = "PREVIEW"
    bl_idname = "vta.click_tool"
    bl_label = "Track Anything Click"
    bl_description = "Click on the object to track: click to include, Shift+click to exclude"
    bl_icon = "ops.generic.select_circle"
    bl_widget = None
    bl_keymap = (
        ("vta.add_click", {"type": "LEFTMOUSE", "value": "PRESS"}, {"properties": [("positive", True)]}),
        ("vta.add_click", {"type": "LEFTMOUSE", "value": "PRESS", "shift": True},
         {"properties": [("positive", False)]}),
    )

    def draw_settings(context, layout, tool):
        state = context.scene.vta
        layout.prop(state, "show_overlay")
        layout.operator("vta.clear_clicks")


class VTA_WST_click_combined(VTA_WST_click):
    """The same tool for the combined Sequencer & Preview view, which has its own toolbar."""
    bl_context_mode = "SEQUENCER_PREVIEW"


_tools = (VTA_WST_click, VTA_WST_click_combined)


def register() -> None:
    if bpy.app.background:
        return  # tools need a window manager keyconfig; the operators work without them
    for tool in _tools:
        bpy.utils.register_tool(tool, separator=True)


def unregister() -> None:
    if bpy.app.background:
        return
    for tool in reversed(_tools):
        try:
            bpy.utils.unregister_tool(tool)
        except (ValueError, RuntimeError, KeyError):
            pass
