"""The workflow layer and what a new user tripped on, through the real CLI process on real files:
resume after kill -9, --out naming a file, a closed pipe, a busy port, the track log, stale
previews, the keyframe's confidence, object names in any script; plus the requests' own checks
and the one mask reader."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import EngineError
from engine.fileio import decode_mask, encode_png, read_jsonl, read_mask
from engine.evaluation.synthetic import SyntheticClip
from engine.workflow import DILATE_DEFAULT, DILATE_MAX, Clip, RemoveRequest, SegmentRequest, TrackRequest
from engine.session import Click

from .conftest import REPO, engine_command


def run_cli(*args, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(engine_command(*map(str, args)), cwd=REPO, capture_output=True, text=True, timeout=300, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.png")}


# ---- resume: the same command after kill -9 ------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_track_killed_with_sigkill_then_rerun_rewrites_no_finished_frame(tmp_path, sig):
    frames = 150
    clip = SyntheticClip(320, 180, frames, seed=11)
    movie = clip.write_movie(tmp_path / "clip.mp4")
    x, y = clip.click(0)
    out = tmp_path / "out"
    command = engine_command("track", str(movie), "--click", f"{x},{y}", "--object", "blob", "--out", str(out))
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    masks = out / "masks" / "blob"
    deadline = time.monotonic() + 120
    while len(list(masks.glob("*.png"))) < 15 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed; make the clip longer"
    else:
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[-1] == ("vta-engine: error: cancelled; finished frames are kept and the "
                                                 "next run resumes from them"), err
    logged = {int(r["frame"]) for r in read_jsonl(masks / "track.jsonl")}
    before = stamps(masks)
    finished = {n: s for n, s in before.items() if int(n[:5]) in logged}
    # 15 written when the signal went; all logged but at most the one in hand (its PNG may be there, its log line not)
    assert len(before) >= 15 and len(finished) < frames and len(before) - len(finished) <= 1

    run_cli(*command[3:])
    after = stamps(masks)
    assert sorted(after) == [f"{i:05d}.png" for i in range(frames)], "the rerun must finish the rest"
    assert {n: after[n] for n in finished} == finished, "a finished matte was rewritten"
    log = read_jsonl(masks / "track.jsonl")
    assert [r["frame"] for r in log] == list(range(frames)), "one current record per frame, in order"
    assert not list(masks.glob(".*.tmp")), "what the killed run left half-written is swept"


def test_same_clicks_again_redo_nothing(tmp_path, synthetic_movie, synthetic_clip):
    x, y = synthetic_clip.click(0)
    args = ("track", synthetic_movie, "--click", f"{x},{y}", "--end", 9, "--out", tmp_path, "--json")
    run_cli(*args)
    before = stamps(tmp_path / "masks" / "object1")
    done = json.loads(run_cli(*args).stdout.splitlines()[-1])
    assert done["written"] == 0 and stamps(tmp_path / "masks" / "object1") == before
    # without clicks: the keyframe already in --out is used
    done = json.loads(run_cli("track", synthetic_movie, "--end", 9, "--out", tmp_path, "--json").stdout.splitlines()[-1])
    assert done["written"] == 0 and stamps(tmp_path / "masks" / "object1") == before
    assert "give at least one --click" in run_cli("track", synthetic_movie, "--object", "new", "--out", tmp_path,
                                                  check=False).stderr


# ---- bad input a new user gave ----------------------------------------------------------------------
@pytest.mark.parametrize("command", ["segment", "track", "remove", "run"])
def test_out_naming_a_file_is_one_line_and_exit_2(tmp_path, synthetic_movie, command):
    target = tmp_path / "taken.txt"
    target.write_text("mine")
    args = [command, synthetic_movie, "--out", target]
    args += ["--masks", tmp_path] if command == "remove" else ["--click", "20,20"]
    proc = run_cli(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "is a file, not a folder" in lines[0], proc.stderr
    assert target.read_text() == "mine"


def test_info_into_a_closed_pipe_prints_no_traceback(synthetic_movie):
    shell = subprocess.run(f"{' '.join(map(str, engine_command('info', str(synthetic_movie))))} | head -1",
                           shell=True, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert len(shell.stdout.splitlines()) == 1 and shell.stderr == "", shell.stderr
    # a reader gone before the first write: the write itself fails (EPIPE)
    proc = subprocess.Popen(engine_command("info", str(synthetic_movie)), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err and err == "", err
    assert proc.returncode == 141


def test_serve_on_a_busy_port_says_so_before_serving(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, HOME=str(tmp_path), VTA_STATE_DIR=str(tmp_path / "state"))
        proc = run_cli("serve", "--port", port, check=False, env=env)
    assert proc.returncode != 0
    assert "serving on" not in proc.stdout, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "already in use" in lines[0], proc.stderr


def test_click_help_explains_negative_values():
    out = run_cli("track", "--help").stdout
    assert "--click=-1,5" in " ".join(out.split())


# ---- what the outputs say -----------------------------------------------------------------------------
def test_retrack_leaves_one_record_per_frame_and_no_stale_preview(tmp_path, synthetic_movie, synthetic_clip):
    x, y = synthetic_clip.click(0)
    run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--out", tmp_path, "--preview")
    assert (tmp_path / "preview.mp4").exists() and (tmp_path / "combined" / "00021.png").exists()
    x, y = synthetic_clip.click(12)
    run_cli("track", synthetic_movie, "--click", f"{x + 1},{y}", "--frame", 12, "--out", tmp_path)
    log = read_jsonl(tmp_path / "masks" / "object1" / "track.jsonl")
    assert [r["frame"] for r in log] == list(range(24))
    assert {tuple(map(tuple, filter(None, r["sig"]))) for r in log if r["frame"] > 12} != set()
    assert not (tmp_path / "preview.mp4").exists() and not (tmp_path / "combined").exists(), \
        "products made from the old mattes must go"
    x, y = synthetic_clip.click(6)
    run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--frame", 6, "--out", tmp_path, "--preview")
    combined = read_mask(tmp_path / "combined" / "00021.png")
    assert np.array_equal(combined, read_mask(tmp_path / "masks" / "object1" / "00021.png"))
    assert (tmp_path / "preview.mp4").exists()


def test_segment_confidence_printed_is_the_one_stored(tmp_path, synthetic_movie, synthetic_clip):
    x, y = synthetic_clip.click(5)
    event = json.loads(run_cli("segment", synthetic_movie, "--frame", 5, "--click", f"{x},{y}", "--out", tmp_path,
                               "--json").stdout.splitlines()[-1])
    session = json.loads((tmp_path / "session.json").read_text())
    stored = session["objects"][0]["keyframes"][0]["confidence"]
    record = read_jsonl(tmp_path / "masks" / "object1" / "track.jsonl")[0]
    assert event["confidence"] == pytest.approx(stored, abs=1e-4) == pytest.approx(record["confidence"], abs=1e-4)
    assert stored < 1.0  # the segmenter's own figure, not a placeholder
    human = run_cli("segment", synthetic_movie, "--frame", 5, "--click", f"{x},{y}", "--out", tmp_path).stdout
    assert f"(confidence {stored:.2f})" in human


def test_object_names_in_any_script_are_kept(tmp_path, synthetic_movie, synthetic_clip):
    x, y = synthetic_clip.click(0)
    names = ["犬", "café", "boom mic/left"]
    for name in names:
        run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--end", 3, "--object", name, "--out", tmp_path)
    session = json.loads((tmp_path / "session.json").read_text())
    assert [o["name"] for o in session["objects"]] == names
    folders = [o["folder"] for o in session["objects"]]
    assert folders[1] == "cafe" and folders[2] == "boom_mic_left" and folders[0].isascii()
    for folder in folders:
        assert sorted(p.name for p in (tmp_path / "masks" / folder).glob("*.png")) == [f"{i:05d}.png" for i in range(4)]
    run_cli("remove", synthetic_movie, "--masks", tmp_path, "--objects", "犬", "--end", 3, "--out", tmp_path)
    assert len(list((tmp_path / "clean").glob("*.png"))) == 4


# ---- requests: their own checks, pure ---------------------------------------------------------------------
def test_requests_check_themselves():
    assert RemoveRequest().dilate == DILATE_DEFAULT
    assert RemoveRequest(dilate=DILATE_MAX).dilate == DILATE_MAX
    for bad, words in [(dict(dilate=DILATE_MAX + 1), "dilation"), (dict(dilate=-1), "dilation"),
                       (dict(resize_ratio=0), "resize ratio"), (dict(resize_ratio=1.5), "resize ratio"),
                       (dict(start=5, end=2), "after"), (dict(movie="gif"), "movie")]:
        with pytest.raises(EngineError, match=words):
            RemoveRequest(**bad)
    with pytest.raises(EngineError, match="direction"):
        TrackRequest(direction="sideways")
    assert TrackRequest(objects=(2, 1, 2, 1)).objects == (2, 1)
    assert RemoveRequest(objects=(3, 3)).objects == (3,)
    clip = Clip(320, 180, 24)
    with pytest.raises(EngineError, match="outside the 320x180 frame"):
        SegmentRequest(0, (Click(320, 5),)).check(clip)
    with pytest.raises(EngineError, match="out of range"):
        SegmentRequest(24, (Click(3, 5),)).check(clip)
    SegmentRequest(0, (Click(3, 5, False),))  # a negative click alone can correct a tracked matte (segment checks)
    SegmentRequest(23, (Click(319.5, 179.5),)).check(clip)


# ---- one mask reader, one threshold ---------------------------------------------------------------
@pytest.mark.parametrize("dtype,low,high", [(np.uint8, 127, 128), (np.uint16, 32767, 32768)])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_one_mask_reader_threshold_at_half_scale(tmp_path, dtype, low, high, channels):
    gray = np.array([[0, low, high, np.iinfo(dtype).max]], dtype)
    image = gray if channels == 1 else np.repeat(gray[:, :, None], channels, axis=2)
    if channels == 4:
        image[:, :, 3] = np.iinfo(dtype).max  # opaque: the colour carries the matte
    expected = np.array([[False, False, True, True]])
    data = encode_png(image)
    (tmp_path / "m.png").write_bytes(data)
    assert np.array_equal(read_mask(tmp_path / "m.png"), expected)
    assert np.array_equal(decode_mask(data), expected)


def test_mask_reader_takes_a_cutouts_alpha_and_a_zero_one_mask():
    rgba = np.zeros((1, 3, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[0, :, 3] = [0, 100, 255]
    assert decode_mask(encode_png(rgba)).tolist() == [[False, False, True]]
    assert decode_mask(encode_png(np.array([[0, 1, 1]], np.uint8))).tolist() == [[False, True, True]]
    with pytest.raises(EngineError, match="not a readable"):
        decode_mask(b"not a png")


def test_remove_after_a_retrack_makes_the_clean_plate_again(tmp_path, synthetic_movie, synthetic_clip):
    x, y = synthetic_clip.click(0)
    run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--end", 7, "--out", tmp_path)
    first = json.loads(run_cli("remove", synthetic_movie, "--masks", tmp_path, "--out", tmp_path,
                               "--json").stdout.splitlines()[-1])
    again = json.loads(run_cli("remove", synthetic_movie, "--masks", tmp_path, "--out", tmp_path,
                               "--json").stdout.splitlines()[-1])
    assert (first["frames"], again["frames"], again["skipped"]) == (8, 0, 8)  # same mattes: resumed
    x, y = synthetic_clip.click(4)
    run_cli("track", synthetic_movie, "--click", f"{x + 2},{y}", "--frame", 4, "--end", 7, "--out", tmp_path)
    redone = json.loads(run_cli("remove", synthetic_movie, "--masks", tmp_path, "--out", tmp_path,
                                "--json").stdout.splitlines()[-1])
    assert redone["frames"] == 8, "a clean plate made from older mattes must not be kept"


# ---- settings: read in one place ------------------------------------------------------------------------
def test_settings_read_from_the_environment_once_into_one_object():
    from engine.config import Settings

    s = Settings.from_env({"VTA_DEBUG": "1", "VTA_DEVICE": " cpu ", "VTA_SAM2_WINDOW": "12", "VTA_TOKEN": "",
                           "VTA_STATE_DIR": "/tmp/vta-state"})
    assert (s.debug, s.device, s.sam2_window, s.token) == (True, "cpu", 12, None)
    assert s.default_state_dir() == Path("/tmp/vta-state")
    with pytest.raises(EngineError, match="VTA_SAM2_WINDOW"):
        Settings.from_env({"VTA_SAM2_WINDOW": "many"})


def test_no_engine_module_reads_the_environment_itself():
    """engine/config.py is the one reader (backends are listed apart: they move to it at merge)."""
    engine = REPO / "engine"
    readers = sorted(str(p.relative_to(REPO)) for p in engine.rglob("*.py")
                     if "backends" not in p.parts and p.name != "config.py"
                     and any(w in p.read_text() for w in ("environ.get(", "environ[", "getenv(")))
    assert readers == [], readers


# ---- corrections refine the tracked matte ---------------------------------------------------------
def _tracked_session(tmp_path, frames: int = 10):
    from engine import workflow
    from engine.backends import create
    from engine.session import Session
    from engine.video_io import open_video

    clip = SyntheticClip(320, 180, frames, seed=7)
    movie = clip.write_movie(tmp_path / "clip.mp4")
    video = open_video(movie)
    session = Session.create(tmp_path / "s", str(movie), len(video))
    obj = session.add_object("o")
    workflow.import_mask(session, video, obj.id, workflow.ImportMaskRequest(0, clip.mask(0)))
    workflow.track(session, video, create("tracker", "classical"), workflow.TrackRequest(direction="forward"))
    return clip, video, session, obj


def _overwrite_matte(session, obj, frame: int, mask: np.ndarray) -> None:
    from engine.fileio import atomic_write_png, mask_to_png_array
    atomic_write_png(session.result_path(obj, frame), mask_to_png_array(mask))


def test_corrective_click_on_a_tracked_frame_keeps_the_part_it_did_not_touch(tmp_path):
    """The tracked matte lost the object's left part; one click there brings it back and keeps the
    right part the click said nothing about (a click from nothing drops some of it)."""
    from engine import workflow
    from engine.backends import create
    from engine.evaluation.clicksim import next_click
    from engine.evaluation.metrics import jaccard

    clip, video, session, obj = _tracked_session(tmp_path)
    frame, truth = 8, clip.mask(8)
    xs = np.nonzero(truth)[1]
    damaged = session.result_mask(obj.id, frame) & (np.arange(truth.shape[1])[None, :] >= xs.mean() - 5)
    _overwrite_matte(session, obj, frame, damaged)
    x, y, positive = next_click(damaged, truth)
    assert positive
    result = workflow.segment(session, video, create("segmenter", "classical"), obj.id,
                              SegmentRequest(frame, (Click(x, y),)))
    kept = damaged & truth
    assert (result.mask & kept).sum() >= 0.98 * kept.sum(), "the part the click did not touch must stay"
    assert jaccard(result.mask, truth) > jaccard(damaged, truth) + 0.1
    assert session.objects[obj.id].keyframes[frame].source == "clicks"


def test_negative_click_on_a_tracked_frame_removes_a_leak_and_keeps_the_object(tmp_path):
    from engine import workflow
    from engine.backends import create
    from engine.evaluation.metrics import jaccard

    clip, video, session, obj = _tracked_session(tmp_path)
    frame, truth = 5, clip.mask(5)
    ys, xs = np.nonzero(truth)
    leak = np.zeros_like(truth)
    leak[ys.min():ys.max(), xs.max():xs.max() + 30] = True
    leak &= ~truth
    tracked = session.result_mask(obj.id, frame)
    _overwrite_matte(session, obj, frame, tracked | leak)
    cy, cx = int(np.mean(np.nonzero(leak)[0])), int(np.mean(np.nonzero(leak)[1]))
    result = workflow.segment(session, video, create("segmenter", "classical"), obj.id,
                              SegmentRequest(frame, (Click(cx, cy, positive=False),)))
    assert (result.mask & tracked & truth).sum() >= 0.98 * (tracked & truth).sum()
    assert (result.mask & leak).sum() < (leak).sum(), "the clicked leak must shrink"
    assert jaccard(result.mask, truth) >= jaccard(tracked | leak, truth)
    # without a tracked matte or a keyframe, a negative click alone has nothing to remove from
    session.result_path(obj, 9).unlink()
    with pytest.raises(EngineError, match="positive"):
        workflow.segment(session, video, create("segmenter", "classical"), obj.id,
                         SegmentRequest(9, (Click(cx, cy, positive=False),)))


def test_correct_matte_changes_only_near_the_clicks():
    from engine.correction import correct_matte

    matte = np.zeros((60, 60), bool)
    matte[10:30, 10:30] = True
    answer = np.zeros((60, 60), bool)
    answer[10:30, 25:59] = True  # the segmenter's answer: grew right (far), lost the left part
    out = correct_matte(matte, answer, [Click(35, 20)], reach=0.5)  # reach: 0.5 × 20 px = 10 px
    assert out[10:30, 10:30].all(), "nothing removed without a negative click"
    assert out[20, 35] and not out[20, 50], "added only near the click"
    cut = correct_matte(matte, np.zeros((60, 60), bool), [Click(12, 12, positive=False)], reach=0.5)
    assert not cut[12, 12] and cut[28, 28], "removed only near the negative click"
    assert np.array_equal(correct_matte(matte, answer, [Click(5, 50)]), matte)  # the click touches no change
