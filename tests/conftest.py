"""Shared fixtures: a generated clip written through FFmpeg, the optional real clips folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLIPS = Path(os.environ.get("VTA_CLIPS", REPO.parent / "shared" / "clips"))


def pytest_collection_modifyitems(config, items):
    skip_clips = pytest.mark.skip(reason=f"real clips not found at {CLIPS}")
    for item in items:
        if "clips" in item.keywords and not CLIPS.is_dir():
            item.add_marker(skip_clips)


@pytest.fixture(scope="session")
def clips_dir() -> Path:
    if not CLIPS.is_dir():
        pytest.skip(f"real clips not found at {CLIPS}")
    return CLIPS


@pytest.fixture(scope="session")
def synthetic_clip():
    from engine.evaluation.synthetic import SyntheticClip
    return SyntheticClip(320, 180, 24)


@pytest.fixture(scope="session")
def synthetic_movie(tmp_path_factory, synthetic_clip) -> Path:
    """The synthetic clip as a real H.264 mp4 written through FFmpeg (PyAV)."""
    return synthetic_clip.write_movie(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture()
def isolated_home(tmp_path, monkeypatch) -> Path:
    """Keep caches and state out of the user's home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("VTA_STATE_DIR", str(home / "state"))
    return home


def engine_command(*args: str) -> list[str]:
    """Run the engine CLI with this interpreter (the engine venv)."""
    return [sys.executable, "-m", "engine.cli", *args]
