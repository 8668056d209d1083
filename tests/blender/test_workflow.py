"""The five steps in real Blender against a real engine: strip → info → click → track → strips
aligned frame for frame with mattes matching the ground truth → remove → clean plate → use as mask;
then save/reopen, and the error paths (engine gone, clicks kept)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from .conftest import iou, load_mask

bpy = pytest.importorskip("bpy")

# quality bars for the engine's default (classical) backends on the generated clip
CLICK_IOU = 0.75
TRACK_IOU_MEAN = 0.7
TRACK_IOU_MIN = 0.5


def second_click(gt, first, margin=4):
    """An interior pixel of the ground-truth mask (at least `margin` px from its edge), far from the
    first click."""
    inner = gt.copy()
    for dy in range(-margin, margin + 1):
        for dx in range(-margin, margin + 1):
            inner &= np.roll(np.roll(gt, dy, 0), dx, 1)
    ys, xs = np.nonzero(inner)
    far = np.argmax((xs - first[0]) ** 2 + (ys - first[1]) ** 2)
    return int(xs[far]), int(ys[far])


def wait(addon, lane=None, timeout=180.0):
    assert addon.worker.wait_idle(timeout, lane), "the add-on's worker did not finish in time"


@pytest.fixture
def scene(addon):
    scene = bpy.data.scenes.new("vta_test")
    scene.render.fps = 24
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 320, 180, 100
    scene.view_settings.view_transform = "Standard"
    workspace = bpy.context.workspace
    if hasattr(workspace, "sequencer_scene"):  # Blender 5.0: the sequencer edits this scene
        workspace.sequencer_scene = scene
    yield scene


def ctx(scene):
    """Operators read the sequencer scene from context; run them with this scene."""
    return bpy.context.temp_override(scene=scene)


def add_source(scene, clip, frame_start=11, trim_start=2, trim_end=1, channel=2):
    coll = scene.sequence_editor_create().strips
    strip = coll.new_movie("plate", clip["movie"], channel=channel, frame_start=frame_start)
    strip.frame_offset_start, strip.frame_offset_end = trim_start, trim_end
    scene.sequence_editor.active_strip = strip
    scene.frame_start, scene.frame_end = strip.frame_final_start, strip.frame_final_end - 1
    return strip


def test_full_workflow(addon, engine_env, clip, scene, tmp_path):
    from blender_addon import mapping, overlay, strips

    st = bpy.context.window_manager.vta
    source = add_source(scene, clip)
    user_strip = scene.sequence_editor.strips.new_image("user title", os.path.join(clip["frames_dir"], "00000.png"),
                                                        channel=3, frame_start=source.frame_final_start + 1)
    user_strip.frame_final_duration = 10  # overlaps the source: channel 3 is taken there
    with ctx(scene):
        # engine status
        assert bpy.ops.vta.connect() == {"FINISHED"}
        wait(addon)
        assert st.connected and st.engine_version and st.device, st.error

        # 1: clip info
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        assert state.session_id and state.frame_count == clip["frames"], st.error
        assert (state.width, state.height) == (clip["width"], clip["height"])
        assert (state.track_start, state.track_end) == (source.frame_final_start, source.frame_final_end - 1)

        # 2: a click on the first visible frame (timeline 13 shows media frame 2)
        scene.frame_set(source.frame_final_start)
        src_frame = mapping.timeline_to_source(scene.frame_current, strips.strip_timing(source, state.frame_count))
        assert src_frame == 2
        x, y = clip["clicks"][src_frame]
        assert bpy.ops.vta.add_click(x=x + 0.5, y=y + 0.5, positive=True) == {"FINISHED"}
        assert len(state.clicks) == 1 and not state.clicks[0].synced  # stored before it is sent
        wait(addon)
        assert state.clicks[0].synced, st.error
        mask = overlay.click_mask(state.objects[0].uid, src_frame)
        gt = load_mask(Path(clip["gt"]) / f"{src_frame:05d}.png")
        assert mask is not None
        print(f"one-click mask IoU vs ground truth: {iou(mask, gt):.3f}")
        # a second positive click, as an artist would add where the mask falls short
        x2, y2 = second_click(gt, (x, y))
        bpy.ops.vta.add_click(x=x2 + 0.5, y=y2 + 0.5, positive=True)
        wait(addon)
        assert all(c.synced for c in state.clicks), st.error
        mask = overlay.click_mask(state.objects[0].uid, src_frame)
        print(f"two-click mask IoU vs ground truth: {iou(mask, gt):.3f}")
        assert iou(mask, gt) > CLICK_IOU

        # 3: track both ways, the job runs on a worker thread
        assert bpy.ops.vta.track(direction="both") == {"FINISHED"}
        assert st.busy
        wait(addon, timeout=300)
        assert not st.busy and not st.error, st.error
        mattes = strips.own_strips(scene, source.name, f"matte:{state.objects[0].uid}")
        assert len(mattes) == 1
        matte = mattes[0]
        assert matte.channel > source.channel and matte.channel != user_strip.channel
        assert matte.colorspace_settings.name == "Non-Color"
        # frame for frame: every visible source frame has the matte of the same media frame
        assert (matte.frame_final_start, matte.frame_final_end) == (source.frame_final_start, source.frame_final_end)
        timing = strips.strip_timing(source, state.frame_count)
        ious = []
        for t in range(matte.frame_final_start, matte.frame_final_end):
            element = matte.elements[t - int(matte.frame_start)]
            src = mapping.timeline_to_source(t, timing)
            assert element.filename == f"{src:05d}.png"
            ious.append(iou(load_mask(Path(bpy.path.abspath(matte.directory)) / element.filename),
                            load_mask(Path(clip["gt"]) / f"{src:05d}.png")))
        print(f"tracked matte IoU vs ground truth: mean {np.mean(ious):.3f} min {np.min(ious):.3f}")
        assert np.mean(ious) > TRACK_IOU_MEAN and np.min(ious) > TRACK_IOU_MIN

        # 4: correction on a later frame makes a keyframe; re-tracking replaces our strips only
        t_fix = source.frame_final_end - 3
        scene.frame_set(t_fix)
        f_fix = mapping.timeline_to_source(t_fix, timing)
        fx, fy = clip["clicks"][f_fix]
        gt_fix = load_mask(Path(clip["gt"]) / f"{f_fix:05d}.png")
        bpy.ops.vta.add_click(x=fx + 0.5, y=fy + 0.5, positive=True)
        fx2, fy2 = second_click(gt_fix, (fx, fy))
        bpy.ops.vta.add_click(x=fx2 + 0.5, y=fy2 + 0.5, positive=True)
        wait(addon)
        assert {c.frame for c in state.clicks} == {src_frame, f_fix} and all(c.synced for c in state.clicks)
        bpy.ops.vta.track(direction="both")
        wait(addon, timeout=300)
        assert not st.error, st.error
        matte = strips.own_strips(scene, source.name, f"matte:{state.objects[0].uid}")[0]
        fixed = load_mask(Path(bpy.path.abspath(matte.directory)) / f"{f_fix:05d}.png")
        print(f"after the correction, matte IoU on its keyframe: {iou(fixed, gt_fix):.3f}")
        assert iou(fixed, gt_fix) > CLICK_IOU
        assert len(strips.own_strips(scene, source.name)) == 1  # replaced, not added
        assert user_strip.name in [s.name for s in scene.sequence_editor.strips]  # the user's strip is untouched

        # 5: remove → clean plate strip on top, aligned
        state.dilation, state.resize_ratio = 6, 1.0
        assert bpy.ops.vta.remove() == {"FINISHED"}
        wait(addon, timeout=300)
        assert not st.error, st.error
        clean = strips.own_strips(scene, source.name, "clean")
        assert len(clean) == 1
        clean = clean[0]
        assert (clean.frame_final_start, clean.frame_final_end) == (source.frame_final_start, source.frame_final_end)
        assert clean.channel > max(s.channel for s in strips.own_strips(scene, source.name, f"matte:{state.objects[0].uid}"))
        assert clean.elements[0].filename == f"{mapping.timeline_to_source(clean.frame_final_start, timing):05d}.png"

        # use as mask
        assert bpy.ops.vta.use_as_mask() == {"FINISHED"}
        mods = [m for m in source.modifiers if m.type == "MASK"]
        assert len(mods) == 1 and mods[0].input_mask_strip.get("vta_role", "").startswith("matte:")

        # save and reopen: clicks, objects and settings come back
        path = str(tmp_path / "shot.blend")
        scene_name = scene.name  # "vta_test", or "vta_test.001" when an earlier test made one
        bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    reopened = bpy.data.scenes[scene_name].vta
    assert reopened.session_id and len(reopened.objects) == 1 and len(reopened.clicks) == 4
    assert reopened.dilation == 6

    # reopening: the saved engine session is used again; if the engine lost it, the clicks are replayed
    scene2 = bpy.data.scenes[scene_name]
    if hasattr(bpy.context.workspace, "sequencer_scene"):
        bpy.context.workspace.sequencer_scene = scene2
    old_session = reopened.session_id
    with ctx(scene2):
        bpy.ops.vta.get_video_info()
        wait(addon)
        assert reopened.session_id == old_session, st.error
        from blender_addon import engine_client
        engine_client.EngineClient(engine_env).delete_session(old_session)
        bpy.ops.vta.get_video_info()
        wait(addon, timeout=120)
        assert reopened.session_id and reopened.session_id != old_session, st.error
        assert all(c.synced for c in reopened.clicks), st.error
        keys = engine_client.EngineClient(engine_env).keyframes(reopened.session_id)
        assert sorted(k["frame"] for k in keys) == sorted({c.frame for c in reopened.clicks})
        assert sum(len(k["clicks"]) for k in keys) == len(reopened.clicks)


def test_render_shows_aligned_matte(addon, engine_env, clip, scene, tmp_path):
    """What Blender actually shows: render the matte strip at a few frames of a moved, trimmed source
    and compare with the ground truth of the media frame the source shows there."""
    from blender_addon import mapping, strips

    st = bpy.context.window_manager.vta
    source = add_source(scene, clip, frame_start=31, trim_start=4, trim_end=3)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        timing = strips.strip_timing(source, state.frame_count)
        scene.frame_set(source.frame_final_start + 5)
        f0 = mapping.timeline_to_source(scene.frame_current, timing)
        x, y = clip["clicks"][f0]
        bpy.ops.vta.add_click(x=x + 0.5, y=y + 0.5)
        x2, y2 = second_click(load_mask(Path(clip["gt"]) / f"{f0:05d}.png"), (x, y))
        bpy.ops.vta.add_click(x=x2 + 0.5, y=y2 + 0.5)
        wait(addon)
        bpy.ops.vta.track(direction="both")
        wait(addon, timeout=300)
        assert not st.error, st.error
    matte = [s for s in strips.own_strips(scene, source.name) if s["vta_role"].startswith("matte:")][0]
    for other in scene.sequence_editor.strips:  # show only the matte (the session may also hold a clean plate)
        other.mute = other != matte
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "BW"
    for t in (source.frame_final_start, source.frame_final_start + 7, source.frame_final_end - 1):
        scene.frame_set(t)
        scene.render.filepath = str(tmp_path / f"r{t}.png")
        with bpy.context.temp_override(scene=scene):
            bpy.ops.render.render(write_still=True, scene=scene.name)
        shown = load_mask(tmp_path / f"r{t}.png")
        src = mapping.timeline_to_source(t, timing)
        gt = load_mask(Path(clip["gt"]) / f"{src:05d}.png")
        # the aligned frame matches better than its neighbours would
        assert iou(shown, gt) > 0.7, (t, src)
        if 0 < src < state.frame_count - 1:
            neighbour = load_mask(Path(clip["gt"]) / f"{src + 3:05d}.png") if src + 3 < state.frame_count \
                else load_mask(Path(clip["gt"]) / f"{src - 3:05d}.png")
            assert iou(shown, gt) > iou(shown, neighbour)
    assert matte.frame_final_start == source.frame_final_start


def test_engine_unreachable_keeps_clicks(addon, clip, scene, monkeypatch, engine_env):
    """With the engine gone: readable message, no exception, and the click stays (unsynced) to be
    sent later."""
    st = bpy.context.window_manager.vta
    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        assert scene.vta.session_id, st.error
        from .conftest import free_port

        monkeypatch.setenv("VTA_ENGINE_ADDRESS", f"http://127.0.0.1:{free_port()}")
        bpy.ops.vta.connect()
        wait(addon)
        assert not st.connected and "no engine answering" in st.error
        assert "Traceback" not in st.error
        scene.frame_set(source.frame_final_start)
        bpy.ops.vta.add_click(x=100, y=80)
        wait(addon)
        assert len(scene.vta.clicks) == 1 and not scene.vta.clicks[0].synced
        assert "kept" in st.error and st.pending_clicks == 1
        bpy.ops.vta.track()
        wait(addon)
        assert not st.busy and "no engine answering" in st.error

        # engine back: pending clicks are sent
        monkeypatch.setenv("VTA_ENGINE_ADDRESS", engine_env)
        bpy.ops.vta.sync_clicks()
        wait(addon)
        assert scene.vta.clicks[0].synced and st.pending_clicks == 0


def test_bad_input_is_reported_not_raised(addon, engine_env, clip, scene):
    st = bpy.context.window_manager.vta
    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        # a click outside the picture, on a frame the source shows, is refused before anything is stored
        scene.frame_set(source.frame_final_start)
        size = f"{clip['width']}x{clip['height']}"
        with pytest.raises(RuntimeError, match=f"Click \\(10000, 5\\) is outside the {size} picture"):
            bpy.ops.vta.add_click(x=10_000, y=5)
        with pytest.raises(RuntimeError, match=f"outside the {size} picture"):
            bpy.ops.vta.add_click(x=5, y=-3)
        assert len(scene.vta.clicks) == 0
        # a track with no keyframe: the engine's reason reaches the panel
        bpy.ops.vta.object_add()
        bpy.ops.vta.track()
        wait(addon)
        assert st.error and not st.busy


def test_objects_and_clear_clicks(addon, engine_env, clip, scene):
    """Several objects: Clear Clicks drops only the active object's clicks on this frame; removing an
    object drops its clicks and leaves the other object's untouched."""
    st = bpy.context.window_manager.vta
    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        assert state.session_id, st.error
        bpy.ops.vta.object_add(name="first")
        bpy.ops.vta.object_add(name="second")
        assert [o.name for o in state.objects] == ["first", "second"]
        first, second = (o.uid for o in state.objects)
        frames = (source.frame_final_start, source.frame_final_start + 3)
        for timeline_frame in frames:
            scene.frame_set(timeline_frame)
            for index in (0, 1):
                state.active_object = index
                bpy.ops.vta.add_click(x=100, y=80)
        wait(addon)
        assert len(state.clicks) == 4
        state.active_object = 0
        scene.frame_set(frames[1])
        assert bpy.ops.vta.clear_clicks() == {"FINISHED"}
        wait(addon)
        assert sorted((c.object_uid, c.frame) for c in state.clicks) == sorted(
            [(first, 2), (second, 2), (second, 5)])
        assert bpy.ops.vta.object_remove() == {"FINISHED"}  # the active one: "first"
        wait(addon)
        assert [o.name for o in state.objects] == ["second"]
        assert {c.object_uid for c in state.clicks} == {second} and len(state.clicks) == 2
        assert not st.error, st.error


def test_clip_the_engine_cannot_read_is_uploaded(addon, engine_env, clip, scene, tmp_path, monkeypatch):
    """As with an engine on another machine: a movie outside the engine's allowed folders is sent
    (chunked, by content hash) and the session works on the upload; asking again reuses that
    session; with uploads turned off the engine's reason reaches the panel instead. The results,
    in folders this machine is told it cannot see, come back as a download and the matte strip
    reads the downloaded files."""
    import shutil

    from blender_addon import engine_ops, state as addon_state, strips

    st = bpy.context.window_manager.vta
    elsewhere = tmp_path / "elsewhere.mp4"  # the engine's --root is the session workdir, not this
    shutil.copy(clip["movie"], elsewhere)
    strip = scene.sequence_editor_create().strips.new_movie("far", str(elsewhere), channel=2, frame_start=1)
    scene.sequence_editor.active_strip = strip
    with ctx(scene):
        os.environ["VTA_UPLOAD_CLIPS"] = "NEVER"
        try:
            bpy.ops.vta.get_video_info()
            wait(addon)
            assert not scene.vta.session_id and "outside the folders" in st.error
        finally:
            del os.environ["VTA_UPLOAD_CLIPS"]
        bpy.ops.vta.get_video_info()  # AUTO
        wait(addon)
        state = scene.vta
        assert state.session_id and state.upload_sha and state.frame_count == clip["frames"], st.error
        first = state.session_id
        bpy.ops.vta.get_video_info()
        wait(addon)
        assert state.session_id == first and state.upload_sha, st.error
        scene.frame_set(strip.frame_final_start)
        x, y = clip["clicks"][0]
        bpy.ops.vta.add_click(x=x + 0.5, y=y + 0.5)
        wait(addon)
        assert state.clicks[0].synced, st.error
        monkeypatch.setattr(engine_ops, "readable_here", lambda folder: False)
        assert bpy.ops.vta.track(direction="forward") == {"FINISHED"}
        wait(addon, timeout=300)
        assert not st.busy and not st.error, st.error
        matte = strips.own_strips(scene, strip.name, f"matte:{state.objects[0].uid}")[0]
        shown_dir = Path(bpy.path.abspath(matte.directory))
        downloaded = Path(addon_state.user_dir("results", state.session_id))
        assert (downloaded / "masks").is_dir() and any((downloaded / "masks").iterdir())  # the download came
        if addon_state.results_shot_dir(scene) is None:  # unsaved .blend: the strip reads the download
            assert shown_dir.parent.parent == downloaded
        else:  # saved: the download was brought beside the .blend, and the strip reads that
            assert str(shown_dir).startswith(addon_state.results_shot_dir(scene)) and matte.directory.startswith("//")
        shown = load_mask(shown_dir / matte.elements[3].filename)
        assert iou(shown, load_mask(Path(clip["gt"]) / matte.elements[3].filename)) > TRACK_IOU_MIN


def test_image_sequence_the_engine_cannot_read_is_explained(addon, engine_env, clip, scene, tmp_path):
    """Frames outside the engine's folders are not uploaded; the panel says what to do."""
    import shutil

    st = bpy.context.window_manager.vta
    frames = tmp_path / "seq"
    shutil.copytree(clip["frames_dir"], frames)
    files = sorted(os.listdir(frames))
    strip = scene.sequence_editor_create().strips.new_image("seq", str(frames / files[0]), channel=2, frame_start=1)
    for name in files[1:]:
        strip.elements.append(name)
    scene.sequence_editor.active_strip = strip
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
    assert not scene.vta.session_id
    assert "image sequences are not uploaded" in st.error and "--root" in st.error, st.error
