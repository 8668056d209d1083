"""kill -9 in the middle of a track job: the restarted engine restores the session with every click,
keeps every finished frame, reports the job as interrupted, and resuming it redoes nothing."""

from __future__ import annotations

import cv2

from engine.evaluation.synthetic import SyntheticClip
from tests.conftest_server import EngineProcess, session_with_keyframe

FRAMES = 240


def test_sigkill_mid_track_then_restart_and_resume(tmp_path):
    clip = SyntheticClip(320, 180, FRAMES, seed=5)
    engine = EngineProcess(tmp_path)
    movie = clip.write_movie(engine.home / "shot.mp4")
    engine.start()
    try:
        client = engine.client()
        s, blob = session_with_keyframe(client, movie, clip)
        other = client.add_object(s["id"], "other")
        x, y = clip.click(0)
        client.click(s["id"], other["id"], 0, x, y)
        client.click(s["id"], other["id"], 0, x + 3, y + 2)
        client.click(s["id"], other["id"], 0, 5, 5, positive=False)
        keyframes_before = client.keyframes(s["id"])
        job = client.track(s["id"], objects=[blob["id"]], direction="forward")
        finished = []
        for event in client.events(job["id"]):
            if event["event"] == "frame_done":
                finished.append(event["frame"])
                if len(finished) == 20:
                    engine.kill9()
                    break
    finally:
        if engine.proc.poll() is None:
            engine.kill9()

    masks = engine.state / "sessions" / s["id"] / "masks" / "blob"
    stamps = {f: (masks / f"{f:05d}.png").stat().st_mtime_ns for f in finished}
    engine.start()
    try:
        client = engine.client()
        restored = client.session(s["id"])
        assert [o["name"] for o in restored["objects"]] == ["blob", "other"]
        assert client.keyframes(s["id"]) == keyframes_before
        assert len(keyframes_before[1]["clicks"]) == 3
        state = client.job(job["id"])
        assert state["status"] == "interrupted" and "resume" in state["message"]
        for f in finished:  # every frame reported finished is on disk, complete and readable
            assert cv2.imread(str(masks / f"{f:05d}.png"), cv2.IMREAD_UNCHANGED).shape == (180, 320)
        on_disk = client.results(s["id"])["objects"][0]["frames"]
        assert set(finished) <= set(on_disk) and len(on_disk) < FRAMES
        client.resume(job["id"])
        redone = [e["frame"] for e in client.events(job["id"], since=state["last_event"]) if e["event"] == "frame_done"]
        final = client.job(job["id"])
        assert final["status"] == "done" and final["attempts"] == 2, final
        assert sorted(redone) == [f for f in range(FRAMES) if f not in on_disk]  # only the missing frames
        assert all((masks / f"{f:05d}.png").stat().st_mtime_ns == t for f, t in stamps.items())
        assert client.results(s["id"])["objects"][0]["frames"] == list(range(FRAMES))
    finally:
        engine.stop()


def test_ctrl_c_interrupts_the_job_and_exits_cleanly(tmp_path):
    clip = SyntheticClip(320, 180, 200, seed=6)
    engine = EngineProcess(tmp_path)
    movie = clip.write_movie(engine.home / "shot.mp4")
    engine.start()
    client = engine.client()
    s, obj = session_with_keyframe(client, movie, clip)
    job = client.track(s["id"], direction="forward")
    kinds = []
    for event in client.events(job["id"]):
        kinds.append(event["event"])
        if kinds.count("frame_done") == 5:
            engine.stop()  # SIGINT
            break
    assert engine.proc.returncode == 0, engine.log.read_text()
    assert "Traceback" not in engine.log.read_text()
    engine.start()
    try:
        assert engine.client().job(job["id"])["status"] == "interrupted"
    finally:
        engine.stop()
