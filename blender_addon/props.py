"""What the add-on remembers.

Scene properties (`scene.vta`) are saved in the .blend: the source strip, the engine session it maps
to, the objects, every click and the settings, so reopening a file restores the work (and the clicks
can be replayed to a fresh engine). Clicks are stored here *before* they are sent, so an engine that
is gone never loses one.

WindowManager properties (`wm.vta`) are transient (never saved): connection state, job progress and
the last message, following Flamenco; changing them redraws the panels.
"""

from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty,
                       IntProperty, PointerProperty, StringProperty)

from . import compat
from .ops_objects import schedule_object_sync


def _object_changed(self, context):
    # renames and recolours are pushed to the engine (ops_objects.schedule_object_sync)
    self.meta_dirty = True
    schedule_object_sync(context)


class VTA_Object(bpy.types.PropertyGroup):
    uid: IntProperty(description="Local id, stable across engine sessions")
    name: StringProperty(name="Name", default="object", update=_object_changed)
    color: FloatVectorProperty(name="Colour", subtype="COLOR", size=3, min=0.0, max=1.0,
                               default=(0.9, 0.1, 0.3), update=_object_changed)
    engine_id: IntProperty(default=0, description="Object id in the engine session (0: not created yet)")
    meta_dirty: BoolProperty(default=False)
    result_dir: StringProperty(subtype="DIR_PATH", options=compat.BLEND_RELATIVE,
                               description="Folder of this object's mattes: in the project's results folder "
                                           "(relative to the .blend), or the engine's while the .blend is unsaved")
    result_pattern: StringProperty(description="File name pattern of the mattes ({frame} = clip position, "
                                   "{number} = source frame number)")
    weak: StringProperty(description="Source frames whose matte is weak (runs, mapping.encode_runs)")
    strip_placed: BoolProperty(default=False, description="Its matte strip was placed once (a deleted one is not recreated unasked)")


class VTA_Click(bpy.types.PropertyGroup):
    object_uid: IntProperty()
    frame: IntProperty(description="Source (media) frame, 0-based")
    x: FloatProperty(description="Media pixel, from the left")
    y: FloatProperty(description="Media pixel, from the top")
    positive: BoolProperty(default=True)
    synced: BoolProperty(default=False, description="Sent to the current engine session")


class VTA_SceneState(bpy.types.PropertyGroup):
    strip_name: StringProperty(name="Source strip")
    video_path: StringProperty(subtype="FILE_PATH")
    session_id: StringProperty()
    upload_sha: StringProperty(description="sha256 of the clip as uploaded to a remote engine (empty: opened by path)")
    frame_count: IntProperty()
    width: IntProperty()
    height: IntProperty()
    fps: FloatProperty()
    clean_dir: StringProperty(subtype="DIR_PATH", options=compat.BLEND_RELATIVE,
                              description="Folder of the clean plate (like the mattes')")
    clean_pattern: StringProperty(description="File name pattern of the clean plate ({frame} = clip position, "
                                  "{number} = source frame number)")
    numbers: StringProperty(description="Source frame number of each clip position (runs; empty: the positions)")
    results_folder: StringProperty(name="Results folder", subtype="DIR_PATH", options=compat.BLEND_RELATIVE,
                                   default="",
                                   description="Where this scene's results are kept (empty: the preferences' "
                                               "folder, by default vta_results beside the .blend)")
    clean_placed: BoolProperty(default=False, description="The clean plate strip was placed once")
    matte_rev: IntProperty(default=0, description="Counts finished Track jobs: the mattes' revision")
    clean_rev: IntProperty(default=-1, description="The mattes' revision the clean plate was made from")

    track_start: IntProperty(name="Start", description="First timeline frame to track")
    track_end: IntProperty(name="End", description="Last timeline frame to track")
    direction: EnumProperty(name="Direction", default="both", items=[
        ("forward", "Forward", "From each keyframe towards later frames"),
        ("backward", "Backward", "From each keyframe towards earlier frames"),
        ("both", "Both", "Both ways, blended between keyframes")])

    objects: CollectionProperty(type=VTA_Object)
    active_object: IntProperty(name="Active object")
    next_uid: IntProperty(default=1)
    clicks: CollectionProperty(type=VTA_Click)

    matte_soft: BoolProperty(name="Soft Edges", default=False,
                             description="Soft mattes (16-bit PNG): alpha from the image along the edge; off: "
                                         "hard 8-bit mattes")
    matte_grow: FloatProperty(name="Grow/Choke", default=0.0, min=-500.0, max=500.0, soft_min=-50.0, soft_max=50.0,
                              subtype="PIXEL", precision=1,
                              description="Move the matte's edge out by this many pixels (negative: choke it in)")
    matte_feather: FloatProperty(name="Feather", default=0.0, min=0.0, max=200.0, soft_max=50.0, subtype="PIXEL",
                                 precision=1, description="Soften the edge over this many pixels (soft edges only)")
    matte_steady: FloatProperty(name="Steady", default=0.6, min=0.0, max=0.99, subtype="FACTOR",
                                description="How much a soft edge keeps its previous frame's alpha where the picture "
                                            "agrees: less flicker, but slower to follow (0: off; soft edges only)")

    weak_below: FloatProperty(name="Weak below", default=0.5, min=0.0, max=1.0,
                              description="The engine's threshold: a tracked frame whose confidence is below it "
                                          "is weak (the same for the CLI, the batch and the add-on)")
    dilation: IntProperty(name="Mask dilation", default=8, min=0, max=200, subtype="PIXEL",
                          description="Grow the mattes by this many pixels before removing the objects")
    resize_ratio: FloatProperty(name="Resize ratio", default=1.0, min=0.1, max=1.0,
                                description="Inpaint at this fraction of the resolution (faster), upscaled back")
    show_overlay: BoolProperty(name="Show mask and clicks", default=True)
    preview_mode: EnumProperty(name="Preview", default="OVERLAY", items=[
        ("OVERLAY", "Overlay", "The picture with the object's matte tinted over it"),
        ("MATTE", "Matte", "The matte alone: white object on black"),
        ("CHECKER", "Alpha Over", "The object cut out over a checkerboard (what a composite would keep)")])


class VTA_Status(bpy.types.PropertyGroup):
    connected: BoolProperty(description="The last exchange with the configured engine succeeded")
    link_error: StringProperty(description="Why the last exchange with the engine failed (first line)")
    engine_version: StringProperty()
    backends: StringProperty()
    device: StringProperty()
    message: StringProperty()
    error: StringProperty(description="First line of the last error (the full text is in the Info log)")
    error_step: StringProperty(description="The step whose panel shows the error")
    last_report: StringProperty(description="Full text of the last message")
    busy: BoolProperty()
    job_kind: StringProperty()
    job_id: StringProperty()
    progress: FloatProperty(subtype="PERCENTAGE", min=0, max=100)
    progress_text: StringProperty()
    pending_clicks: IntProperty()


classes = (VTA_Object, VTA_Click, VTA_SceneState, VTA_Status)
_register, _unregister = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register()
    bpy.types.Scene.vta = PointerProperty(type=VTA_SceneState)
    bpy.types.WindowManager.vta = PointerProperty(type=VTA_Status)


def unregister() -> None:
    del bpy.types.WindowManager.vta
    del bpy.types.Scene.vta
    _unregister()
