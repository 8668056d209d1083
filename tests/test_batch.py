"""`vta-engine batch`: the shots file is checked whole before any work, each shot runs through the
CLI's own commands, sequentially or as Ray tasks with the same files as result, a killed Ray worker
is retried, and a failed shot does not stop the others. Real processes, real files, tiny clips."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.batch.commands import shot_steps
from engine.batch.run_local import frame_files
from engine.config import BATCH_CRASH_ENV as CRASH_ENV
from engine.batch.run_ray import wants_gpu
from engine.batch.shots import Click, Options, Shot, ShotObject, ShotsFileError, parse_shots
from engine.fileio import atomic_write_png, mask_to_png_array

from .conftest import REPO, engine_command

SCHEMA = REPO / "engine" / "batch" / "shots.schema.json"
SIZES = [(64, 48), (96, 64), (128, 72), (160, 90)]
FRAMES = 8


def run_batch(*args, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(engine_command("batch", *map(str, args)), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def outputs_hash(root: Path) -> dict[str, str]:
    """sha256 of every matte, keyframe mask and clean-plate frame under `root`."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in ("masks", "clean", "keyframes") for p in sorted(root.rglob(f"{sub}/**/*.png"))}


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    """Four generated clips (64x48 .. 160x90, 8 frames) and a ground-truth mask for one keyframe."""
    from engine.evaluation.synthetic import SyntheticClip

    folder = tmp_path_factory.mktemp("footage")
    clicks = {}
    for i, (w, h) in enumerate(SIZES):
        clip = SyntheticClip(w, h, FRAMES, seed=i + 1)
        clip.write_movie(folder / f"clip{i}.mp4")
        clicks[i] = {f: clip.click(f) for f in (0, 2, 5)}
        if i == 1:
            atomic_write_png(folder / "clip1_mask3.png", mask_to_png_array(clip.mask(3)))
    (folder / "clicks.json").write_text(json.dumps(clicks))
    return folder


def shots_document(footage: Path, prefix: str) -> dict:
    """Four shots covering: clicks on one frame, clicks on two frames plus an imported mask, a frame
    range with a negative click, remove with options, and a shot without removal."""
    c = {int(k): {int(f): xy for f, xy in v.items()} for k, v in json.loads((footage / "clicks.json").read_text()).items()}

    def click(i, f, positive=True):
        return {"frame": f, "x": c[i][f][0], "y": c[i][f][1], "positive": positive}
    return {"version": 1,
            "defaults": {"segmenter": "classical", "tracker": "classical", "inpainter": "classical"},
            "shots": [
                {"name": "sh010", "video": "clip0.mp4", "out": f"{prefix}/sh010",
                 "objects": [{"name": "blob", "clicks": [click(0, 0)]}], "remove": True},
                {"name": "sh020", "video": "clip1.mp4", "out": f"{prefix}/sh020",
                 "objects": [{"name": "blob", "clicks": [click(1, 0), click(1, 5)]},
                             {"name": "blob_mask", "init_mask": "clip1_mask3.png", "frame": 3}],
                 "remove": {"dilate": 4}},
                {"name": "sh030", "video": "clip2.mp4", "out": f"{prefix}/sh030", "start": 1, "end": 6,
                 "objects": [{"name": "blob", "clicks": [click(2, 2), {"frame": 2, "x": 1, "y": 1, "positive": False}]}],
                 "remove": False},
                {"name": "sh040", "video": "clip3.mp4", "out": f"{prefix}/sh040",
                 "objects": [{"name": "blob", "clicks": [click(3, 2)]}], "remove": True},
            ]}


def write_shots(footage: Path, prefix: str, document: dict | None = None) -> Path:
    path = footage / f"{prefix}.json"
    path.write_text(json.dumps(document or shots_document(footage, prefix), indent=1))
    return path


@pytest.fixture(scope="module")
def sequential(footage):
    """The four shots run one after another: (outputs root, output hashes)."""
    proc = run_batch(write_shots(footage, "seq"), "--json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["failed"] == []
    assert [s["shot"] for s in summary["shots"]] == ["sh010", "sh020", "sh030", "sh040"]
    assert any(e["event"] == "shot_progress" for e in events)
    root = footage / "seq"
    return root, outputs_hash(root)


# ---- pure mappings -----------------------------------------------------------------------------
def _shot(objects, remove=False, options=Options(), start=None, end=None) -> Shot:
    return Shot("s", Path("/v.mp4"), Path("/o"), start, end, tuple(objects), remove, options, 10)


def test_clicks_on_two_frames_give_one_track_per_keyframe_in_frame_order():
    obj = ShotObject("car", (Click(7, 10, 20), Click(2, 1.5, 2), Click(7, 3, 4, positive=False)))
    steps = shot_steps(_shot([obj], start=1, end=9))
    assert [s.label for s in steps] == ["track car@2", "track car@7"]
    first, second = steps[0].argv, steps[1].argv
    assert first[:4] == ["track", "/v.mp4", "--object", "car"]
    assert "--click=1.5,2,+" in first and first[first.index("--frame") + 1] == "2"
    # an earlier keyframe only sets itself: the frames between are tracked once, by the last step
    assert first[first.index("--start") + 1] == "2" and first[first.index("--end") + 1] == "2"
    assert [a for a in second if a.startswith("--click")] == ["--click=10,20,+", "--click=3,4,-"]
    assert second[second.index("--start") + 1] == "1" and second[second.index("--end") + 1] == "9"
    assert second[-2:] == ["--out", "/o"]


def test_init_mask_object_remove_options_and_preview_only_on_the_last_track():
    options = Options(tracker="classical", device="cuda:1", preview=True, dilate=3, resize_ratio=0.5,
                      movie="ffv1", matte_bits=16)
    objs = [ShotObject("a", init_mask=Path("/m.png"), frame=4), ShotObject("b", (Click(0, 1, 1),))]
    steps = shot_steps(_shot(objs, remove=True, options=options))
    assert [s.label for s in steps] == ["track a@4", "track b@0", "remove"]
    assert steps[0].argv[4:8] == ["--init-mask", "/m.png", "--frame", "4"]
    assert "--preview" not in steps[0].argv and "--preview" in steps[1].argv
    assert "--matte-bits" in steps[0].argv and "16" in steps[0].argv
    remove = steps[2].argv
    assert remove[:4] == ["remove", "/v.mp4", "--masks", "/o"]
    for flag, value in (("--dilate", "3"), ("--resize-ratio", "0.5"), ("--inpainter", "auto"),
                        ("--device", "cuda:1"), ("--movie", "ffv1")):
        assert remove[remove.index(flag) + 1] == value
    assert remove[-2:] == ["--out", "/o"] and "--start" not in remove


def test_gpu_is_asked_of_ray_only_for_cuda_with_a_possibly_learned_backend():
    assert wants_gpu(Options(device="cuda"))
    assert wants_gpu(Options(device="cuda:0", segmenter="classical", tracker="sam2", inpainter="classical"))
    assert not wants_gpu(Options(device="cuda", segmenter="classical", tracker="classical", inpainter="classical"))
    assert not wants_gpu(Options(device=None)) and not wants_gpu(Options(device="cpu"))


# ---- validation ----------------------------------------------------------------------------------
def _bad_document(footage: Path) -> dict:
    doc = shots_document(footage, "bad")
    shots = doc["shots"]
    del shots[0]["out"]                                    # missing field
    shots[1]["colour"] = "red"                             # unknown key
    shots[2]["video"] = "no_such_clip.mp4"                 # a video that does not exist
    shots[3]["objects"] = [{"name": "ghost"}]              # neither clicks nor mask
    shots.append({**shots[1], "out": "bad/other"})         # duplicate name ...
    shots[4].pop("colour")
    shots.append({**shots[3], "name": "sh050", "out": shots[1]["out"],   # ... and the same out twice
                  "objects": [{"name": "o", "clicks": [{"frame": 0, "x": "12", "y": 5}]}]})
    return doc


def test_malformed_shots_file_gets_one_message_per_error_and_runs_nothing(footage):
    proc = run_batch(write_shots(footage, "bad", _bad_document(footage)))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("vta-engine: error: ")]
    expected = [("sh010", "'out': missing"),
                ("sh020", "'colour': unknown key"),
                ("sh030", "'video'"),
                ("sh040", "'objects[0]': needs either 'clicks' or 'init_mask'"),
                ("shots[4]", "'name': 'sh020' is also the name of shots[1]"),
                ("sh050", "'objects[0].clicks[0].x': must be a number"),
                ("sh050", "'out'")]
    for shot, text in expected:
        assert [line for line in lines if f"shot '{shot}'" in line or f"({shot})" in line if text in line], \
            f"no message naming {shot} and {text!r} in:\n" + "\n".join(lines)
    assert "no_such_clip.mp4" in next(line for line in lines if "sh030" in line)
    assert lines[-1].endswith("no shot was run") and len(lines) == len(expected) + 1
    assert not (footage / "bad").exists(), "no work may start when the shots file has an error"


def test_clicks_outside_the_frame_and_keyframes_outside_the_range_are_reported(footage):
    doc = shots_document(footage, "range")
    doc["shots"][0]["objects"][0]["clicks"][0]["x"] = 64        # the clip is 64 wide
    doc["shots"][2]["start"] = 3                                # the keyframe is on frame 2
    doc["shots"][3]["end"] = FRAMES
    with pytest.raises(ShotsFileError) as info:
        parse_shots(doc, footage / "range.json")
    text = "\n".join(info.value.errors)
    assert len(info.value.errors) == 3, text
    assert "outside the 64x48 frame" in text and "outside the shot's frames 3..6" in text
    assert f"frame {FRAMES} is out of range" in text


def test_schema_accepts_the_example_and_rejects_the_bad_cases(footage):
    jsonschema = pytest.importorskip("jsonschema")
    from engine.backends import REGISTRY

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    docs_example = (REPO / "docs" / "BATCH.md").read_text().split("```json\n", 1)[1].split("```", 1)[0]
    assert not list(validator.iter_errors(json.loads(docs_example))), "the example in docs/BATCH.md"
    good = shots_document(footage, "x")
    assert not list(validator.iter_errors(good))
    assert parse_shots(good, footage / "x.json")
    options = schema["$defs"]["options"]["properties"]
    for kind, names in REGISTRY.items():
        assert options[kind]["enum"] == ["auto", *names], f"schema out of date for {kind}"
    bad = [lambda d: d["shots"][0].pop("video"),
           lambda d: d["shots"][0].update(colour="red"),
           lambda d: d["shots"][0]["objects"][0].pop("clicks"),
           lambda d: d["shots"][1]["objects"][1].pop("frame"),
           lambda d: d["shots"][0]["objects"][0]["clicks"][0].update(x="1"),
           lambda d: d["defaults"].update(tracker="magic"),
           lambda d: d.update(version=2),
           lambda d: d["shots"][0].update(remove={"dilate": -1})]
    for i, mutate in enumerate(bad):
        doc = shots_document(footage, "x")
        mutate(doc)
        assert list(validator.iter_errors(doc)), f"schema accepts bad case {i}"
        with pytest.raises(ShotsFileError):
            parse_shots(doc, footage / "x.json")


# ---- running -------------------------------------------------------------------------------------
def test_a_failed_shot_does_not_stop_the_others_and_fails_the_batch(footage, tmp_path):
    doc = shots_document(footage, str(tmp_path / "fail"))
    wrong_size = tmp_path / "wrong_size.png"   # exists, so the file is valid; the CLI refuses it
    atomic_write_png(wrong_size, mask_to_png_array(__import__("numpy").ones((10, 10), bool)))
    doc["shots"][1]["objects"][1]["init_mask"] = str(wrong_size)
    doc["shots"] = doc["shots"][:2]
    proc = run_batch(write_shots(footage, "fail", doc))
    assert proc.returncode == 2
    table = proc.stdout.splitlines()
    assert any(row.startswith("sh010") and " done" in row for row in table), proc.stdout
    failed = next(row for row in table if row.startswith("sh020"))
    assert "failed: track blob_mask@3:" in failed and "10x10" in failed
    assert "1 of 2 shots failed: sh020" in proc.stderr
    assert len(list((tmp_path / "fail" / "sh010" / "clean").glob("*.png"))) == FRAMES


def test_shot_selection_and_an_unwritable_out(footage, tmp_path):
    doc = shots_document(footage, str(tmp_path / "sel"))
    (tmp_path / "a_file").write_text("")
    doc["shots"][3]["out"] = str(tmp_path / "a_file" / "sh040")
    path = write_shots(footage, "sel", doc)
    proc = run_batch(path, "--shot", "sh404")
    assert proc.returncode == 2 and "no shot named 'sh404'" in proc.stderr
    proc = run_batch(path, "--shot", "sh040")
    assert proc.returncode == 2 and "is not writable" in proc.stderr
    assert not (tmp_path / "sel").exists()


def test_check_prints_each_shots_commands_and_runs_nothing(footage):
    proc = run_batch(write_shots(footage, "check"), "--check", "--json")
    assert proc.returncode == 0, proc.stderr
    plans = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(p["shot"], len(p["commands"])) for p in plans] == [("sh010", 2), ("sh020", 4), ("sh030", 1), ("sh040", 2)]
    assert plans[2]["frames"] == 6 and plans[2]["commands"][0][0] == "track"
    assert not (footage / "check").exists()


def test_a_task_that_does_not_see_the_drivers_out_fails_its_shot(footage, tmp_path):
    from engine.batch.run_ray import _shot_task
    from engine.cli import main as cli_main
    from engine.batch.storage import remove_probes, write_probes

    doc = shots_document(footage, str(tmp_path / "probe"))
    shot = parse_shots(doc, footage / "probe.json")[0]
    token = write_probes([shot])
    assert (shot.out / ".vta-batch-probe").read_text() == token
    remove_probes([shot])   # as a worker on a machine without the driver's storage would find it
    result = _shot_task(shot.to_dict(), token, cli_main, None)
    assert result["status"] == "failed" and "every worker must see the same (shared) storage" in result["message"]
    assert not (shot.out / "masks").exists()


def test_an_unreachable_ray_cluster_is_one_clear_error_and_leaves_nothing(footage, tmp_path):
    pytest.importorskip("ray")
    path = write_shots(footage, "unreachable", shots_document(footage, str(tmp_path / "unreachable")))
    proc = run_batch(path, "--ray", "127.0.0.1:1", timeout=120)
    assert proc.returncode == 2 and "cannot reach the Ray cluster at '127.0.0.1:1'" in proc.stderr
    assert not list((tmp_path / "unreachable").rglob("*.*")), "no probe or output may be left behind"


def test_missing_ray_is_one_clear_error(monkeypatch):
    from engine.batch.run_ray import import_ray
    from engine.errors import EngineError

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EngineError, match=r"pip install 'vse-track-anything\[ray\]'"):
        import_ray()


def test_running_the_same_batch_again_rewrites_nothing(footage, sequential):
    root, hashes = sequential
    before = frame_files(root / "sh010") | {f"2/{k}": v for k, v in frame_files(root / "sh020").items()}
    proc = run_batch(footage / "seq.json")
    assert proc.returncode == 0, proc.stderr
    after = frame_files(root / "sh010") | {f"2/{k}": v for k, v in frame_files(root / "sh020").items()}
    assert outputs_hash(root) == hashes
    assert after == before, "a finished frame was rewritten"


@pytest.mark.slow
def test_ray_with_two_workers_gives_the_same_files_as_sequential(footage, sequential):
    pytest.importorskip("ray")
    proc = run_batch(write_shots(footage, "ray"), "--ray", "auto", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "4 done, 0 failed" in proc.stdout
    assert outputs_hash(footage / "ray") == sequential[1]


@pytest.fixture(scope="module")
def killed_run(footage):
    """A Ray batch whose worker dies (os._exit) after 3 frames of sh040, on its first attempt only."""
    pytest.importorskip("ray")
    marker = footage / "killed.marker"
    proc = run_batch(write_shots(footage, "killed"), "--ray", "auto", "--workers", "2", "--json",
                     env={CRASH_ENV: f"sh040:3:{marker}"})
    return proc, marker


@pytest.mark.slow
def test_a_killed_ray_worker_is_retried_and_the_shot_finishes(footage, sequential, killed_run):
    proc, marker = killed_run
    assert marker.exists(), "the worker was never killed"
    assert len(json.loads(marker.read_text())) >= 3, "the kill came before three frames were finished"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    summary = events[-1]
    assert summary["failed"] == []
    assert {e["shot"] for e in events if e["event"] == "shot_progress"} == {"sh010", "sh020", "sh030", "sh040"}, \
        "progress from the Ray workers did not reach the driver"
    got, want = outputs_hash(footage / "killed"), sequential[1]
    assert {k: v for k, v in got.items() if not k.startswith("sh040/")} == \
           {k: v for k, v in want.items() if not k.startswith("sh040/")}, "a shot that was not killed differs"
    assert sorted(k for k in got if k.startswith("sh040/")) == sorted(k for k in want if k.startswith("sh040/"))
    assert not list((footage / "killed").rglob("*.tmp")), "the killed attempt left a partial file"


@pytest.mark.slow
def test_the_retry_after_a_killed_worker_rewrites_no_finished_frame(footage, sequential, killed_run):
    proc, marker = killed_run
    finished = json.loads(marker.read_text())
    now = frame_files(footage / "killed" / "sh040")
    assert finished and {k: now.get(k) for k in finished} == finished, "the retry rewrote a finished frame"
    got, want = outputs_hash(footage / "killed"), sequential[1]
    assert got.keys() == want.keys()
    # the frames after the resume point come from a tracker started on the last finished matte: the
    # same files as an uninterrupted run when the kill came after frame 3; when the writer had
    # finished a 4th, mattes within a few pixels (IoU 0.98-1.00) and plates within 0.03 gray levels
    for name in (k for k in want if got[k] != want[k]):
        assert name.startswith("sh040/"), f"{name}: a shot that was not killed differs"
        a, b = (cv2.imread(str(root / name), cv2.IMREAD_UNCHANGED).astype(float)
                for root in (sequential[0], footage / "killed"))
        if "/masks/" in name:
            assert ((a > 127) & (b > 127)).sum() >= 0.95 * ((a > 127) | (b > 127)).sum(), name
        else:
            assert np.abs(a - b).mean() <= 1.0, name
