"""The weak-frame flag: one line (engine/quality.py) that the track.jsonl records, the CLI and the
server's session view all take, never raised on a keyframe's own frame."""

from __future__ import annotations

import json

import numpy as np

from engine import workflow
from engine.backends import create
from engine.fileio import read_jsonl
from engine.quality import WEAK_BELOW, is_weak
from engine.session import Session
from engine.video_io import open_video


def test_is_weak_is_the_one_line():
    assert 0.0 < WEAK_BELOW < 1.0
    assert is_weak(WEAK_BELOW - 1e-6) and not is_weak(WEAK_BELOW)
    assert is_weak(0.0) and not is_weak(1.0)
    assert not is_weak(0.0, keyframe=True)  # the artist's own matte is never weak


def test_track_records_carry_the_flag_and_keyframes_are_never_weak(tmp_path, synthetic_movie, synthetic_clip):
    video = open_video(synthetic_movie)
    session = Session.create(tmp_path / "s", str(synthetic_movie), len(video))
    obj = session.add_object("o")
    # a keyframe the segmenter is unsure of (low confidence) is still not weak on its own frame
    session.set_keyframe(obj.id, 0, synthetic_clip.mask(0), [], source="mask", confidence=0.1)
    workflow.track(session, video, create("tracker", "classical"), workflow.TrackRequest(end=8, direction="forward"))
    records = read_jsonl(session.track_log_path(obj))
    assert [r["frame"] for r in records] == list(range(9))
    assert all(r["weak"] == is_weak(r["confidence"], r["frame"] == 0) for r in records), records
    assert records[0]["weak"] is False and records[0]["confidence"] < WEAK_BELOW
    assert not any(r["weak"] for r in records[1:]), "a clean synthetic track has no weak frame"


def test_cli_lists_the_weak_frames(tmp_path, synthetic_movie, synthetic_clip):
    from .test_workflow import run_cli

    x, y = synthetic_clip.click(0)
    out = json.loads(run_cli("track", synthetic_movie, "--click", f"{x},{y}", "--end", 6, "--out", tmp_path,
                             "--json").stdout.splitlines()[-1])
    records = read_jsonl(tmp_path / "masks" / "object1" / "track.jsonl")
    assert out["low_confidence"] == [r["frame"] for r in records if r["weak"]]
    assert np.isfinite([r["confidence"] for r in records]).all()
