"""The one place that knows how Blender's API differs between versions (3.4, 4.2 LTS … 5.x).

Everything else asks this module for strips, strip types, shaders and the like, so a rename in a
future Blender is a one-line change here.
"""

from __future__ import annotations

import bpy

VERSION = bpy.app.version
# path properties that may hold "//" (relative to the .blend) say so from Blender 4.5 on, which
# warns otherwise; older versions have no such option and accept the prefix silently
BLEND_RELATIVE = {"PATH_SUPPORTS_BLEND_RELATIVE"} if VERSION >= (4, 5, 0) else set()


def strip_collection(scene, create: bool = False):
    """The scene's top-level strip collection: `.strips` (4.4+) or `.sequences` (older); None when
    the scene has no sequence editor (and `create` is False)."""
    ed = scene.sequence_editor
    if ed is None:
        if not create:
            return None
        ed = scene.sequence_editor_create()
    return ed.strips if hasattr(ed, "strips") else ed.sequences


def all_strips(scene) -> list:
    """Every strip, including those inside meta strips."""
    ed = scene.sequence_editor
    if ed is None:
        return []
    coll = getattr(ed, "strips_all", None)
    if coll is None:
        coll = ed.sequences_all
    return list(coll)


def active_strip(scene):
    ed = scene.sequence_editor
    if ed is None:
        return None
    return getattr(ed, "active_strip", None)


def set_active_strip(scene, strip) -> None:
    if scene.sequence_editor is not None:
        scene.sequence_editor.active_strip = strip


def strip_base_type():
    """bpy.types.Strip (4.4+) or bpy.types.Sequence."""
    return getattr(bpy.types, "Strip", None) or bpy.types.Sequence


def sequencer_scene(context):
    """The scene the sequencer edits: Blender 5.0 lets a workspace edit another scene than the
    window's (`workspace.sequencer_scene`); older versions edit the window's scene."""
    ws = getattr(context, "workspace", None)
    scene = getattr(ws, "sequencer_scene", None) if ws is not None else None
    return scene or context.scene


def ensure_sequencer_scene(context, scene) -> None:
    """Blender 5.0 crashes in `strip.modifiers.new` when the workspace has no sequencer scene: set it
    first. No-op where the property does not exist."""
    ws = getattr(context, "workspace", None)
    if ws is not None and hasattr(ws, "sequencer_scene") and ws.sequencer_scene is None:
        ws.sequencer_scene = scene


def _builtin_shader(*names: str):
    """The first builtin GPU shader of `names` this Blender knows (they were renamed in 4.0)."""
    import gpu

    for name in names:
        try:
            return gpu.shader.from_builtin(name)
        except (ValueError, TypeError):
            continue
    raise RuntimeError(f"no builtin shader among {', '.join(names)}")


def image_shader():
    """A builtin shader drawing a textured quad with `pos`/`texCoord` attributes and an `image`
    sampler: 'IMAGE' (4.0+) or '2D_IMAGE'."""
    return _builtin_shader("IMAGE", "2D_IMAGE")


def uniform_color_shader():
    return _builtin_shader("UNIFORM_COLOR", "2D_UNIFORM_COLOR")


def is_background() -> bool:
    return bool(bpy.app.background)


def playback_end_handlers():
    """The handler list called when animation playback stops (`animation_playback_post`), or None
    in the older versions that have none."""
    return getattr(bpy.app.handlers, "animation_playback_post", None)


def strip_fps(strip, scene) -> float:
    """The media fps of a movie strip (`fps`, read-only), else the scene's."""
    fps = getattr(strip, "fps", 0.0) or 0.0
    if fps > 0:
        return float(fps)
    return scene.render.fps / (scene.render.fps_base or 1.0)


def set_marker_color(marker, index: int) -> None:
    """Markers have no colour before 4.x; where they have `color_tag`-like fields use them."""
    for attr in ("color_tag",):
        if hasattr(marker, attr):
            try:
                setattr(marker, attr, f"COLOR_{index:02d}")
            except (TypeError, ValueError):
                pass
