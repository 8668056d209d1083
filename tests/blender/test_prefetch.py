"""The frame under the playhead is prefetched in the engine (issue #20): its source frame, through a
moved, trimmed and slipped strip; once per resting frame, never while scrubbing, playing, during a
job or without a session. Real Blender (frame_set runs the frame_change_post handler, as a playhead
move does in the UI), real engine: its own answers tell which frames it was asked to prefetch."""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from .test_workflow import add_source, ctx, scene, wait  # noqa: F401 - scene is a fixture

bpy = pytest.importorskip("bpy")

# the source strip below: content from timeline 40 with 3 media frames slipped off its start,
# trimmed by 4 and 3, so timeline frames 44..57 show media frames 7..20 (frame t shows t - 37)
START, SLIP, TRIM_START, TRIM_END = 40, 3, 4, 3


@pytest.fixture
def movie(clip, workdir, request) -> str:
    """A copy of the clip under this test's name: the engine's segmenter cache is keyed by path, so
    no other test's clicks have filled it for these frames."""
    path = workdir / "clip" / f"{request.node.name}.mp4"
    shutil.copyfile(clip["movie"], path)
    return str(path)


@pytest.fixture
def sent(monkeypatch) -> list:
    """(frame, the engine's reply or None) of every prefetch the add-on sends, around the real call."""
    from blender_addon import engine_client

    calls = []
    real = engine_client.EngineClient.prefetch

    def recording(self, session_id, frame):
        calls.append([frame, None])
        calls[-1][1] = real(self, session_id, frame)
        return calls[-1][1]

    monkeypatch.setattr(engine_client.EngineClient, "prefetch", recording)
    return calls


def moved_trimmed_slipped(scene, clip, movie):
    source = add_source(scene, dict(clip, movie=movie), frame_start=31, trim_start=TRIM_START, trim_end=TRIM_END)
    source.animation_offset_start = SLIP
    source.frame_start = START
    assert (source.frame_final_start, source.frame_final_end) == (44, 58)
    return source


def open_session(addon, scene, playhead: int) -> str:
    scene.frame_set(playhead)
    with ctx(scene):
        assert bpy.ops.vta.get_video_info() == {"FINISHED"}
    wait(addon)
    assert scene.vta.session_id, bpy.context.window_manager.vta.error
    return scene.vta.session_id


def test_a_resting_playhead_prefetches_its_source_frame_through_a_moved_trimmed_slipped_strip(
        addon, engine_env, clip, scene, movie, sent):
    from blender_addon import engine_client

    moved_trimmed_slipped(scene, clip, movie)
    sid = open_session(addon, scene, playhead=50)  # the session opens under the playhead: frame 13
    scene.frame_set(45)
    wait(addon)
    assert [f for f, _ in sent] == [50 - 37, 45 - 37]
    # the engine queued both because the add-on asked (a fresh path: nothing cached before) ...
    assert all(reply == {"frame": f, "queued": True} for f, reply in sent), sent
    # ... and has them now: asked again, it queues nothing; a frame nobody asked for it does queue
    engine = engine_client.EngineClient(engine_env)
    assert not engine.prefetch(sid, 8)["queued"] and not engine.prefetch(sid, 13)["queued"]
    assert engine.prefetch(sid, 45 - START)["queued"]  # what forgetting the slip would have sent


def test_the_same_frame_is_sent_once_and_scrubbing_sends_only_where_it_rests(
        addon, engine_env, clip, scene, movie, sent, monkeypatch):
    from blender_addon import prefetch

    monkeypatch.setattr(prefetch, "SETTLE_S", 1.5)  # room for the scrub below on a busy machine
    moved_trimmed_slipped(scene, clip, movie)
    open_session(addon, scene, playhead=10)  # off the strip: nothing to prefetch
    assert sent == []
    scene.frame_set(50)
    scene.frame_set(50)
    wait(addon)
    assert [f for f, _ in sent] == [13]
    scene.frame_set(51)  # away and back before it settles: 13 was sent already
    time.sleep(0.1)
    scene.frame_set(50)
    wait(addon)
    assert [f for f, _ in sent] == [13]
    for frame in range(44, 52):  # a scrub, a frame every 40 ms: only the frame it stops on is sent
        scene.frame_set(frame)
        time.sleep(0.04)
    wait(addon)
    assert [f for f, _ in sent] == [13, 51 - 37]


def test_nothing_is_sent_without_a_session_off_the_strip_while_playing_or_during_a_job(
        addon, engine_env, clip, scene, movie, sent, monkeypatch):
    from blender_addon import prefetch, worker

    moved_trimmed_slipped(scene, clip, movie)
    scene.frame_set(50)  # no session yet
    wait(addon)
    assert sent == []
    open_session(addon, scene, playhead=60)  # past the strip's end
    assert sent == []

    monkeypatch.setattr(prefetch, "playback_running", lambda: True)
    for frame in (48, 49, 50):
        scene.frame_set(frame)
    wait(addon)
    assert sent == []
    prefetch.on_playback_end(scene)  # playback stopped on 50: that frame is looked at
    wait(addon)
    assert [f for f, _ in sent] == [13]
    monkeypatch.setattr(prefetch, "playback_running", lambda: False)

    release = threading.Event()
    worker.submit(release.wait, 30, lane="job")  # a Track job running in the add-on
    try:
        scene.frame_set(46)
        wait(addon, lane="prefetch")
        assert worker.busy("job") and [f for f, _ in sent] == [13]
    finally:
        release.set()
    wait(addon)
