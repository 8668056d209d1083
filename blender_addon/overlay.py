"""The preview overlay: the active object's current mask and the clicks on this frame, drawn with
`gpu` in one POST_PIXEL handler (never `bgl`).

Three preview modes (`scene.vta.preview_mode`), all one texture over the picture's quad:
OVERLAY tints the object in its colour; MATTE covers the picture with the matte (white object on
black); CHECKER (alpha over) covers everything but the object with a checkerboard, so the picture
shows only where the matte keeps it. Which pixels each mode draws is `mode_pixels` (numpy, tested
headless); uploading and drawing them needs a window.

Masks come from two places: the mask the engine returned for the last click on a frame (kept in
memory per object and source frame) and the tracked mattes on disk. Textures are cached per
(object, frame) and rebuilt only when that changes, downsampled to at most MAX_TEXTURE pixels a side.
"""

from __future__ import annotations

import os

import bpy
import numpy as np

from . import compat, mapping, strips

MAX_TEXTURE = 768
_handle = None
_click_masks: dict[tuple[int, int], np.ndarray] = {}  # (object uid, source frame) → bool mask
_texture_cache: dict = {"key": None, "texture": None}


def set_click_mask(uid: int, frame: int, mask: np.ndarray | None) -> None:
    if mask is None:
        _click_masks.pop((uid, frame), None)
    else:
        _click_masks[(uid, frame)] = mask
    _texture_cache["key"] = None


def forget_masks() -> None:
    _click_masks.clear()
    _texture_cache["key"] = None


def click_mask(uid: int, frame: int) -> np.ndarray | None:
    return _click_masks.get((uid, frame))


def load_png_mask(path: str, soft: bool = False) -> np.ndarray | None:
    """A matte file (PNG 8/16, EXR) → bool mask (top row first), or its 0..1 values when `soft`,
    read through Blender's image loader (no extra deps). A PNG is read as Non-Color: Blender
    decodes a 16-bit PNG to float through its colour space, sRGB by default, which made a 0.5
    edge 0.21. A file with an alpha channel carries the matte there: an EXR matte with channel A
    only (as engines before Y was added wrote them) comes with undefined colour (bpy 5.0.1)."""
    try:
        img = bpy.data.images.load(path, check_existing=False)
    except RuntimeError:
        return None
    try:
        if path.lower().endswith(".png"):
            img.colorspace_settings.name = "Non-Color"
        w, h = img.size
        if w == 0 or h == 0:
            return None
        px = np.empty(w * h * img.channels, np.float32)
        img.pixels.foreach_get(px)
        arr = px.reshape(h, w, img.channels)[::-1]  # Blender stores bottom row first
        has_alpha = img.channels == 4 and arr[:, :, 3].min() < 1.0
        values = arr[:, :, 3] if has_alpha else arr[:, :, 0]
        return np.clip(values, 0.0, 1.0) if soft else values > 0.5
    finally:
        bpy.data.images.remove(img)


def current_mask(state, obj, source_frame: int) -> tuple[tuple, object]:
    """(cache key, mask or matte file) to show for `obj` on `source_frame`: the click result, else
    the tracked matte's path."""
    mask = _click_masks.get((obj.uid, source_frame))
    if mask is not None:
        return ("click", obj.uid, source_frame, id(mask)), mask
    if obj.result_dir and obj.result_pattern:
        name = mapping.result_file_name(obj.result_pattern, source_frame, _numbers(state.numbers))
        path = os.path.join(bpy.path.abspath(obj.result_dir), name)
        if os.path.isfile(path):
            return ("file", path, os.path.getmtime(path)), path
    return ("none",), None


_numbers_cache: dict = {"text": None, "numbers": None}


def _numbers(text: str):
    if _numbers_cache["text"] != text:
        _numbers_cache.update(text=text, numbers=mapping.decode_runs(text) if text else None)
    return _numbers_cache["numbers"]


MODES = ("OVERLAY", "MATTE", "CHECKER")
CHECKER_PX = 16  # image pixels per checkerboard square


def mode_pixels(mask: np.ndarray, mode: str, color, step: int = 1) -> np.ndarray:
    """RGBA (bottom row first, as GPU textures) of one preview mode for a mask (bool or 0..1,
    top row first), sampled every `step` pixels."""
    small = np.asarray(mask, np.float32)[::step, ::step][::-1]
    th, tw = small.shape
    rgba = np.zeros((th, tw, 4), np.float32)
    if mode == "MATTE":
        rgba[..., 0] = rgba[..., 1] = rgba[..., 2] = small
        rgba[..., 3] = 1.0
    elif mode == "CHECKER":
        size = max(1, CHECKER_PX // step)
        ys, xs = np.indices((th, tw))
        grey = np.where(((ys // size) + (xs // size)) % 2 == 0, 0.62, 0.38).astype(np.float32)
        rgba[..., 0] = rgba[..., 1] = rgba[..., 2] = grey
        rgba[..., 3] = 1.0 - small
    else:  # OVERLAY
        rgba[..., 0], rgba[..., 1], rgba[..., 2] = color[0], color[1], color[2]
        rgba[..., 3] = small * 0.45
    return rgba


def frame_pixels(state, obj, source_frame: int) -> tuple[tuple, np.ndarray | None]:
    """(cache key, RGBA or None) the overlay draws for `obj` on `source_frame` in the scene's
    preview mode: the click result, else the tracked matte (soft values kept). The key changes
    with the mask, the colour and the mode, so a new texture is made only when one of them does;
    None when the key is unchanged (the cached texture stands) or there is no mask (nothing is
    drawn in any mode: an untracked frame shows the picture)."""
    mode = state.preview_mode if state.preview_mode in MODES else "OVERLAY"
    key, found = current_mask(state, obj, source_frame)
    key = key + (tuple(obj.color), mode)
    if key == _texture_cache["key"] or found is None:
        return key, None
    mask = load_png_mask(found, soft=True) if isinstance(found, str) else found
    if mask is None:
        return key, None
    step = max(1, int(np.ceil(max(mask.shape) / MAX_TEXTURE)))
    return key, mode_pixels(mask, mode, obj.color, step)


def _texture(rgba: np.ndarray) -> object:
    import gpu

    th, tw = rgba.shape[:2]
    buf = gpu.types.Buffer("FLOAT", tw * th * 4, rgba.ravel().tolist())
    return gpu.types.GPUTexture((tw, th), format="RGBA16F", data=buf)


def region_view(region) -> mapping.View2D:
    """What part of the view (preview coordinates) a preview region shows, for the pixel mappings."""
    v = region.view2d
    x0, y0 = v.region_to_view(0, 0)
    x1, y1 = v.region_to_view(region.width, region.height)
    return mapping.View2D(x0, y0, x1, y1, region.width, region.height)


def _draw() -> None:
    try:
        _draw_inner()
    except Exception as exc:  # noqa: BLE001 - a draw error must never spam tracebacks per redraw
        print(f"Track Anything overlay: {exc}")


def _draw_inner() -> None:
    import gpu
    from gpu_extras.batch import batch_for_shader

    context = bpy.context
    scene = compat.sequencer_scene(context)
    state = getattr(scene, "vta", None)
    if state is None or not state.show_overlay or not state.strip_name or not state.width:
        return
    source = strips.find_strip(scene, state.strip_name)
    region = context.region
    if source is None or region is None or not (0 <= state.active_object < len(state.objects)):
        return
    timing = strips.strip_timing(source, state.frame_count)
    frame = mapping.timeline_to_source(scene.frame_current, timing)
    if frame is None or strips.clean_plate_on_top(scene, source.name, scene.frame_current):
        return
    obj = state.objects[state.active_object]
    view = region_view(region)
    xf = strips.strip_transform(source, state.width, state.height)

    key, rgba = frame_pixels(state, obj, frame)
    if key != _texture_cache["key"]:
        _texture_cache["key"] = key
        _texture_cache["texture"] = _texture(rgba) if rgba is not None else None
    texture = _texture_cache["texture"]
    gpu.state.blend_set("ALPHA")
    if texture is not None:
        w, h = state.width, state.height
        corners = [mapping.image_to_region(x, y, view, xf) for x, y in ((0, h), (w, h), (w, 0), (0, 0))]
        shader = compat.image_shader()
        batch = batch_for_shader(shader, "TRI_FAN", {"pos": corners,
                                                      "texCoord": ((0, 0), (1, 0), (1, 1), (0, 1))})
        shader.bind()
        shader.uniform_sampler("image", texture)
        batch.draw(shader)

    points = {True: [], False: []}
    for c in state.clicks:
        if c.object_uid == obj.uid and c.frame == frame:
            points[c.positive].append(mapping.image_to_region(c.x, c.y, view, xf))
    shader = compat.uniform_color_shader()
    colours = {True: (0.2, 1.0, 0.3, 1.0), False: (1.0, 0.2, 0.2, 1.0)}
    for size, outline in ((9.0, True), (6.0, False)):  # a dark ring first, then the coloured dot
        gpu.state.point_size_set(size)
        for positive, pts in points.items():
            if not pts:
                continue
            batch = batch_for_shader(shader, "POINTS", {"pos": pts})
            shader.bind()
            shader.uniform_float("color", (0.0, 0.0, 0.0, 1.0) if outline else colours[positive])
            batch.draw(shader)
    gpu.state.point_size_set(1.0)
    gpu.state.blend_set("NONE")


def register() -> None:
    global _handle
    if _handle is None:
        _handle = bpy.types.SpaceSequenceEditor.draw_handler_add(_draw, (), "PREVIEW", "POST_PIXEL")


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.types.SpaceSequenceEditor.draw_handler_remove(_handle, "PREVIEW")
        _handle = None
    forget_masks()
    _texture_cache["texture"] = None
