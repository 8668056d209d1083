"""Pure coordinate mappings between Blender's sequencer and the engine's source media.

No bpy here: the add-on reads strip and view properties into the small records below and these
functions do the arithmetic, so every fiddly case (moved, trimmed, retimed, reversed, transformed,
cropped, flipped strips; zoomed and panned previews) is unit-tested without Blender.

Conventions
- Source frame: 0-based index into the media file (what the engine calls a frame).
- Timeline frame: the scene frame number.
- Image pixel: engine convention, x right and y *down* from the top-left corner, continuous
  coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)); a click at a pixel's centre is (i+0.5, j+0.5).
- View coordinates: the sequencer preview's view2d space. Measured in Blender 3.4 and 5.0: units are
  full render-resolution pixels (the resolution percentage and proxy size do not change them), the
  origin is the canvas centre, y points up.

How Blender draws a movie or image strip (measured by rendering in Blender 5.0.1, see
tests/test_addon_mapping.py): the media's own pixels (not the canvas) are placed centred on the
canvas, scaled and rotated about the strip's origin, then offset; crop only hides borders (it never
moves the picture); flip X/Y mirrors the *transformed* picture about the canvas centre. The proxy size
does not matter: proxies are drawn stretched over the same quad, and the engine decodes full
resolution, so the media size (not the proxy's) is what a click maps to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EPS = 1e-6


# ---- time ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StripTiming:
    """The time-related facts of a strip, copied from its RNA properties.

    frame_start:        strip.frame_start (timeline frame where media frame `anim_offset_start` sits)
    final_start/end:    strip.frame_final_start / frame_final_end (visible range, end exclusive)
    content_duration:   strip.frame_duration (timeline frames the untrimmed content spans)
    source_frames:      frames in the media file (engine's video info frame_count)
    anim_offset_start:  strip.animation_offset_start (media frames cut off before frame_start)
    anim_offset_end:    strip.animation_offset_end
    reverse:            strip.use_reverse_frames
    strobe:             strip.strobe (1 = off)
    """

    frame_start: float
    final_start: int
    final_end: int
    content_duration: int
    source_frames: int
    anim_offset_start: int = 0
    anim_offset_end: int = 0
    reverse: bool = False
    strobe: float = 1.0

    @property
    def content_frames(self) -> int:
        """Media frames the strip's content covers (media length minus the animation offsets)."""
        return max(0, self.source_frames - self.anim_offset_start - self.anim_offset_end)

    @property
    def playback_rate(self) -> float:
        """Media frames advanced per timeline frame. 1.0 unless Blender retimed a movie whose fps
        differs from the scene's ("adjust playback rate"): then the content spans
        frames * scene_fps / movie_fps timeline frames, and this ratio recovers movie_fps / scene_fps
        without needing to know which Blender version or option did it."""
        if self.content_duration <= 0 or self.content_frames <= 0:
            return 1.0
        rate = self.content_frames / self.content_duration
        return 1.0 if abs(rate - 1.0) < 1e-3 else rate


def timeline_to_source(frame: int, t: StripTiming) -> int | None:
    """The media frame Blender shows at timeline `frame`, or None where the strip is not visible.

    Follows Blender's frame-index rule: offset from the content start (or from its end when reversed),
    times the playback rate, strobe held, truncated, clamped to the content (frames past the content in
    a visible range hold the first / last image)."""
    if not t.final_start <= frame < t.final_end or t.content_frames <= 0:
        return None
    if t.reverse:
        index = (t.frame_start + t.content_duration - 1) - frame
    else:
        index = frame - t.frame_start
    index = max(index, 0.0) * t.playback_rate
    if t.strobe > 1.0:
        index -= math.fmod(index, t.strobe)
    index = int(math.floor(index + EPS))
    index = min(max(index, 0), t.content_frames - 1)
    return t.anim_offset_start + index


def source_to_timeline(source: int, t: StripTiming) -> int | None:
    """The first visible timeline frame that shows media frame `source`, or None when no visible
    frame does (trimmed away, or skipped by a faster playback rate)."""
    if t.content_frames <= 0 or not t.anim_offset_start <= source < t.anim_offset_start + t.content_frames:
        return None
    index = source - t.anim_offset_start
    rate = t.playback_rate
    guess = index / rate  # first timeline offset whose index reaches `index`
    offset = math.ceil(guess - EPS)
    base = (t.frame_start + t.content_duration - 1 - offset) if t.reverse else (t.frame_start + offset)
    candidates = [int(round(base)) + d for d in (0, -1, 1, -2, 2)]
    hits = [f for f in candidates if timeline_to_source(f, t) == source]
    if hits:
        return min(hits)
    return None


def visible_source_map(t: StripTiming) -> list[tuple[int, int]]:
    """(timeline frame, source frame) for every visible frame of the strip, in timeline order: what
    a result strip has to show to stay frame-aligned with its source."""
    pairs = []
    for frame in range(int(t.final_start), int(t.final_end)):
        src = timeline_to_source(frame, t)
        if src is not None:
            pairs.append((frame, src))
    return pairs


def is_one_to_one(t: StripTiming) -> bool:
    """True when each visible timeline frame shows the next media frame (no retime, reverse or
    strobe): then a result strip can simply copy the source strip's start and trims."""
    return t.playback_rate == 1.0 and not t.reverse and t.strobe <= 1.0


# ---- result files and weak frames ----------------------------------------------------------------
def result_file_name(pattern: str, position: int, numbers=None) -> str:
    """The file name of clip position `position` in a result sequence. The engine's pattern is a
    str.format pattern: `{frame}` is the clip position (0-based), `{number}` the source frame's own
    number (an image sequence numbered from 1001 keeps its numbers). Old engines send no numbers:
    the number is then the position."""
    number = numbers[position] if numbers and 0 <= position < len(numbers) else position
    return pattern.format(frame=position, number=number)


def encode_runs(values) -> str:
    """Integers as compact runs ("1001~1005,1007,1009~1020"): a clip's frame numbers, or a set of
    frames, kept in a .blend string property without one entry per frame. Order is kept (numbers
    are in clip order), so the list decodes back exactly."""
    runs: list[list[int]] = []
    for v in values:
        v = int(v)
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ",".join(str(a) if a == b else f"{a}~{b}" for a, b in runs)


def decode_runs(text: str) -> list[int]:
    """The integers of `encode_runs` (an empty string: none)."""
    out: list[int] = []
    for part in text.split(",") if text else ():
        a, sep, b = part.partition("~")
        out.extend(range(int(a), int(b) + 1) if sep else (int(a),))
    return out


def weak_frames(confidence: dict, threshold: float, keyframes=()) -> list[int]:
    """Source frames whose tracked matte is weak: confidence below the engine's threshold. A
    keyframe is what the artist made, never weak (the engine's rule, engine/quality.py)."""
    keys = set(keyframes)
    return sorted(int(f) for f, c in confidence.items() if float(c) < threshold and int(f) not in keys)


def next_weak_timeline(pairs, weak, current: int, forward: bool = True) -> int | None:
    """The nearest timeline frame after (or before) `current` that shows a weak source frame, from
    `visible_source_map` pairs; None when there is none that way."""
    weak = set(weak)
    hits = [t for t, s in pairs if s in weak and (t > current if forward else t < current)]
    if not hits:
        return None
    return min(hits) if forward else max(hits)


# ---- space ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StripTransform:
    """The spatial facts of a strip, copied from its RNA properties.

    width, height:   media size in pixels (full resolution, not the proxy's)
    offset_x/y, scale_x/y, rotation (radians), origin_x/y (0..1 from the bottom-left):  strip.transform
    crop_left/right/bottom/top: strip.crop.min_x / max_x / min_y / max_y, in media pixels
    flip_x/flip_y:   strip.use_flip_x / use_flip_y
    """

    width: int
    height: int
    offset_x: float = 0.0
    offset_y: float = 0.0
    scale_x: float = 1.0
    scale_y: float = 1.0
    rotation: float = 0.0
    origin_x: float = 0.5
    origin_y: float = 0.5
    crop_left: float = 0.0
    crop_right: float = 0.0
    crop_bottom: float = 0.0
    crop_top: float = 0.0
    flip_x: bool = False
    flip_y: bool = False


def image_to_view(x: float, y: float, s: StripTransform) -> tuple[float, float]:
    """Media pixel (y down) → preview view coordinates (canvas centred, y up)."""
    lx, ly = x - s.width / 2.0, s.height / 2.0 - y
    px, py = s.origin_x * s.width - s.width / 2.0, s.origin_y * s.height - s.height / 2.0
    dx, dy = (lx - px) * s.scale_x, (ly - py) * s.scale_y
    c, n = math.cos(s.rotation), math.sin(s.rotation)
    vx = dx * c - dy * n + px + s.offset_x
    vy = dx * n + dy * c + py + s.offset_y
    if s.flip_x:
        vx = -vx
    if s.flip_y:
        vy = -vy
    return vx, vy


def view_to_image(vx: float, vy: float, s: StripTransform) -> tuple[float, float] | None:
    """Preview view coordinates → media pixel (y down), or None where the strip's scale is zero."""
    if abs(s.scale_x) < EPS or abs(s.scale_y) < EPS:
        return None
    if s.flip_x:
        vx = -vx
    if s.flip_y:
        vy = -vy
    px, py = s.origin_x * s.width - s.width / 2.0, s.origin_y * s.height - s.height / 2.0
    rx, ry = vx - s.offset_x - px, vy - s.offset_y - py
    c, n = math.cos(s.rotation), math.sin(s.rotation)
    dx, dy = rx * c + ry * n, -rx * n + ry * c
    lx, ly = dx / s.scale_x + px, dy / s.scale_y + py
    return lx + s.width / 2.0, s.height / 2.0 - ly


def inside_visible_image(x: float, y: float, s: StripTransform) -> bool:
    """True when media pixel (x, y) is inside the picture and not cropped away (crop counts in media
    pixels: left/right from the sides, bottom/top with y up)."""
    return (s.crop_left <= x < s.width - s.crop_right and s.crop_top <= y < s.height - s.crop_bottom)


@dataclass(frozen=True)
class View2D:
    """A preview region's view: the view rectangle its pixels span (region_to_view of its corners)
    and its size in pixels."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    width: int
    height: int


def region_to_view(rx: float, ry: float, v: View2D) -> tuple[float, float]:
    """Region pixel (from the region's bottom-left, as Blender's mouse_region_x/y) → view coords."""
    return (v.xmin + rx * (v.xmax - v.xmin) / max(v.width, 1),
            v.ymin + ry * (v.ymax - v.ymin) / max(v.height, 1))


def view_to_region(vx: float, vy: float, v: View2D) -> tuple[float, float]:
    sx = (v.xmax - v.xmin) or 1.0
    sy = (v.ymax - v.ymin) or 1.0
    return (vx - v.xmin) * v.width / sx, (vy - v.ymin) * v.height / sy


def region_to_image(rx: float, ry: float, v: View2D, s: StripTransform) -> tuple[float, float] | None:
    """A click in the preview region → media pixel, or None when it misses the visible picture
    (outside the image, in a cropped border, or the strip is scaled to nothing)."""
    point = view_to_image(*region_to_view(rx, ry, v), s)
    if point is None or not inside_visible_image(point[0], point[1], s):
        return None
    return point


def image_to_region(x: float, y: float, v: View2D, s: StripTransform) -> tuple[float, float]:
    """Media pixel → preview region pixel (for drawing clicks and mask outlines)."""
    return view_to_region(*image_to_view(x, y, s), v)
