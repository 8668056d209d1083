"""Re-tracking and re-removing keep the artist's edits: result strips are updated in place (new
frames, same strips), a deleted result strip is not recreated unless asked, and a clean plate made
from older mattes is marked stale, never silently removed. Real Blender, real engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .conftest import load_mask
from .test_workflow import add_source, ctx, scene, wait  # noqa: F401 - scene is a fixture

bpy = pytest.importorskip("bpy")


def click_and_track(addon, scene, clip, timeline_frame, positive=True):
    """A click at the object's centre on that frame (a negative one on a tracked frame cuts the
    tracked matte there: a correction that changes it), then Track."""
    from blender_addon import mapping, strips

    state = scene.vta
    scene.frame_set(timeline_frame)
    src = mapping.timeline_to_source(timeline_frame, strips.strip_timing(strips.find_strip(scene, state.strip_name),
                                                                          state.frame_count))
    x, y = clip["clicks"][src]
    bpy.ops.vta.add_click(x=x + 0.5, y=y + 0.5, positive=positive)
    wait(addon)
    assert bpy.ops.vta.track(direction="both") == {"FINISHED"}
    wait(addon, timeout=300)
    st = bpy.context.window_manager.vta
    assert not st.busy and not st.error, st.error
    return src


def test_retrack_and_reremove_keep_the_artists_edits(addon, engine_env, clip, scene):
    from blender_addon import state as addon_state, strips

    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        click_and_track(addon, scene, clip, source.frame_final_start)
        uid = state.objects[0].uid
        matte = strips.own_strips(scene, source.name, f"matte:{uid}")[0]
        assert matte.mute  # placed muted: the preview still shows the picture (the overlay draws the matte)
        assert bpy.ops.vta.use_as_mask() == {"FINISHED"}  # a Mask modifier on the source, fed by the matte
        # what an artist does to the result strip
        matte.name = "hero matte"
        matte["artist"] = "mine"  # lost if the strip were deleted and made again
        matte.channel = 9
        matte.blend_type, matte.blend_alpha, matte.lock = "MULTIPLY", 0.7, True
        matte.modifiers.new(name="contrast", type="BRIGHT_CONTRAST")
        assert matte.mute  # Use as Mask muted it
        before = load_mask(Path(bpy.path.abspath(matte.directory)) / matte.elements[-3].filename)

        # a correction on a later frame, then Track again
        f_fix = click_and_track(addon, scene, clip, source.frame_final_end - 3, positive=False)
        mattes = strips.own_strips(scene, source.name, f"matte:{uid}")
        assert len(mattes) == 1
        matte = mattes[0]
        assert matte.get("artist") == "mine" and matte.name == "hero matte"
        assert (matte.channel, matte.blend_type, round(matte.blend_alpha, 3), matte.lock, matte.mute) == \
            (9, "MULTIPLY", 0.7, True, True)
        assert [m.name for m in matte.modifiers] == ["contrast"]
        masks = [m for m in source.modifiers if m.type == "MASK"]
        assert len(masks) == 1 and masks[0].input_mask_strip == matte
        assert (matte.frame_final_start, matte.frame_final_end) == (source.frame_final_start, source.frame_final_end)
        after = load_mask(Path(bpy.path.abspath(matte.directory)) / matte.elements[-3].filename)
        assert matte.elements[-3].filename == f"{f_fix:05d}.png" and not np.array_equal(before, after)

        # Remove: a clean plate; the artist mutes it; a re-track marks it stale, never removes it
        assert bpy.ops.vta.remove() == {"FINISHED"}
        wait(addon, timeout=300)
        plate = strips.own_strips(scene, source.name, "clean")[0]
        plate_name = plate.name
        # the clean plate is on top: the overlay must not draw the removed object back over it
        assert strips.clean_plate_on_top(scene, source.name, source.frame_final_start + 2)
        assert not strips.clean_plate_on_top(scene, source.name, source.frame_final_end + 5)
        assert not addon_state.clean_is_stale(state)
        plate.mute = True
        plate.color_tag = "COLOR_05"
        assert not strips.clean_plate_on_top(scene, source.name, source.frame_final_start + 2)
        click_and_track(addon, scene, clip, source.frame_final_start + 6)
        plates = strips.own_strips(scene, source.name, "clean")
        assert len(plates) == 1 and plates[0].mute
        assert addon_state.clean_is_stale(state)
        assert plates[0].name == plate_name + " (stale)" and plates[0].color_tag == "COLOR_01"
        assert "Track done" in bpy.context.window_manager.vta.message

        # Update Clean Plate: the same strip, fresh frames, the mark taken off
        assert bpy.ops.vta.remove() == {"FINISHED"}
        wait(addon, timeout=300)
        plates = strips.own_strips(scene, source.name, "clean")
        assert len(plates) == 1 and plates[0].mute
        assert plates[0].name == plate_name and plates[0].color_tag == "COLOR_05"
        assert not addon_state.clean_is_stale(state)

        # a deleted clean plate: a Track does not bring it back, a Remove (asking for one) does
        from blender_addon import compat
        compat.strip_collection(scene).remove(plates[0])
        click_and_track(addon, scene, clip, source.frame_final_start + 8)
        assert strips.own_strips(scene, source.name, "clean") == []
        assert bpy.ops.vta.remove() == {"FINISHED"}
        wait(addon, timeout=300)
        assert len(strips.own_strips(scene, source.name, "clean")) == 1


def test_a_deleted_result_strip_comes_back_only_when_asked(addon, engine_env, clip, scene):
    from blender_addon import compat, strips

    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        click_and_track(addon, scene, clip, source.frame_final_start)
        role = f"matte:{scene.vta.objects[0].uid}"
        compat.strip_collection(scene).remove(strips.own_strips(scene, source.name, role)[0])
        click_and_track(addon, scene, clip, source.frame_final_start + 4)
        assert strips.own_strips(scene, source.name, role) == []
        assert bpy.ops.vta.load_results() == {"FINISHED"}  # Re-align restores it
        assert len(strips.own_strips(scene, source.name, role)) == 1


def test_click_tool_button_explains_when_there_is_no_preview(addon, scene):
    """Headless Blender has no screen: the button says what to show instead of failing."""
    with ctx(scene):
        with pytest.raises(RuntimeError, match="Show the sequencer preview first"):
            bpy.ops.vta.use_click_tool()


def rendered_pixels(scene, path, color_mode: str = "RGB") -> np.ndarray:
    """Render the current frame as an 8-bit PNG and read it back, (h, w, channels), top row first."""
    settings = scene.render.image_settings
    settings.file_format, settings.color_mode, settings.color_depth = "PNG", color_mode, "8"
    scene.render.filepath = str(path)
    with bpy.context.temp_override(scene=scene):
        bpy.ops.render.render(write_still=True, scene=scene.name)
    img = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = img.size
        px = np.empty(w * h * img.channels, np.float32)
        img.pixels.foreach_get(px)
        return px.reshape(h, w, img.channels)[::-1]
    finally:
        bpy.data.images.remove(img)


def rendered_grey(scene, path) -> np.ndarray:
    """Render the current frame and read it back as a grey float image (top row first)."""
    return rendered_pixels(scene, path)[:, :, :3].mean(axis=2)


def shrink(mask, n=4):
    out = mask.copy()
    for dy in range(-n, n + 1):
        for dx in range(-n, n + 1):
            out &= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


def test_grade_object_and_everything_but_it(addon, engine_env, clip, scene, tmp_path):
    """What Blender renders: Grade Object brightens the object only, the inverse everything but
    it; both modifiers stay wired to their (updated) mask strips after a re-track."""
    from blender_addon import mapping, strips

    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        click_and_track(addon, scene, clip, source.frame_final_start)
        t = source.frame_final_start + 5
        src = mapping.timeline_to_source(t, strips.strip_timing(source, scene.vta.frame_count))
        gt = load_mask(Path(clip["gt"]) / f"{src:05d}.png")
        inside, outside = shrink(gt), shrink(~gt)
        scene.frame_set(t)
        plain = rendered_grey(scene, tmp_path / "plain.png")

        assert bpy.ops.vta.grade_object(modifier="BRIGHT_CONTRAST") == {"FINISHED"}
        grade = source.modifiers[-1]
        grade.bright = 40
        diff = rendered_grey(scene, tmp_path / "object.png") - plain
        print(f"grade object: inside +{diff[inside].mean():.3f}, outside {diff[outside].mean():+.3f}")
        assert diff[inside].mean() > 0.08 and abs(diff[outside].mean()) < 0.01
        grade.mute = True

        assert bpy.ops.vta.grade_object(modifier="BRIGHT_CONTRAST", inverse=True) == {"FINISHED"}
        inverse = source.modifiers[-1]
        inverse.bright = 40
        diff = rendered_grey(scene, tmp_path / "inverse.png") - plain
        print(f"grade all but object: inside {diff[inside].mean():+.3f}, outside +{diff[outside].mean():.3f}")
        assert diff[outside].mean() > 0.08 and abs(diff[inside].mean()) < 0.01

        # a re-track keeps both modifiers on their strips, and the inverse follows the matte
        uid = scene.vta.objects[0].uid
        inverse_strip = inverse.input_mask_strip
        click_and_track(addon, scene, clip, source.frame_final_end - 3)
        matte = strips.own_strips(scene, source.name, f"matte:{uid}")[0]
        assert grade.input_mask_strip == matte and inverse.input_mask_strip == inverse_strip
        assert strips.own_strips(scene, source.name, f"inverse:{uid}") == [inverse_strip]
        assert [e.filename for e in inverse_strip.elements] == [e.filename for e in matte.elements]
        assert inverse_strip.directory == matte.directory
