"""Add-on preferences: where the engine is, its token, and how to start a local one."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty

from . import compat

DEFAULT_ADDRESS = "http://127.0.0.1:8765"
DEFAULT_COMMAND = "vta-engine serve --port 8765"
DEFAULT_RESULTS = "//vta_results/"


class VTA_Preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    address: StringProperty(name="Engine address", default=DEFAULT_ADDRESS,
                            description="URL of the Track Anything engine")
    token: StringProperty(name="Token", subtype="PASSWORD",
                          description="Access token, when the engine was started with one")
    engine_command: StringProperty(
        name="Start command", default=DEFAULT_COMMAND,
        description="Command that starts a local engine (run without a shell; use the engine's venv, e.g. "
                    "/path/to/.venv/bin/vta-engine serve --port 8765)")
    upload_clips: EnumProperty(
        name="Upload clips", default="AUTO",
        items=[("AUTO", "When needed", "Send the clip to the engine when it cannot read the strip's file "
                "(an engine on another machine, or behind an SSH tunnel)"),
               ("ALWAYS", "Always", "Always send the clip to the engine"),
               ("NEVER", "Never", "The engine must read the strip's file itself (shared storage)")],
        description="How the engine gets a movie it cannot read from its own disk")
    timeout: FloatProperty(name="Request timeout", default=10.0, min=1.0, max=300.0, subtype="TIME_ABSOLUTE",
                           description="Seconds to wait for one engine request")

    results_folder: StringProperty(
        name="Results folder", subtype="DIR_PATH", options=compat.BLEND_RELATIVE, default=DEFAULT_RESULTS,
        description="Where results are kept: '//' is the saved .blend's folder, so the project (the .blend and "
                    "this folder) can be moved, archived and rendered elsewhere. A scene can pick its own")
    keep_engine: BoolProperty(name="Keep engine running", default=False,
                              description="Leave an engine started from Blender running when Blender quits")

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "address")
        col.prop(self, "token")
        col.prop(self, "engine_command")
        col.prop(self, "upload_clips")
        col.prop(self, "timeout")
        col.prop(self, "results_folder")
        col.prop(self, "keep_engine")


def get(context=None) -> VTA_Preferences | None:
    """The preferences, or None while the add-on is not registered as an add-on (e.g. in tests
    that register the modules directly)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


classes = (VTA_Preferences,)
register, unregister = bpy.utils.register_classes_factory(classes)
