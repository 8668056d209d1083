"""Fixtures for add-on tests in real Blender (bpy 5.0.1 in .venv-blender), against a real engine
process started from the engine venv (.venv) on a free loopback port, with HOME and the engine's
state in a temporary folder. Skipped cleanly when bpy or the engine venv is missing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE_PY = Path(os.environ.get("VTA_ENGINE_PYTHON", REPO / ".venv" / "bin" / "python"))
CLIP_FRAMES = 24

try:
    import bpy  # noqa: F401
except ImportError:  # the main venv: these tests run in .venv-blender (tools/setup_blender_env.sh)
    bpy = None
    collect_ignore_glob = ["test_*.py"]

sys.path.insert(0, str(REPO))  # import blender_addon as a package


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("vta_blender")


@pytest.fixture(scope="session")
def clip(workdir) -> dict:
    """A generated 24-frame movie with exact ground-truth masks and backgrounds, written by the
    engine venv (the bpy venv has no OpenCV/PyAV)."""
    out = workdir / "clip"
    script = f"""
import json
from pathlib import Path
from engine.evaluation.synthetic import SyntheticClip
from engine.fileio import atomic_write_png
out = Path({str(out)!r})
c = SyntheticClip(frames={CLIP_FRAMES})
c.write_movie(out / "clip.mp4")
c.write_frames(out / "frames", out / "gt")
for i in range(c.frames):
    atomic_write_png(out / "bg" / f"{{i:05d}}.png", c.background(i))
json.dump({{"clicks": [c.click(i) for i in range(c.frames)], "width": c.width, "height": c.height,
           "frames": c.frames}}, open(out / "clip.json", "w"))
"""
    subprocess.run([str(ENGINE_PY), "-c", script], cwd=REPO, check=True, timeout=120)
    info = json.loads((out / "clip.json").read_text())
    info.update(movie=str(out / "clip.mp4"), gt=str(out / "gt"), bg=str(out / "bg"), frames_dir=str(out / "frames"))
    return info


def engine_command(workdir: Path, name: str = "engine") -> list[str]:
    """argv of an engine server reading clips under `workdir`, its state in its own folder; no port."""
    return [str(ENGINE_PY), "-m", "engine.server", "--root", str(workdir), "--state-dir",
            str(workdir / f"state-{name}"), "--log-level", "warning"]


def start_engine_process(workdir: Path, port: int, name: str = "engine", extra: tuple = ()):
    """A real engine server process on `port`; returns (process, address) once it answers."""
    if not ENGINE_PY.exists():
        pytest.skip(f"engine venv python not found at {ENGINE_PY}")
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ, HOME=str(home), PYTHONUNBUFFERED="1")
    env.pop("VTA_TOKEN", None)
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(engine_command(workdir, name) + ["--port", str(port), *extra], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(address + "/v1/health", timeout=2) as r:
                if r.status == 200:
                    return proc, address
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"engine did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)


def stop_process(proc) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def engine(workdir):
    """A real engine server process; yields its address."""
    proc, address = start_engine_process(workdir, free_port())
    yield address
    stop_process(proc)


@pytest.fixture(scope="session")
def addon():
    """The add-on registered from the repository (as package `blender_addon`)."""
    import blender_addon

    blender_addon.register()
    yield blender_addon
    blender_addon.unregister()


@pytest.fixture
def engine_env(engine, monkeypatch):
    monkeypatch.setenv("VTA_ENGINE_ADDRESS", engine)
    monkeypatch.setenv("VTA_ENGINE_TIMEOUT", "20")
    return engine


def load_mask(path) -> "numpy.ndarray":
    from blender_addon import overlay

    mask = overlay.load_png_mask(str(path))
    assert mask is not None, f"cannot read {path}"
    return mask


def iou(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
