"""Weak frames come from the engine's threshold (`weak_below` in the session view, 0.5 from an engine
that does not say): the markers, each object's weak frames and the Next/Previous Weak Frame
buttons, mapped to the timeline through a moved and trimmed source. Preview modes: which pixels
each mode draws (the drawing itself needs a window: not tested headless). Real Blender, real engine."""

from __future__ import annotations

import numpy as np
import pytest

from .test_results import click_and_track
from .test_workflow import add_source, ctx, scene, wait  # noqa: F401 - scene is a fixture

bpy = pytest.importorskip("bpy")


def test_weak_frames_follow_the_engines_threshold_and_the_buttons_go_there(addon, engine_env, clip, scene):
    from blender_addon import engine_client, engine_ops, mapping, ops_results, state as addon_state, strips

    source = add_source(scene, clip, frame_start=21, trim_start=3, trim_end=2)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        view = engine_client.EngineClient(engine_env).session(state.session_id)
        assert state.weak_below == pytest.approx(view.get("weak_below", 0.5))  # the engine's, not ours
        key_frame = click_and_track(addon, scene, clip, source.frame_final_start + 2)
        obj = state.objects[0]
        conf = engine_client.EngineClient(engine_env).confidence(state.session_id, obj.engine_id)["frames"]
        expected = sorted(f for f, c in conf.items() if c < state.weak_below and f != key_frame)
        assert mapping.decode_runs(obj.weak) == expected

        # an engine whose threshold flags every tracked frame but the keyframe: the same results,
        # told with weak_below 1.0, as that engine's session view would say it
        specs = [addon_state.object_spec(o) for o in state.objects]
        results = engine_ops.collect_results(addon_state.client(), state.session_id, specs,
                                             addon_state.user_dir("results", state.session_id))
        ops_results.apply_results(scene, dict(results, weak_below=1.0), "track")
        assert state.weak_below == 1.0
        weak = mapping.decode_runs(obj.weak)
        timing = strips.strip_timing(source, state.frame_count)
        visible = [s for _, s in mapping.visible_source_map(timing)]
        assert key_frame not in weak and set(visible) - {key_frame} <= set(weak)
        markers = sorted(m.frame for m in scene.timeline_markers if m.name.startswith("VTA "))
        # one marker per run of weak frames, at the first timeline frame showing it: the keyframe splits the run
        assert markers == [source.frame_final_start, source.frame_final_start + 3]

        scene.frame_set(source.frame_final_start)
        assert bpy.ops.vta.next_weak_frame() == {"FINISHED"}
        assert scene.frame_current == source.frame_final_start + 1
        assert bpy.ops.vta.next_weak_frame() == {"FINISHED"}  # skips the keyframe (timeline start + 2)
        assert scene.frame_current == source.frame_final_start + 3
        assert mapping.timeline_to_source(scene.frame_current, timing) in weak
        assert bpy.ops.vta.prev_weak_frame() == {"FINISHED"}
        assert scene.frame_current == source.frame_final_start + 1
        scene.frame_set(source.frame_final_end - 1)
        assert bpy.ops.vta.next_weak_frame() == {"CANCELLED"}  # none after the last frame
        assert scene.frame_current == source.frame_final_end - 1
        scene.frame_set(source.frame_final_start - 5)  # before the strip: the first weak frame
        assert bpy.ops.vta.next_weak_frame() == {"FINISHED"}
        assert scene.frame_current == source.frame_final_start


def test_preview_modes_pick_their_pixels(addon, clip, scene):
    """The mode is a saved scene property; the overlay's pixels per mode: OVERLAY tints the object,
    MATTE is the matte opaque (white on black), CHECKER covers all but the object with a checkerboard.
    A tracked matte file is read soft (its own values), and a mode change makes a new texture."""
    from blender_addon import overlay

    state = scene.vta
    obj = addon.state.add_object(state)
    obj.color = (0.2, 0.4, 0.6)
    h, w = clip["height"], clip["width"]
    mask = np.zeros((h, w), bool)
    mask[10:50, 20:90] = True
    overlay.set_click_mask(obj.uid, 3, mask)
    keys = set()
    for mode in ("OVERLAY", "MATTE", "CHECKER"):
        state.preview_mode = mode
        key, rgba = overlay.frame_pixels(state, obj, 3)
        keys.add(key)
        assert rgba.shape == (h, w, 4)
        top = rgba[::-1]  # textures start at the bottom row
        inside, outside = top[20, 40], top[100, 200]
        if mode == "OVERLAY":
            assert np.allclose(inside, (0.2, 0.4, 0.6, 0.45)) and outside[3] == 0
        elif mode == "MATTE":
            assert np.allclose(inside, 1.0) and np.allclose(outside, (0, 0, 0, 1))
        else:
            assert inside[3] == 0 and outside[3] == 1
            assert len(np.unique(top[..., 0][~mask])) == 2  # two greys: a checkerboard
    assert len(keys) == 3  # each mode its own texture
    overlay.forget_masks()

    # a tracked matte on disk (the ground truth files stand in for the engine's)
    obj.result_dir, obj.result_pattern = clip["gt"], "{frame:05d}.png"
    state.preview_mode = "MATTE"
    key, rgba = overlay.frame_pixels(state, obj, 5)
    assert key[0] == "file" and rgba is not None
    gt = overlay.load_png_mask(f"{clip['gt']}/00005.png")
    assert np.array_equal(rgba[::-1][..., 0] > 0.5, gt)
    assert overlay.frame_pixels(state, obj, clip["frames"] + 5)[1] is None  # no matte: nothing drawn
