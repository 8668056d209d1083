"""Jobs are followed through the engine's NDJSON event stream on the worker thread: progress comes
from the stream's events, and a cancel asked for on the main thread reaches the engine through it."""

from __future__ import annotations

import pytest

from .test_workflow import add_source, ctx, scene, wait  # noqa: F401 - scene is a fixture

bpy = pytest.importorskip("bpy")


def session_with_a_keyframe(addon, scene, clip, source):
    bpy.ops.vta.get_video_info()
    wait(addon)
    scene.frame_set(source.frame_final_start)
    x, y = clip["clicks"][2]
    bpy.ops.vta.add_click(x=x + 0.5, y=y + 0.5)
    wait(addon)
    state = scene.vta
    assert state.clicks[0].synced
    return state


def test_progress_comes_from_the_event_stream(addon, engine_env, clip, scene):
    from blender_addon import engine_ops, state as addon_state

    source = add_source(scene, clip)
    with ctx(scene):
        state = session_with_a_keyframe(addon, scene, clip, source)
        seen = []
        job = engine_ops.run_job(addon_state.client(), state.session_id, "track",
                                 {"objects": [state.objects[0].engine_id], "direction": "both"},
                                 engine_ops.JobControl(), lambda d, t, m: seen.append((d, t)))
    assert job["status"] == "done"
    assert len(seen) >= 3 and seen[-1][0] == seen[-1][1] > 0  # one update per progress event, then the end
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_cancel_reaches_the_engine_through_the_stream(addon, engine_env, clip, scene):
    from blender_addon import engine_ops, state as addon_state

    source = add_source(scene, clip)
    with ctx(scene):
        state = session_with_a_keyframe(addon, scene, clip, source)
        control = engine_ops.JobControl()
        control.cancel.set()  # as if Esc was pressed at once: sent on the stream's first event
        job = engine_ops.run_job(addon_state.client(), state.session_id, "track",
                                 {"objects": [state.objects[0].engine_id], "direction": "both"},
                                 control, lambda d, t, m: None)
    # cancelled before the last frame; on a loaded machine even before the job had counted its frames (total 0)
    assert job["status"] == "cancelled" and job["done"] < max(job["total"], 1), job
