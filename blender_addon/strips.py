"""Result strips, timeline markers and the mask modifier: everything the add-on puts in the edit.

Every strip the add-on creates carries custom properties (`vta_role`, `vta_source`), so re-running
updates exactly the add-on's own strips, in place (the artist's edits on them stay), and never
touches the user's. Results are placed with
mapping.visible_source_map: each visible timeline frame of the source strip shows the result file of
the media frame Blender shows there, so mattes stay frame-aligned with moved, trimmed, reversed or
retimed sources.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import bpy

from . import compat, mapping

ROLE = "vta_role"
SOURCE = "vta_source"
MARKER_PREFIX = "VTA "


class ResultSequence(NamedTuple):
    """One result the engine made, as it reports it: `pattern` is a str.format pattern whose
    `{frame}` is the media frame (e.g. "{frame:05d}.png"), files in `folder`."""

    role: str  # "matte:<object uid>" or "clean"
    name: str
    folder: str
    pattern: str


# ---- reading strips into mapping records ---------------------------------------------------------
def strip_timing(strip, source_frames: int) -> mapping.StripTiming:
    return mapping.StripTiming(
        frame_start=float(strip.frame_start), final_start=int(strip.frame_final_start),
        final_end=int(strip.frame_final_end), content_duration=int(strip.frame_duration),
        source_frames=int(source_frames),
        anim_offset_start=int(getattr(strip, "animation_offset_start", 0)),
        anim_offset_end=int(getattr(strip, "animation_offset_end", 0)),
        reverse=bool(getattr(strip, "use_reverse_frames", False)),
        strobe=float(getattr(strip, "strobe", 1.0) or 1.0))


def strip_transform(strip, width: int, height: int) -> mapping.StripTransform:
    t, c = strip.transform, strip.crop
    origin = tuple(getattr(t, "origin", (0.5, 0.5)))
    return mapping.StripTransform(
        width=int(width), height=int(height), offset_x=float(t.offset_x), offset_y=float(t.offset_y),
        scale_x=float(t.scale_x), scale_y=float(t.scale_y), rotation=float(getattr(t, "rotation", 0.0)),
        origin_x=float(origin[0]), origin_y=float(origin[1]),
        crop_left=float(c.min_x), crop_right=float(c.max_x), crop_bottom=float(c.min_y), crop_top=float(c.max_y),
        flip_x=bool(strip.use_flip_x), flip_y=bool(strip.use_flip_y))


def media_path(strip) -> str | None:
    """Absolute path of the media a movie strip plays, or the folder of an image-sequence strip."""
    if strip.type == "MOVIE":
        return os.path.normpath(bpy.path.abspath(strip.filepath))
    if strip.type == "IMAGE":
        folder = os.path.normpath(bpy.path.abspath(strip.directory))
        if len(strip.elements) == 1:
            return os.path.join(folder, strip.elements[0].filename)
        return folder
    return None


def find_strip(scene, name: str):
    for strip in compat.all_strips(scene):
        if strip.name == name:
            return strip
    return None


# ---- our strips ----------------------------------------------------------------------------------
def own_strips(scene, source_name: str | None = None, role: str | None = None) -> list:
    found = []
    for strip in compat.all_strips(scene):
        r = strip.get(ROLE)
        if r is None:
            continue
        if source_name is not None and strip.get(SOURCE) != source_name:
            continue
        if role is not None and r != role:
            continue
        found.append(strip)
    return found


def remove_own_strips(scene, source_name: str, role: str | None = None) -> int:
    coll = compat.strip_collection(scene)
    n = 0
    for strip in own_strips(scene, source_name, role):
        # unhook any mask modifier that points at the strip before deleting it
        for other in compat.all_strips(scene):
            for mod in list(other.modifiers):
                if getattr(mod, "input_mask_strip", None) == strip:
                    other.modifiers.remove(mod)
        coll.remove(strip)
        n += 1
    return n


def _overlaps(strip, start: int, end: int) -> bool:
    return strip.frame_final_start < end and start < strip.frame_final_end


def free_channel(scene, above: int, start: int, end: int, skip=()) -> int:
    """The lowest channel above `above` with nothing in [start, end)."""
    strips = [s for s in compat.all_strips(scene) if s not in skip]
    channel = above + 1
    while channel < 128:
        if not any(s.channel == channel and _overlaps(s, start, end) for s in strips):
            return channel
        channel += 1
    raise RuntimeError("no free channel above the source strip")


def frame_files(source_strip, source_frames: int, folder: str, pattern: str, numbers=None) -> list[tuple[int, str]]:
    """(timeline frame, file name) for the source strip's visible frames whose result exists, as one
    contiguous run from the first to the last such frame (a gap holds the previous frame's file).
    `pattern` is the engine's file pattern (`{frame}` the clip position, `{number}` the source
    frame's number from `numbers`: mapping.result_file_name)."""
    pairs = mapping.visible_source_map(strip_timing(source_strip, source_frames))
    names = [(t, mapping.result_file_name(pattern, s, numbers)) for t, s in pairs]
    present = [(t, name) for t, name in names if os.path.isfile(os.path.join(folder, name))]
    if not present:
        return []
    by_frame = dict(present)
    first, last = present[0][0], present[-1][0]
    run, held = [], present[0][1]
    for t in range(first, last + 1):
        held = by_frame.get(t, held)
        run.append((t, held))
    return run


def strip_folder(folder: str) -> str:
    """How a result strip refers to its folder: relative to the saved .blend (`//vta_results/…`),
    so the project can be moved, archived and rendered elsewhere; absolute while unsaved."""
    return bpy.path.relpath(folder.rstrip("/\\")) + "/" if bpy.data.filepath else folder.rstrip("/\\") + os.sep


def set_colorspace(strip, name: str | None) -> None:
    """Mattes are data (matte_colorspace: their values shown unchanged); a clean plate is a picture
    in its source's colour space. A name the colour config lacks leaves Blender's choice."""
    if not name:
        return
    try:
        strip.colorspace_settings.name = name
    except TypeError:
        pass


def image_is_float(path: str) -> bool:
    """Whether Blender decodes the file into a float buffer: EXR, and PNG at 16 bits a channel (the
    depth byte of its header; 8-bit PNGs stay bytes)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".exr":
        return True
    if ext != ".png":
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(25)
    except OSError:
        return False
    return len(head) == 25 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16


def matte_colorspace(scene, path: str) -> str:
    """The colour space that shows a matte file's values unchanged in the sequencer. An 8-bit matte
    is Non-Color. A float one (16-bit PNG, EXR) takes the sequencer's own colour space: Blender 5.0
    takes a Non-Color float buffer for scene-linear and converts it into an sRGB sequencer, so a
    0.5 edge became 0.73 in a Mask modifier (tests/blender/test_matte.py measures it); tagged with
    the sequencer's space, the file's values are the sequencer's, with no conversion either way."""
    if not image_is_float(path):
        return "Non-Color"
    settings = getattr(scene, "sequencer_colorspace_settings", None)
    return settings.name if settings is not None and settings.name else "Non-Color"


def source_colorspace(strip) -> str | None:
    settings = getattr(strip, "colorspace_settings", None)
    return settings.name if settings is not None else None


def add_result_strip(scene, source_strip, source_frames: int, folder: str, pattern: str, name: str, role: str,
                     colorspace: str | None, channel: int | None = None, color_tag: str | None = None,
                     numbers=None):
    """An image-sequence strip showing `folder`'s per-frame results aligned with `source_strip`, in
    colour space `colorspace`. Returns None when there are no results in the visible range."""
    files = frame_files(source_strip, source_frames, folder, pattern, numbers)
    if not files:
        return None
    start, end = files[0][0], files[-1][0] + 1
    coll = compat.strip_collection(scene, create=True)
    if channel is None:
        channel = free_channel(scene, source_strip.channel, start, end)
    strip = coll.new_image(name=name, filepath=os.path.join(folder, files[0][1]), channel=channel, frame_start=start)
    for _, filename in files[1:]:
        strip.elements.append(filename)
    strip.directory = strip_folder(folder)
    strip[ROLE] = role
    strip[SOURCE] = source_strip.name
    set_colorspace(strip, colorspace)
    # results follow the source's transform so they overlay it exactly in the preview
    _copy_transform(source_strip, strip)
    if color_tag and hasattr(strip, "color_tag"):
        strip.color_tag = color_tag
    return strip


def _matte_colorspace_of(scene, strip) -> str:
    folder = bpy.path.abspath(strip.directory)
    return matte_colorspace(scene, os.path.join(folder, strip.elements[0].filename))


def _copy_transform(src, dst) -> None:
    for attr in ("offset_x", "offset_y", "scale_x", "scale_y", "rotation"):
        if hasattr(src.transform, attr):
            setattr(dst.transform, attr, getattr(src.transform, attr))
    if hasattr(src.transform, "origin"):
        dst.transform.origin = src.transform.origin
    for attr in ("min_x", "max_x", "min_y", "max_y"):
        setattr(dst.crop, attr, getattr(src.crop, attr))
    dst.use_flip_x, dst.use_flip_y = src.use_flip_x, src.use_flip_y


def update_result_strip(strip, source_strip, source_frames: int, folder: str, pattern: str, numbers=None) -> bool:
    """Point an existing result strip at the current result files, in place: the same strip keeps
    what the artist gave it (modifiers, a Mask modifier on another strip that uses it, mute, lock,
    blend mode, opacity, channel, name, colour tag). Only its files, its frame range (to stay
    aligned with the source) and its transform (to overlay the source) are set. Returns False when
    there are no results in the visible range (the strip is left as it was)."""
    files = frame_files(source_strip, source_frames, folder, pattern, numbers)
    if not files:
        return False
    strip.directory = strip_folder(folder)
    while len(strip.elements) > 1:
        strip.elements.pop(len(strip.elements) - 1)
    strip.elements[0].filename = files[0][1]
    for _, filename in files[1:]:
        strip.elements.append(filename)
    strip.frame_offset_start = strip.frame_offset_end = 0
    strip.frame_start = files[0][0]
    _copy_transform(source_strip, strip)
    if hasattr(strip, "invalidate_cache"):  # same file names, new pixels: drop Blender's cached frames
        strip.invalidate_cache("RAW")
    return True


def place_results(scene, source_strip, source_frames: int, results: list[ResultSequence],
                  gone: set[str] = frozenset(), numbers=None) -> list:
    """Put each result sequence on the timeline: the add-on's strip of that role for
    `source_strip` is updated in place, a missing one is made — except for roles in `gone` (strips
    the artist deleted, not to be recreated unless asked). Mattes go on the lowest free channels
    above the source, the clean plate above them; mattes show their files' values
    (matte_colorspace), the clean plate takes the source strip's colour space. Returns the strips
    placed or updated."""
    placed, mattes_made = [], 0
    for seq in results:
        existing = own_strips(scene, source_strip.name, seq.role)
        matte = seq.role != "clean"
        if existing:
            if update_result_strip(existing[0], source_strip, source_frames, seq.folder, seq.pattern, numbers):
                placed.append(existing[0])
                if matte:  # a re-track may have changed the format (Soft Edges on or off)
                    set_colorspace(existing[0], _matte_colorspace_of(scene, existing[0]))
            continue
        if seq.role in gone or not os.path.isdir(seq.folder):
            continue
        strip = add_result_strip(scene, source_strip, source_frames, seq.folder, seq.pattern, seq.name, seq.role,
                                 colorspace=None if matte else source_colorspace(source_strip),
                                 color_tag=f"COLOR_{(mattes_made % 9) + 1:02d}" if matte else None, numbers=numbers)
        mattes_made += matte
        if strip is not None and matte:
            set_colorspace(strip, _matte_colorspace_of(scene, strip))
        if strip is not None:
            # a new matte strip starts muted: the preview keeps showing the picture, with the matte
            # drawn over it by the overlay; unmute it, or use it as a mask, to see it as a strip
            strip.mute = matte
            placed.append(strip)
    return placed


def clean_plate_on_top(scene, source_name: str, frame: int) -> bool:
    """Whether the topmost unmuted strip on `frame` is the add-on's clean plate of `source_name`
    (then the object is gone from the picture, and the overlay must not draw it back)."""
    shown = [s for s in compat.all_strips(scene) if not s.mute and s.frame_final_start <= frame < s.frame_final_end]
    if not shown:
        return False
    top = max(shown, key=lambda s: s.channel)
    return top.get(ROLE) == "clean" and top.get(SOURCE) == source_name


STALE = "vta_stale"
STALE_SUFFIX = " (stale)"
STALE_TAG = "COLOR_01"


def mark_stale(strip, stale: bool) -> None:
    """Tag a clean plate made from older mattes (name suffix and a red colour tag), or take the tag
    off again; the artist's own name and colour tag come back unchanged."""
    if stale == bool(strip.get(STALE)):
        return
    if stale:
        strip[STALE] = getattr(strip, "color_tag", "NONE")
        strip.name = strip.name + STALE_SUFFIX
        if hasattr(strip, "color_tag"):
            strip.color_tag = STALE_TAG
    else:
        if hasattr(strip, "color_tag"):
            strip.color_tag = strip[STALE]
        del strip[STALE]
        if strip.name.endswith(STALE_SUFFIX):
            strip.name = strip.name[:-len(STALE_SUFFIX)]


def use_as_mask(context, scene, source_strip, matte_strip):
    """Add (or update) a Mask modifier on the source strip fed by the matte strip."""
    compat.ensure_sequencer_scene(context, scene)
    mod = None
    for m in source_strip.modifiers:
        if m.type == "MASK" and m.name.startswith("VTA"):
            mod = m
            break
    if mod is None:
        mod = source_strip.modifiers.new(name=f"VTA {matte_strip.name}", type="MASK")
    mod.input_mask_type = "STRIP"
    mod.input_mask_strip = matte_strip
    matte_strip.mute = True  # it now feeds the modifier; showing it on top would hide the result
    return mod


GRADE_TYPES = (("COLOR_BALANCE", "Color Balance", ""), ("CURVES", "Curves", ""), ("HUE_CORRECT", "Hue Correct", ""),
               ("BRIGHT_CONTRAST", "Brightness/Contrast", ""), ("WHITE_BALANCE", "White Balance", ""))


def inverse_matte_strip(scene, source_strip, matte_strip, role: str):
    """The add-on's muted strip showing the inverse of a matte (the matte's files through a Curves
    modifier that maps 1 → 0), made on first use: VSE modifiers take a mask strip but have no
    "invert mask" option, and a mask strip's own modifiers apply to the mask. Updated in place with
    the matte on every re-track (its role names the object)."""
    found = own_strips(scene, source_strip.name, role)
    if found:
        return found[0]
    coll = compat.strip_collection(scene, create=True)
    start, end = matte_strip.frame_final_start, matte_strip.frame_final_end
    strip = coll.new_image(name=f"{matte_strip.name} inverse", channel=free_channel(scene, matte_strip.channel, start, end),
                           filepath=os.path.join(bpy.path.abspath(matte_strip.directory), matte_strip.elements[0].filename),
                           frame_start=int(matte_strip.frame_start))
    for element in list(matte_strip.elements)[1:]:
        strip.elements.append(element.filename)
    strip.frame_offset_start, strip.frame_offset_end = matte_strip.frame_offset_start, matte_strip.frame_offset_end
    strip.directory = matte_strip.directory  # relative to the .blend, as the matte's
    strip[ROLE], strip[SOURCE] = role, source_strip.name
    set_colorspace(strip, matte_strip.colorspace_settings.name)  # the same files: the same colour space
    _copy_transform(source_strip, strip)
    strip.mute = True
    curves = strip.modifiers.new(name="VTA invert", type="CURVES")
    points = curves.curve_mapping.curves[3].points  # the combined curve
    points[0].location, points[1].location = (0.0, 1.0), (1.0, 0.0)
    curves.curve_mapping.update()
    return strip


def grade_with_mask(context, scene, source_strip, mask_strip, modifier_type: str, name: str):
    """A colour modifier on the source strip limited to where `mask_strip` is white."""
    compat.ensure_sequencer_scene(context, scene)
    mod = source_strip.modifiers.new(name=name, type=modifier_type)
    mod.input_mask_type = "STRIP"
    mod.input_mask_strip = mask_strip
    return mod


# ---- timeline markers for weak frames ------------------------------------------------------------
def low_confidence_runs(frames: list[int]) -> list[tuple[int, int]]:
    """Consecutive frames grouped into (first, last) runs, so a bad stretch is one marker."""
    runs: list[tuple[int, int]] = []
    for f in sorted(set(frames)):
        if runs and f == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], f)
        else:
            runs.append((f, f))
    return runs


def clear_markers(scene) -> None:
    for m in list(scene.timeline_markers):
        if m.name.startswith(MARKER_PREFIX):
            scene.timeline_markers.remove(m)


def mark_weak_frames(scene, source_strip, source_frames: int, per_object: dict[str, tuple[dict, list]]) -> int:
    """One marker at the start of each run of weak source frames (per object: its confidence by
    frame and its weak frames, mapping.weak_frames with the engine's threshold), named with the
    object and the lowest confidence, placed at the timeline frame that shows it."""
    clear_markers(scene)
    timing = strip_timing(source_strip, source_frames)
    n = 0
    for name, (conf, weak) in per_object.items():
        for first, last in low_confidence_runs(weak):
            frame = None
            for f in range(first, last + 1):  # first frame of the run that is visible
                frame = mapping.source_to_timeline(f, timing)
                if frame is not None:
                    break
            if frame is None:
                continue
            worst = min(conf[f] for f in range(first, last + 1) if f in conf)
            length = last - first + 1
            scene.timeline_markers.new(f"{MARKER_PREFIX}{name} {worst:.2f}" + (f" x{length}" if length > 1 else ""),
                                       frame=frame)
            n += 1
    return n
