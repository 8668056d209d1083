"""The project travels: results live beside the saved .blend and strips refer to them relatively, so
a moved project opens with every result found; result strips get the right colour spaces; a
shot exported for the batch is one `vta-engine batch --check` accepts, with the same clicks.
Real Blender, real engine processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from .conftest import ENGINE_PY, REPO
from .test_results import click_and_track
from .test_workflow import add_source, ctx, scene, wait  # noqa: F401 - scene is a fixture

bpy = pytest.importorskip("bpy")


def result_files(scene) -> dict[str, list[Path]]:
    """Every file each of the add-on's strips names, resolved as Blender resolves them."""
    from blender_addon import strips

    found = {}
    for strip in strips.own_strips(scene):
        folder = Path(bpy.path.abspath(strip.directory))
        found[strip.name] = [folder / e.filename for e in strip.elements]
    return found


def test_results_beside_the_blend_survive_moving_the_project(addon, engine_env, clip, scene, tmp_path):
    from blender_addon import engine_client, state as addon_state

    project = tmp_path / "project"
    project.mkdir()
    source = add_source(scene, clip)
    scene_name = scene.name
    bpy.ops.wm.save_as_mainfile(filepath=str(project / "shot.blend"))
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        shot_dir = Path(addon_state.results_shot_dir(scene))
        assert shot_dir.parent == project / "vta_results"
        click_and_track(addon, scene, clip, source.frame_final_start)
        assert bpy.ops.vta.remove() == {"FINISHED"}
        wait(addon, timeout=300)
        assert not bpy.context.window_manager.vta.error, bpy.context.window_manager.vta.error
        files = result_files(scene)
        assert len(files) == 2  # the matte and the clean plate
        for strip in addon.strips.own_strips(scene):
            assert strip.directory.startswith("//vta_results/"), strip.directory
        assert state.objects[0].result_dir.startswith("//vta_results/") and state.clean_dir.startswith("//")
        assert all(f.is_file() and str(f).startswith(str(shot_dir)) for fs in files.values() for f in fs)
        session_id = state.session_id
        bpy.ops.wm.save_mainfile()

    # the project (the .blend and its results folder) moves; the engine's copies are gone
    moved = tmp_path / "elsewhere" / "renamed project"
    shutil.copytree(project, moved)
    shutil.rmtree(project)
    engine_client.EngineClient(engine_env).delete_session(session_id)
    bpy.ops.wm.open_mainfile(filepath=str(moved / "shot.blend"))
    reopened = bpy.data.scenes[scene_name]
    files = result_files(reopened)
    assert len(files) == 2 and all(fs for fs in files.values())
    missing = [str(f) for fs in files.values() for f in fs if not f.is_file()]
    assert not missing, missing[:3]
    assert all(str(f).startswith(str(moved / "vta_results")) for fs in files.values() for f in fs)
    obj = reopened.vta.objects[0]
    assert Path(addon_state.abs_path(obj.result_dir)).is_dir()  # the overlay reads the moved mattes too
    assert not addon_state.clean_is_stale(reopened.vta)


def test_mirror_brings_only_what_changed(tmp_path):
    from blender_addon import project_results

    src, dst = tmp_path / "engine", tmp_path / "project"
    src.mkdir()
    names = [f"{i:05d}.png" for i in range(5)]
    for name in names[:4]:
        (src / name).write_bytes(name.encode())
    (tmp_path / "project").mkdir()
    (dst / "notes.txt").write_text("mine")
    assert project_results.mirror_sequence(str(src), str(dst), names) == 4
    assert project_results.mirror_sequence(str(src), str(dst), names) == 0  # unchanged: nothing comes
    tmp = src / "tmp"
    tmp.write_bytes(b"new pixels")
    os.replace(tmp, src / names[1])  # the engine replaces a frame by rename
    (src / names[3]).unlink()  # and drops another
    assert project_results.mirror_sequence(str(src), str(dst), names) == 1
    assert (dst / names[1]).read_bytes() == b"new pixels" and not (dst / names[3]).exists()
    assert (dst / "notes.txt").read_text() == "mine" and not list(dst.glob("*.vta-part"))


def _save_image(path: Path, pixels: np.ndarray, fmt: str, depth: str, scene) -> None:
    """An image file written by Blender itself: EXR (half) or a 16-bit PNG."""
    h, w = pixels.shape[:2]
    img = bpy.data.images.new("tmp", w, h, float_buffer=True, alpha=True)
    img.pixels.foreach_set(pixels[::-1].astype(np.float32).ravel())
    settings = scene.render.image_settings
    settings.file_format, settings.color_depth = fmt, depth
    settings.color_mode = "RGBA"
    img.save_render(str(path), scene=scene)
    bpy.data.images.remove(img)


def test_result_strips_get_their_colour_spaces(addon, clip, scene, tmp_path):
    """Mattes are shown with their files' values: float ones (16-bit PNG, EXR) in the sequencer's
    own colour space (a Non-Color float buffer is converted as if linear: test_matte.py), 8-bit
    ones Non-Color; the clean plate takes its source strip's colour space: a linear EXR plate from
    a linear EXR source, sRGB from a movie."""
    from blender_addon import strips

    h, w, n = 18, 32, 4
    plates, mattes, clean, soft = tmp_path / "plate", tmp_path / "matte", tmp_path / "clean", tmp_path / "soft"
    for folder in (plates, mattes, clean, soft):
        folder.mkdir()
    rgba = np.ones((h, w, 4), np.float32) * 0.25
    for i in range(n):
        _save_image(plates / f"plate.{1001 + i}.exr", rgba, "OPEN_EXR", "16", scene)
        _save_image(clean / f"clean.{1001 + i}.exr", rgba, "OPEN_EXR", "16", scene)
        _save_image(mattes / f"car.{1001 + i}.png", rgba, "PNG", "16", scene)
        _save_image(soft / f"boom.{1001 + i}.exr", rgba, "OPEN_EXR", "16", scene)  # a half-float matte
    coll = scene.sequence_editor_create().strips
    source = coll.new_image("exr plate", str(plates / "plate.1001.exr"), channel=2, frame_start=1)
    for i in range(1, n):
        source.elements.append(f"plate.{1001 + i}.exr")
    assert source.colorspace_settings.name != "sRGB"  # Blender reads an EXR as scene linear
    source.colorspace_settings.name = "ACEScg" if "ACEScg" in _colour_spaces(source) else "Linear Rec.2020"
    numbers = [1001 + i for i in range(n)]
    placed = strips.place_results(scene, source, n, [
        strips.ResultSequence("matte:1", "car matte", str(mattes), "car.{number:04d}.png"),
        strips.ResultSequence("matte:2", "boom matte", str(soft), "boom.{number:04d}.exr"),
        strips.ResultSequence("clean", "plate clean", str(clean), "clean.{number:04d}.exr")], numbers=numbers)
    by_role = {s["vta_role"]: s for s in placed}
    working = scene.sequencer_colorspace_settings.name
    assert by_role["matte:1"].colorspace_settings.name == by_role["matte:2"].colorspace_settings.name == working
    assert by_role["clean"].colorspace_settings.name == source.colorspace_settings.name
    assert [e.filename for e in by_role["clean"].elements] == [f"clean.{k}.exr" for k in numbers]

    movie = coll.new_movie("movie plate", clip["movie"], channel=8, frame_start=1)
    placed = strips.place_results(scene, movie, clip["frames"], [
        strips.ResultSequence("clean", "movie clean", clip["bg"], "{frame:05d}.png")])
    assert placed[0].colorspace_settings.name == movie.colorspace_settings.name == "sRGB"


def _colour_spaces(strip) -> set[str]:
    prop = strip.colorspace_settings.bl_rna.properties["name"]
    return {item.identifier for item in prop.enum_items}


def test_exported_shot_passes_the_batch_check_with_the_same_clicks(addon, engine_env, clip, scene, tmp_path):
    from blender_addon import shots_file

    source = add_source(scene, clip)
    shots = tmp_path / "show" / "shots.json"
    shots.parent.mkdir()
    other = {"name": "sh999", "video": clip["movie"], "out": "out/sh999",
             "objects": [{"name": "x", "clicks": [{"frame": 0, "x": 5, "y": 5}]}], "remove": True}
    shots.write_text(json.dumps({"version": 1, "defaults": {"dilate": 4}, "shots": [other]}))
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        for t in (source.frame_final_start, source.frame_final_start + 6):
            scene.frame_set(t)
            src = addon.mapping.timeline_to_source(t, addon.strips.strip_timing(source, state.frame_count))
            x, y = clip["clicks"][src]
            bpy.ops.vta.add_click(x=x + 0.5, y=y + 0.5, positive=True)
        bpy.ops.vta.add_click(x=2.5, y=3.5, positive=False)  # an exclusion on the last keyframe
        wait(addon)
        state.dilation, state.resize_ratio = 5, 0.5
        assert bpy.ops.vta.export_shot(filepath=str(shots), shot_name="sh010") == {"FINISHED"}
        # exported twice: the shot is updated in place, the other shot is kept as it was
        assert bpy.ops.vta.export_shot(filepath=str(shots), shot_name="sh010") == {"FINISHED"}
    doc = json.loads(shots.read_text())
    assert [s["name"] for s in doc["shots"]] == ["sh999", "sh010"] and doc["shots"][0] == other
    assert doc["defaults"] == {"dilate": 4}  # the file's defaults are the farm's
    shot = doc["shots"][1]
    assert shot["remove"] == {"dilate": 5, "resize_ratio": 0.5} and shot["out"] == "out/sh010"
    assert (shot["start"], shot["end"]) == (2, clip["frames"] - 2)  # the strip's visible source frames
    ours = sorted((c.frame, round(c.x, 3), round(c.y, 3), c.positive) for c in state.clicks)
    assert sorted((c["frame"], c["x"], c["y"], c["positive"]) for c in shot["objects"][0]["clicks"]) == ours

    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run([str(ENGINE_PY), "-m", "engine.cli", "batch", str(shots), "--check", "--json",
                          "--shot", "sh010"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    plan = next(json.loads(line) for line in run.stdout.splitlines() if '"plan"' in line)
    planned = []
    for argv in plan["commands"]:
        if argv[0] != "track":
            continue
        frame = int(argv[argv.index("--frame") + 1])
        for arg in argv:
            if arg.startswith("--click="):
                x, y, sign = arg.split("=", 1)[1].split(",")
                planned.append((frame, float(x), float(y), sign == "+"))
    assert sorted(planned) == ours
    assert plan["frames"] == clip["frames"] - 3
    assert any(argv[0] == "remove" and "--dilate" in argv and argv[argv.index("--dilate") + 1] == "5"
               for argv in plan["commands"])

    # a new file gets the engine's backends and the direction as its defaults, and passes the check too
    fresh = tmp_path / "show" / "new.json"
    with ctx(scene):
        assert bpy.ops.vta.export_shot(filepath=str(fresh), shot_name="sh010", remove=False) == {"FINISHED"}
    new_doc = json.loads(fresh.read_text())
    health = json.loads(urllib.request.urlopen(engine_env + "/v1/health").read())
    assert new_doc["defaults"] == {**health["backends"], "direction": state.direction}
    assert new_doc["shots"][0]["remove"] is False
    run = subprocess.run([str(ENGINE_PY), "-m", "engine.cli", "batch", str(fresh), "--check"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "remove" not in run.stdout.split("track", 1)[1], run.stdout + run.stderr
    assert f"--tracker {health['backends']['tracker']}" in run.stdout

    # a shot the batch would refuse is not written, and the file stays whole
    before = shots.read_text()
    state.clicks[-1].positive = False
    state.clicks[-2].positive = False  # the last keyframe now has only exclusions
    with ctx(scene):
        assert bpy.ops.vta.export_shot(filepath=str(shots), shot_name="sh011") == {"CANCELLED"}
    assert "only negative clicks" in bpy.context.window_manager.vta.error
    assert shots.read_text() == before and shots_file.read(str(shots))["shots"][1] == shot


def test_results_made_before_the_first_save_are_brought_beside_the_blend(addon, engine_env, clip, tmp_path):
    """Unsaved: the strips read the engine's folders and the panel says so. Once saved, the panel
    offers to bring them over, and the strips then read the project's copies, relatively."""
    from blender_addon import gui, ops_results, state as addon_state, strips

    from .test_panels import draw, labels

    bpy.ops.wm.read_homefile(use_empty=True)
    assert not bpy.data.filepath
    scene = bpy.data.scenes.new("vta_unsaved")
    if hasattr(bpy.context.workspace, "sequencer_scene"):
        bpy.context.workspace.sequencer_scene = scene
    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        click_and_track(addon, scene, clip, source.frame_final_start)
        matte = strips.own_strips(scene, source.name)[0]
        engine_dir = matte.directory
        assert os.path.isabs(engine_dir) and "vta_results" not in engine_dir
        assert "Unsaved .blend" in labels(draw(gui.VTA_PT_remove))
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "later.blend"))
        assert ops_results.results_outside_project(scene)
        assert ("operator", "vta.bring_results", "") in draw(gui.VTA_PT_remove)
        assert bpy.ops.vta.bring_results() == {"FINISHED"}
        wait(addon)
        assert not bpy.context.window_manager.vta.error, bpy.context.window_manager.vta.error
        assert matte.directory.startswith("//vta_results/")
        assert not ops_results.results_outside_project(scene)
        files = result_files(scene)[matte.name]
        assert files and all(f.is_file() and str(f).startswith(addon_state.results_shot_dir(scene)) for f in files)


def test_finished_frames_come_into_the_project_as_the_job_reports_them(addon, engine_env, clip, scene, tmp_path):
    """The job lane follows `frame_done` events and brings each finished matte over at once: after
    the job every tracked frame is in the project, the same bytes as the engine's file."""
    from blender_addon import engine_ops, project_results, state as addon_state

    add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        scene.frame_set(scene.sequence_editor.active_strip.frame_final_start)
        x, y = clip["clicks"][2]
        bpy.ops.vta.add_click(x=x + 0.5, y=y + 0.5)
        wait(addon)
    cl = addon_state.client()
    obj_id = state.objects[0].engine_id
    follower = project_results.FrameFollower(engine_ops.result_locations(cl, state.session_id), str(tmp_path / "shot"))
    job = engine_ops.run_job(cl, state.session_id, "track", {"objects": [obj_id], "start": 2, "end": 9,
                                                              "direction": "forward"},
                             engine_ops.JobControl(), lambda *a: None, follower)
    assert job["status"] == "done" and not follower.failed
    engine_dir, pattern, project_dir = follower.objects[obj_id]
    names = sorted(os.listdir(project_dir))
    assert follower.brought == len(names) == 8 and names == [pattern.format(frame=f) for f in range(2, 10)]
    assert all((Path(project_dir) / n).read_bytes() == (Path(engine_dir) / n).read_bytes() for n in names)
