"""The panel never lies about the engine, errors are readable, and Start Local Engine only trusts
the engine it started. Real Blender, real engine processes on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPO, engine_command, free_port, start_engine_process, stop_process
from .test_workflow import add_source, ctx, scene, wait  # noqa: F401 - scene is a fixture

bpy = pytest.importorskip("bpy")


@pytest.fixture
def own_engine(workdir):
    """An engine of this test's own, to kill."""
    proc, address = start_engine_process(workdir, free_port(), name="own")
    yield proc, address
    if proc.poll() is None:
        stop_process(proc)


def test_status_follows_the_last_real_exchange(addon, own_engine, clip, scene, monkeypatch):
    from blender_addon import connection

    proc, address = own_engine
    monkeypatch.setenv("VTA_ENGINE_ADDRESS", address)
    st = bpy.context.window_manager.vta
    # the panel opening connects by itself: no Connect pressed
    connection.panel_shown()
    wait(addon)
    assert st.connected and st.engine_version, st.link_error
    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        assert scene.vta.session_id and st.connected

        stop_process(proc)  # the engine dies; nobody presses Connect
        # the health check that runs while the panel is shown notices
        monkeypatch.setattr(connection, "HEALTH_INTERVAL_S", 0.0)
        connection.panel_shown()
        connection.tick()
        wait(addon)
        assert not st.connected and "no engine answering" in st.link_error
        # and so does any failed request, e.g. a click
        monkeypatch.setattr(connection, "HEALTH_INTERVAL_S", 3600.0)
        st.connected = True  # as the old panel claimed
        scene.frame_set(source.frame_final_start)
        bpy.ops.vta.add_click(x=50, y=40)
        wait(addon)
        assert not st.connected and len(scene.vta.clicks) == 1


def test_connects_by_itself_when_a_file_is_opened(addon, engine_env, scene, tmp_path, monkeypatch):
    st = bpy.context.window_manager.vta
    monkeypatch.setenv("VTA_ENGINE_ADDRESS", f"http://127.0.0.1:{free_port()}")
    bpy.ops.vta.connect()
    wait(addon)
    assert not bpy.context.window_manager.vta.connected
    monkeypatch.setenv("VTA_ENGINE_ADDRESS", engine_env)
    path = str(tmp_path / "reopen.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)  # the load_post handler checks the engine
    wait(addon)
    st = bpy.context.window_manager.vta
    assert st.connected and st.engine_version, st.link_error


def test_errors_full_text_in_the_log_short_line_next_to_the_step(addon, engine_env, clip, scene, monkeypatch, capfd):
    """The report operator prints to stdout in a headless Blender: that is the Info log's text."""
    st = bpy.context.window_manager.vta
    add_source(scene, clip)
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("VTA_ENGINE_ADDRESS", dead)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
    full = st.last_report
    assert full.startswith(f"no engine answering at {dead}") and full.endswith("is 'vta-engine serve' running?")
    assert st.error_step == "clip" and len(st.error) <= 120 and st.error.endswith("…")
    assert full.startswith(st.error[:-1])
    assert f"Error: {full}" in capfd.readouterr().out  # the whole text, not the cut one


def test_start_local_engine_ignores_a_foreign_engine_on_its_port(addon, engine, workdir, monkeypatch):
    """Another engine answers on the configured port: Start Local Engine starts its own on a free
    port and connects to that one (its instance id checked), not to the foreign one."""
    from blender_addon import local_engine, state

    monkeypatch.setenv("VTA_ENGINE_ADDRESS", engine)  # the foreign engine has this port
    monkeypatch.setenv("VTA_ENGINE_COMMAND", " ".join(engine_command(workdir, "local")) + " --port 8765")
    st = bpy.context.window_manager.vta
    try:
        assert bpy.ops.vta.start_engine() == {"FINISHED"}
        wait(addon, timeout=120)
        running = local_engine.launched()
        assert running is not None, st.error
        assert running["address"] != engine and state.settings()["address"] == running["address"]
        assert st.connected, st.link_error
        with urllib.request.urlopen(running["address"] + "/v1/health", timeout=5) as r:
            assert json.load(r)["instance_id"] == running["instance_id"]
        with urllib.request.urlopen(engine + "/v1/health", timeout=5) as r:
            assert json.load(r)["instance_id"] != running["instance_id"]
        # a connect that reaches an engine with another id is refused
        from blender_addon import engine_client, engine_ops
        with pytest.raises(engine_client.ForeignEngine):
            engine_ops.make_client(engine).connect(instance_id=running["instance_id"])
    finally:
        assert local_engine.stop()


QUIT_SCRIPT = """
import sys, time
sys.path.insert(0, {repo!r})
import bpy, blender_addon
from blender_addon import local_engine, worker
blender_addon.register()
bpy.ops.vta.start_engine()
assert worker.wait_idle(120), "no engine"
print("PID", local_engine.launched()["pid"], flush=True)
"""


@pytest.mark.parametrize("keep", [False, True])
def test_the_started_engine_stops_when_blender_quits_unless_kept(workdir, keep, tmp_path):
    env = dict(os.environ, VTA_ENGINE_ADDRESS=f"http://127.0.0.1:{free_port()}",
               VTA_ENGINE_COMMAND=" ".join(engine_command(workdir, f"quit{keep}")), HOME=str(tmp_path),
               VTA_KEEP_ENGINE="1" if keep else "")
    run = subprocess.run([sys.executable, "-c", QUIT_SCRIPT.format(repo=str(REPO))], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=180)
    lines = [line for line in run.stdout.splitlines() if line.startswith("PID ")]
    assert lines, run.stdout[-2000:] + run.stderr[-2000:]
    pid = int(lines[0].split()[1])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and \
            "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]:
        time.sleep(0.2)
    alive = Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    try:
        assert alive == keep
    finally:
        if alive:
            os.kill(pid, 15)
