"""Unit tests of the add-on's pure mappings (blender_addon/mapping.py), run in the main venv without bpy.

The expected values marked "measured" come from rendering strips in Blender 5.0.1 (bpy) and locating
the source frame / a marked pixel in the render, so these tests pin Blender's real behaviour."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

# import the module by path: the add-on package's __init__ imports bpy
_spec = importlib.util.spec_from_file_location(
    "vta_mapping", Path(__file__).resolve().parents[1] / "blender_addon" / "mapping.py")
mapping = importlib.util.module_from_spec(_spec)
sys.modules["vta_mapping"] = mapping  # dataclasses look their module up
_spec.loader.exec_module(mapping)

StripTiming, StripTransform, View2D = mapping.StripTiming, mapping.StripTransform, mapping.View2D


def timing(**kw):
    base = dict(frame_start=1, final_start=1, final_end=25, content_duration=24, source_frames=24)
    base.update(kw)
    return StripTiming(**base)


# ---- time ----------------------------------------------------------------------------------------
def test_untouched_strip_maps_one_to_one():
    t = timing()
    assert [mapping.timeline_to_source(f, t) for f in (1, 2, 24)] == [0, 1, 23]
    assert mapping.timeline_to_source(0, t) is None and mapping.timeline_to_source(25, t) is None
    assert mapping.is_one_to_one(t)


def test_moved_strip():
    t = timing(frame_start=101, final_start=101, final_end=125)
    assert mapping.timeline_to_source(101, t) == 0
    assert mapping.timeline_to_source(124, t) == 23
    assert mapping.source_to_timeline(7, t) == 108


def test_trimmed_and_animation_offsets_measured():
    # measured: movie of 24 frames at frame_start 10, animation_offset 2/1, frame_offset 3/2
    t = timing(frame_start=10, final_start=13, final_end=29, content_duration=21,
               anim_offset_start=2, anim_offset_end=1)
    assert [mapping.timeline_to_source(f, t) for f in (13, 18, 28)] == [5, 10, 20]
    assert mapping.timeline_to_source(12, t) is None  # trimmed away
    assert mapping.source_to_timeline(5, t) == 13
    assert mapping.source_to_timeline(3, t) is None  # before the visible range... (index 1 → frame 11)
    assert mapping.source_to_timeline(0, t) is None  # cut by the animation offset


def test_reversed_measured():
    t = timing(frame_start=10, final_start=13, final_end=29, content_duration=21,
               anim_offset_start=2, anim_offset_end=1, reverse=True)
    assert [mapping.timeline_to_source(f, t) for f in (13, 18, 28)] == [19, 14, 4]
    assert mapping.source_to_timeline(14, t) == 18
    assert not mapping.is_one_to_one(t)


def test_visible_source_map_covers_visible_frames_in_order():
    t = timing(frame_start=10, final_start=13, final_end=29, content_duration=21, anim_offset_start=2,
               anim_offset_end=1)
    pairs = mapping.visible_source_map(t)
    assert pairs[0] == (13, 5) and pairs[-1] == (28, 20) and len(pairs) == 16


def test_fps_mismatch_retimed_movie():
    # a 24 fps, 48-frame movie in a 30 fps scene with "adjust playback rate": 60 timeline frames
    t = timing(frame_start=1, final_start=1, final_end=61, content_duration=60, source_frames=48)
    assert t.playback_rate == pytest.approx(0.8)
    srcs = [mapping.timeline_to_source(f, t) for f in range(1, 61)]
    assert srcs[0] == 0 and srcs[-1] == 47
    assert all(b - a in (0, 1) for a, b in zip(srcs, srcs[1:]))  # no skipped media frame
    assert sorted(set(srcs)) == list(range(48))
    for s in range(48):
        f = mapping.source_to_timeline(s, t)
        assert mapping.timeline_to_source(f, t) == s
        assert f == 1 or mapping.timeline_to_source(f - 1, t) == s - 1  # first frame showing it
    assert not mapping.is_one_to_one(t)


def test_fps_mismatch_faster_skips_frames():
    # 60 fps, 60-frame movie in a 24 fps scene: every timeline frame advances 2.5 media frames
    t = timing(frame_start=1, final_start=1, final_end=25, content_duration=24, source_frames=60)
    srcs = [mapping.timeline_to_source(f, t) for f in range(1, 25)]
    assert srcs[:4] == [0, 2, 5, 7]
    assert mapping.source_to_timeline(1, t) is None  # never shown
    assert mapping.source_to_timeline(5, t) == 3


def test_not_retimed_when_fps_differs_but_blender_did_not_retime():
    # Blender 5.0's data API (strips.new_movie) keeps 1:1 frames even when the fps differs (measured)
    t = timing(content_duration=24, source_frames=24)
    assert t.playback_rate == 1.0


def test_strobe_and_hold_frames():
    t = timing(strobe=3.0)
    assert [mapping.timeline_to_source(f, t) for f in range(1, 8)] == [0, 0, 0, 3, 3, 3, 6]
    # a visible range extending past the content holds the last frame
    hold = timing(final_end=30)
    assert mapping.timeline_to_source(29, hold) == 23


def test_empty_content():
    t = timing(source_frames=2, anim_offset_start=1, anim_offset_end=1)
    assert mapping.timeline_to_source(1, t) is None and mapping.visible_source_map(t) == []


# ---- space ---------------------------------------------------------------------------------------
DOTS = [(30.5, 20.5), (150.5, 70.5)]  # dot centres of a 200x100 test image


@pytest.mark.parametrize("name, kw, expected", [
    # measured by rendering a 200x100 image with two dots in a 320x180 canvas (Blender 5.0.1)
    ("plain", {}, [(-69.5, 29.5), (50.5, -20.5)]),
    ("flipx_offset", dict(flip_x=True, offset_x=40), [(29.5, 29.5), (-90.5, -20.5)]),
    ("scale_rotate_offset", dict(offset_x=30, offset_y=-10, scale_x=0.5, scale_y=0.75, rotation=0.3),
     [(-9.6, 0.9), (58.7, -17.4)]),
    ("origin_corner", dict(scale_x=0.5, scale_y=0.5, origin_x=0.0, origin_y=0.0),
     [(-84.7, -10.3), (-24.7, -35.3)]),
    ("flip_both_transformed", dict(flip_x=True, flip_y=True, offset_x=30, scale_x=0.5, rotation=0.3),
     [(11.9, -18.0), (-60.2, 12.0)]),
])
def test_image_to_view_matches_blender_render(name, kw, expected):
    s = StripTransform(200, 100, **kw)
    for (x, y), (ex, ey) in zip(DOTS, expected):
        vx, vy = mapping.image_to_view(x, y, s)
        assert vx == pytest.approx(ex, abs=0.6) and vy == pytest.approx(ey, abs=0.6), name


@pytest.mark.parametrize("kw", [
    {}, dict(offset_x=12.5, offset_y=-3), dict(scale_x=2, scale_y=0.5), dict(rotation=1.1),
    dict(flip_x=True), dict(flip_y=True, rotation=-0.4, origin_x=0.2, origin_y=0.9, scale_x=-1.5),
])
def test_view_to_image_inverts_image_to_view(kw):
    s = StripTransform(640, 360, **kw)
    for x, y in [(0, 0), (639.5, 359.5), (320, 180), (17.25, 301.75)]:
        back = mapping.view_to_image(*mapping.image_to_view(x, y, s), s)
        assert back[0] == pytest.approx(x, abs=1e-6) and back[1] == pytest.approx(y, abs=1e-6)


def test_zero_scale_gives_no_point():
    assert mapping.view_to_image(0, 0, StripTransform(10, 10, scale_x=0)) is None


def test_crop_hides_borders_without_moving_the_picture():
    s = StripTransform(200, 100, crop_left=20, crop_right=10, crop_top=5, crop_bottom=15)
    # crop does not move the picture: same view position as uncropped
    assert mapping.image_to_view(30.5, 20.5, s) == mapping.image_to_view(30.5, 20.5, StripTransform(200, 100))
    assert mapping.inside_visible_image(20.0, 5.0, s)
    assert not mapping.inside_visible_image(19.9, 50, s)  # in the left crop
    assert not mapping.inside_visible_image(195, 50, s)   # in the right crop
    assert not mapping.inside_visible_image(50, 4.9, s)   # in the top crop
    assert not mapping.inside_visible_image(50, 85.1, s)  # in the bottom crop


def test_region_to_image_with_zoom_and_pan():
    # a 1000x500 region showing view x -250..250, y -125..125 (zoom 2 on a 320x180 canvas... panned)
    v = View2D(-250, -125, 250, 125, 1000, 500)
    s = StripTransform(320, 180)
    # region centre → view (0,0) → image centre
    assert mapping.region_to_image(500, 250, v, s) == pytest.approx((160, 90))
    # 2 region px per view unit: 20 px right, 10 px up → image (+10, -5)
    assert mapping.region_to_image(520, 260, v, s) == pytest.approx((170, 85))
    panned = View2D(-200, -125, 300, 125, 1000, 500)
    assert mapping.region_to_image(400, 250, panned, s) == pytest.approx((160, 90))
    # round trip
    rx, ry = mapping.image_to_region(33.3, 44.4, panned, s)
    assert mapping.region_to_image(rx, ry, panned, s) == pytest.approx((33.3, 44.4))


def test_out_of_image_clicks_are_rejected():
    v = View2D(-250, -125, 250, 125, 1000, 500)
    s = StripTransform(320, 180)
    assert mapping.region_to_image(0, 0, v, s) is None          # canvas corner, outside the picture
    assert mapping.region_to_image(500 - 321, 250, v, s) is None  # just left of the left edge
    assert mapping.region_to_image(500 - 319, 250, v, s) is not None
    cropped = StripTransform(320, 180, crop_left=40)
    assert mapping.region_to_image(500 - 300, 250, v, cropped) is None


def test_rotated_click_lands_on_rotated_pixel():
    s = StripTransform(100, 100, rotation=math.pi / 2)
    # the top-centre pixel rotates 90° counter-clockwise to the left-centre of the canvas
    vx, vy = mapping.image_to_view(50, 0, s)
    assert (vx, vy) == pytest.approx((-50, 0), abs=1e-9)
    assert mapping.view_to_image(-50, 0, s) == pytest.approx((50, 0), abs=1e-9)


# ---- the local engine's command line (blender_addon/local_engine.py, no bpy) ---------------------
def _addon_module(name: str):
    """An add-on module that needs no bpy, imported inside a stand-in package (the real package's
    __init__ imports bpy)."""
    import importlib
    import types

    if "vta_pkg" not in sys.modules:
        pkg = types.ModuleType("vta_pkg")
        pkg.__path__ = [str(Path(__file__).resolve().parents[1] / "blender_addon")]
        sys.modules["vta_pkg"] = pkg
    return importlib.import_module(f"vta_pkg.{name}")


def test_launch_argv_sets_the_port_and_the_instance_id():
    local_engine = _addon_module("local_engine")
    assert local_engine.launch_argv("vta-engine serve --port 8765", 9001, "ab12") == \
        ["vta-engine", "serve", "--port", "9001", "--instance-id", "ab12"]
    assert local_engine.launch_argv("'/opt/my env/vta-engine' serve --port=1 --instance-id old --root /x", 7, "n") == \
        ["/opt/my env/vta-engine", "serve", "--root", "/x", "--port", "7", "--instance-id", "n"]
    with pytest.raises(Exception, match="empty"):
        local_engine.launch_argv("  ", 7, "n")


def test_pick_port_keeps_a_free_one_and_avoids_a_taken_one():
    import socket

    local_engine = _addon_module("local_engine")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = local_engine.pick_port(port)
        assert other != port and local_engine.port_is_free(other)
    assert local_engine.pick_port(other) == other


# ---- words the panel shows (blender_addon/text.py, no bpy) -----------------------------------------
def test_short_line_keeps_the_first_line_and_cuts_long_ones():
    text = _addon_module("text")
    assert text.short_line("engine gone\nTraceback …") == "engine gone"
    long = "x" * 200
    cut = text.short_line(long)
    assert len(cut) == text.PANEL_ERROR_CHARS and cut.endswith("…") and long.startswith(cut[:-1])


def test_count_label_says_keyframes_and_clicks():
    text = _addon_module("text")
    assert text.count_label(2, 4) == "2 keyframes · 4 clicks"
    assert text.count_label(1, 1) == "1 keyframe · 1 click"


def test_progress_line_eta_from_the_frames_done_in_this_run():
    text = _addon_module("text")
    assert text.progress_line(0, 60, 5.0) == "0/60"  # no rate yet
    assert text.progress_line(12, 60, 24.0) == "12/60 · 1m 36s left"  # 2 s a frame, 48 left
    # resumed: 40 frames were done before this run; 10 more took 20 s → 10 left take 20 s
    assert text.progress_line(50, 60, 20.0, done_at_start=40) == "50/60 · 20s left"
    assert text.progress_line(60, 60, 30.0) == "60/60"


# ---- result file names (old and new engines) and weak frames -----------------------------------------
def test_result_file_name_with_and_without_source_numbers():
    numbers = [1001, 1002, 1003, 1005, 1006]  # a gap: 1004 is missing in the source
    assert mapping.result_file_name("plate.{number:04d}.png", 3, numbers) == "plate.1005.png"
    assert mapping.result_file_name("{frame:05d}.png", 3, numbers) == "00003.png"
    # an old engine: no numbers, and a pattern with {frame} only; a new pattern still formats
    assert mapping.result_file_name("{frame:05d}.png", 3, None) == "00003.png"
    assert mapping.result_file_name("car.{number:04d}.exr", 7, []) == "car.0007.exr"


def test_runs_round_trip_keeps_order_and_gaps():
    numbers = [1001, 1002, 1003, 1005, 1006, 1010]
    text = mapping.encode_runs(numbers)
    assert text == "1001~1003,1005~1006,1010"
    assert mapping.decode_runs(text) == numbers
    assert mapping.decode_runs(mapping.encode_runs([])) == []
    assert mapping.decode_runs(mapping.encode_runs([5, 4, 3])) == [5, 4, 3]  # not sorted: kept as given


def test_weak_frames_use_the_threshold_and_skip_keyframes():
    conf = {0: 1.0, 1: 0.4, 2: 0.55, 3: 0.2, 4: 0.549}
    assert mapping.weak_frames(conf, 0.55, keyframes=[3]) == [1, 4]
    assert mapping.weak_frames(conf, 0.5) == [1, 3]


def test_next_and_previous_weak_timeline_frame_follow_the_strip():
    # a reversed strip: timeline 10..14 shows source 4..0
    t = timing(frame_start=10, final_start=10, final_end=15, content_duration=5, source_frames=5, reverse=True)
    pairs = mapping.visible_source_map(t)
    assert pairs == [(10, 4), (11, 3), (12, 2), (13, 1), (14, 0)]
    weak = [1, 3]
    assert mapping.next_weak_timeline(pairs, weak, 9) == 11
    assert mapping.next_weak_timeline(pairs, weak, 11) == 13
    assert mapping.next_weak_timeline(pairs, weak, 13) is None
    assert mapping.next_weak_timeline(pairs, weak, 14, forward=False) == 13
    assert mapping.next_weak_timeline(pairs, weak, 11, forward=False) is None


# ---- the shots file the add-on writes for `vta-engine batch` (blender_addon/shots_file.py, no bpy) ----
_shots_spec = importlib.util.spec_from_file_location(
    "vta_shots_file", Path(__file__).resolve().parents[1] / "blender_addon" / "shots_file.py")
shots_file = importlib.util.module_from_spec(_shots_spec)
_shots_spec.loader.exec_module(shots_file)


def _shot(name="sh010", out="out/sh010", clicks=((3, 10.0, 20.0, True),)):
    return shots_file.shot_entry(name, "plates/a.mov", out, 0, 9, [("car", list(clicks))],
                                 {"dilate": 4, "resize_ratio": 1.0})


def test_shot_entry_refuses_what_the_batch_would():
    assert _shot()["objects"] == [{"name": "car", "clicks": [{"frame": 3, "x": 10.0, "y": 20.0, "positive": True}]}]
    with pytest.raises(shots_file.ShotsError, match="only negative clicks on frame 3"):
        _shot(clicks=((3, 1, 1, False),))
    with pytest.raises(shots_file.ShotsError, match="outside the track range"):
        _shot(clicks=((12, 1, 1, True),))
    with pytest.raises(shots_file.ShotsError, match="two objects are named"):
        shots_file.shot_entry("s", "v", "o", None, None, [("a", [(0, 1, 1, True)]), ("a", [(0, 2, 2, True)])], None)
    with pytest.raises(shots_file.ShotsError, match="no object has clicks"):
        shots_file.shot_entry("s", "v", "o", None, None, [("a", [])], None)


def test_merge_replaces_by_name_in_place_and_keeps_the_rest(tmp_path):
    other = {"name": "sh005", "video": "x.mov", "out": "out/sh005", "objects": [], "custom": 1}
    doc = {"version": 1, "defaults": {"tracker": "classical"}, "shots": [other, _shot(out="farm/sh010")]}
    merged, notes = shots_file.merge(doc, _shot(out=""), {"tracker": "sam2", "direction": "both"})
    assert merged["shots"][0] == other and merged["defaults"] == {"tracker": "classical"}
    assert merged["shots"][1]["out"] == "farm/sh010"  # the shot keeps the out the farm gave it
    assert any("tracker 'classical' applies" in n for n in notes) and any("direction" in n for n in notes)
    merged, _ = shots_file.merge(merged, _shot(name="sh020", out="out/sh020"), {})
    assert [s["name"] for s in merged["shots"]] == ["sh005", "sh010", "sh020"]
    with pytest.raises(shots_file.ShotsError, match="already writes to 'out/sh005'"):
        shots_file.merge(merged, _shot(name="sh030", out="out/sh005"), {})
    new, notes = shots_file.merge(None, _shot(), {"tracker": "classical"})
    assert new == {"version": 1, "defaults": {"tracker": "classical"}, "shots": [_shot()]} and not notes


def test_a_file_that_is_not_ours_to_extend_is_left_alone(tmp_path):
    path = tmp_path / "shots.json"
    assert shots_file.read(str(path)) is None
    for text, message in (("{not json", "not a JSON shots file"), ('{"version": 2, "shots": []}', "version 2"),
                          ('[1, 2]', "not a shots file")):
        path.write_text(text)
        with pytest.raises(shots_file.ShotsError, match=message):
            shots_file.read(str(path))
        assert path.read_text() == text
    path.write_text('{"version": 1, "shots": []}')
    path.chmod(0o640)
    shots_file.write(str(path), {"version": 1, "shots": [_shot()]})
    assert shots_file.read(str(path))["shots"] == [_shot()] and (path.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["shots.json"]  # no temporary file left
