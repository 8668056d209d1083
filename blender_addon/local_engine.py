"""The engine this add-on starts itself (Start Local Engine): launched with a per-launch instance
id that its /v1/health echoes, so the add-on connects only to that engine and never to another one
that happens to answer on the port; on a free port when the preferred one is taken; stopped when
Blender quits unless the artist chose to keep it. No bpy here (runs on worker threads and at exit).
"""

from __future__ import annotations

import os
import secrets
import shlex
import socket
import subprocess
import threading
import time

from . import engine_client

_lock = threading.Lock()
_launched: dict = {"proc": None, "address": "", "instance_id": "", "keep": False}


def launch_argv(command: str, port: int, instance_id: str) -> list[str]:
    """The start command with its port set to `port` (any --port given is replaced) and the
    instance id added. Pure; unit-tested."""
    argv, out, skip = shlex.split(command), [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--port", "--instance-id"):
            skip = True  # and its value
            continue
        if arg.startswith(("--port=", "--instance-id=")):
            continue
        out.append(arg)
    if not out:
        raise engine_client.EngineClientError("the engine start command is empty (add-on preferences)")
    return out + ["--port", str(port), "--instance-id", instance_id]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(preferred: int, host: str = "127.0.0.1") -> int:
    """`preferred` when nothing listens there, else a free port the system hands out."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def launched() -> dict | None:
    """{"address", "pid", "instance_id"} of the engine this add-on started, while it runs."""
    with _lock:
        proc = _launched["proc"]
        if proc is None or proc.poll() is not None:
            return None
        return {"address": _launched["address"], "pid": proc.pid, "instance_id": _launched["instance_id"]}


def start(command: str, log_path: str, preferred_port: int, keep: bool = False, env: dict | None = None) -> dict:
    """Start an engine (no shell), output to `log_path`; returns launched(). One at a time: an engine
    this add-on started and that still runs is returned as it is."""
    running = launched()
    if running is not None:
        return running
    instance_id = secrets.token_hex(8)
    port = pick_port(preferred_port)
    argv = launch_argv(command, port, instance_id)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
        except OSError as exc:
            raise engine_client.EngineClientError(f"could not run '{argv[0]}': {exc.strerror or exc}") from None
    with _lock:
        _launched.update(proc=proc, address=f"http://127.0.0.1:{port}", instance_id=instance_id, keep=keep)
    return {"address": _launched["address"], "pid": proc.pid, "instance_id": instance_id}


def wait_ready(client, timeout: float = 60.0) -> dict:
    """Wait until the launched engine answers with its own instance id; raises if it exits first
    or does not answer in time (the last error)."""
    deadline = time.monotonic() + timeout
    with _lock:
        proc, instance_id = _launched["proc"], _launched["instance_id"]
    while True:
        if proc is not None and proc.poll() is not None:
            raise engine_client.EngineClientError(
                f"the engine exited at once (code {proc.returncode}); see its log for why")
        try:
            return client.connect(instance_id=instance_id)
        except (engine_client.EngineUnreachable, engine_client.ForeignEngine):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def stop(force: bool = True) -> bool:
    """Stop the engine this add-on started (only that one); unless `force`, one the artist chose to
    keep running stays. Returns whether one was stopped."""
    with _lock:
        proc, keep = _launched["proc"], _launched["keep"]
        if proc is None or (keep and not force):
            return False
        _launched.update(proc=None, address="", instance_id="")
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return True
    return False


def stop_at_exit() -> None:
    """atexit: Blender is quitting."""
    stop(force=False)
