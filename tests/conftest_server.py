"""Helpers for the server tests: a real engine process on a free loopback port, with HOME and the
state folder in a temp dir, and the add-on's standard-library client loaded from its file (the
add-on package itself imports bpy)."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_VENV_PY = REPO / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PY) if _VENV_PY.exists() else sys.executable


def load_client():
    if "vta_engine_client" in sys.modules:
        return sys.modules["vta_engine_client"]
    spec = importlib.util.spec_from_file_location("vta_engine_client", REPO / "blender_addon" / "engine_client.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["vta_engine_client"] = module
    spec.loader.exec_module(module)
    return module


def session_with_keyframe(client, movie, clip, name: str = "blob") -> tuple[dict, dict]:
    """(session, object) for `movie`, with the clip's exact frame-0 mask imported as a keyframe."""
    from engine.fileio import encode_png, mask_to_png_array

    session = client.open_session(str(movie))
    obj = client.add_object(session["id"], name)
    client.import_mask(session["id"], obj["id"], 0, encode_png(mask_to_png_array(clip.mask(0))))
    return session, obj


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EngineProcess:
    """`python -m engine.server` as a child process; restartable on the same state folder."""

    def __init__(self, base: Path, args: tuple[str, ...] = (), token: str | None = None,
                 roots: list[Path] | None = None) -> None:
        self.base = Path(base)
        self.home = self.base / "home"
        self.state = self.base / "state"
        self.home.mkdir(parents=True, exist_ok=True)
        self.args, self.token = list(args), token
        self.roots = roots
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.base / "engine.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [PYTHON, "-m", "engine.server", "--port", str(self.port), "--state-dir", str(self.state),
               "--log-level", "warning", *self.args]
        if self.token:
            cmd += ["--token", self.token]
        for root in self.roots or []:
            cmd += ["--root", str(root)]
        return cmd

    def env(self) -> dict:
        env = dict(os.environ, HOME=str(self.home), VTA_STATE_DIR=str(self.state), PYTHONUNBUFFERED="1")
        env.pop("VTA_TOKEN", None)
        return env

    def start(self, timeout: float = 60.0) -> "EngineProcess":
        handle = open(self.log, "ab")
        self.proc = subprocess.Popen(self.command(), cwd=REPO, env=self.env(), stdout=handle, stderr=subprocess.STDOUT)
        handle.close()
        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"engine exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                client.health()
                return self
            except load_client().EngineUnreachable:
                time.sleep(0.1)
        raise RuntimeError(f"engine did not start in {timeout}s:\n{self.log.read_text()}")

    def client(self, **kwargs):
        return load_client().EngineClient(self.url, token=self.token, **kwargs)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
