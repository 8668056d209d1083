"""The CLI contract, run as a real process on a real H.264 file: outputs, progress, and every bad
input giving one clear line, a non-zero exit, and leaving earlier outputs untouched."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from engine.fileio import atomic_write_png, read_mask
from engine.evaluation.metrics import jaccard

from .conftest import REPO, engine_command


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(engine_command(*map(str, args)), cwd=REPO, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, synthetic_movie, synthetic_clip):
    """An output folder holding a finished track and removal, as an artist would have."""
    out = tmp_path_factory.mktemp("out")
    x, y = synthetic_clip.click(0)
    run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--object", "blob", "--out", out)
    run_cli("remove", synthetic_movie, "--masks", out, "--out", out)
    return out


def test_info_reports_size_fps_count_and_backends(synthetic_movie):
    proc = run_cli("info", synthetic_movie, "--json")
    info = json.loads(proc.stdout)
    assert (info["width"], info["height"], info["frame_count"]) == (320, 180, 24)
    assert info["fps"] == pytest.approx(24.0)
    assert info["backends"]["tracker"]["auto"] == "classical" or info["backends"]["tracker"]["auto"]
    human = run_cli("info", synthetic_movie).stdout
    assert "320x180" in human and "24 frames" in human


def test_track_and_remove_write_numbered_outputs(tracked, synthetic_clip):
    masks = sorted((tracked / "masks" / "blob").glob("*.png"))
    assert [p.name for p in masks] == [f"{i:05d}.png" for i in range(24)]
    ious = [jaccard(read_mask(p), synthetic_clip.mask(i)) for i, p in enumerate(masks)]
    assert np.mean(ious) > 0.5
    clean = sorted((tracked / "clean").glob("*.png"))
    assert [p.name for p in clean] == [f"{i:05d}.png" for i in range(24)]
    assert not list(tracked.rglob("*.tmp")), "no temporary files may be left behind"


def test_segment_writes_one_mask(tmp_path, synthetic_movie, synthetic_clip):
    x, y = synthetic_clip.click(5)
    proc = run_cli("segment", synthetic_movie, "--frame", 5, "--click", f"{x},{y}", "--out", tmp_path, "--json")
    event = json.loads(proc.stdout.strip().splitlines()[-1])
    mask = read_mask(event["mask"])
    assert event["frame"] == 5 and Path(event["mask"]).name == "00005.png"
    assert mask[y, x]


def test_json_progress_lines(tmp_path, synthetic_movie, synthetic_clip):
    x, y = synthetic_clip.click(0)
    proc = run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--end", 5, "--out", tmp_path, "--json")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["event"] == "done"
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == 6  # frames 0..5


def test_second_keyframe_retracks_only_the_frames_it_governs(tmp_path, synthetic_movie, synthetic_clip):
    x, y = synthetic_clip.click(0)
    run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--out", tmp_path, "--direction", "forward")
    folder = tmp_path / "masks" / "object1"
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.png")}
    x, y = synthetic_clip.click(12)
    run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--frame", 12, "--out", tmp_path, "--direction", "forward")
    after = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.png")}
    changed = sorted(int(n[:5]) for n in after if after[n] != before.get(n))
    assert changed == list(range(12, 24)), changed


BAD_INPUTS = [
    ("missing video", lambda t, m: ["track", t / "nope.mp4", "--click", "5,5"], "does not exist"),
    ("corrupt video", lambda t, m: ["track", t / "corrupt.mp4", "--click", "5,5"], "cannot open video"),
    ("empty video", lambda t, m: ["track", t / "empty.mp4", "--click", "5,5"], "is empty"),
    ("empty folder", lambda t, m: ["info", t / "emptydir"], "no image files"),
    ("click outside", lambda t, m: ["track", m, "--click", "400,20"], "outside the 320x180 frame"),
    ("malformed click", lambda t, m: ["track", m, "--click", "ten,20"], "must be numbers"),
    ("frame out of range", lambda t, m: ["track", m, "--click", "5,5", "--frame", "99"], "out of range"),
    ("unknown object", lambda t, m: ["remove", m, "--masks", "{out}", "--objects", "nosuch"], "unknown object"),
    ("empty mask", lambda t, m: ["track", m, "--init-mask", t / "empty.png"], "is empty"),
    ("bad resize ratio", lambda t, m: ["remove", m, "--masks", "{out}", "--resize-ratio", "3"], "resize ratio"),
]


@pytest.mark.parametrize("name,make_args,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_one_line_error_and_earlier_outputs_survive(tmp_path, tracked, synthetic_movie, name, make_args, message):
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "emptydir").mkdir()
    atomic_write_png(tmp_path / "empty.png", np.zeros((180, 320), np.uint8))
    before = snapshot(tracked)
    args = [str(a).replace("{out}", str(tracked)) for a in make_args(tmp_path, synthetic_movie)]
    if args[0] in ("track", "remove"):
        args += ["--out", str(tracked)]
    proc = run_cli(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert snapshot(tracked) == before, "a failed command must not change earlier outputs"
