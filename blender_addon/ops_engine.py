"""Operators for the engine itself: connect (health and protocol check), start a local engine,
and the internal operator that puts a message in the status bar and the Info log."""

from __future__ import annotations

import atexit
import os
from urllib.parse import urlsplit

import bpy
from bpy.props import StringProperty

from . import connection, engine_ops, local_engine, worker
from .state import client, report, settings, status_of, user_dir


def on_connected(info: dict) -> None:
    connection.refresh_status()  # the status panel reads the exchange that just succeeded
    st = status_of()
    report("INFO", f"Connected to engine {st.engine_version} on {st.device}")


def on_connect_error(message: str) -> None:
    connection.refresh_status()
    report("ERROR", message, step="engine")


class VTA_OT_report(bpy.types.Operator):
    """Internal: put a message in the status bar"""
    bl_idname = "vta.report"
    bl_label = "Track Anything Message"
    bl_options = {"INTERNAL"}

    level: StringProperty(default="INFO")
    message: StringProperty()

    def execute(self, context):
        self.report({self.level if self.level in ("INFO", "WARNING", "ERROR") else "INFO"}, self.message)
        return {"FINISHED"}


class VTA_OT_connect(bpy.types.Operator):
    """Check the engine: version, backends and device"""
    bl_idname = "vta.connect"
    bl_label = "Connect"

    def execute(self, context):
        st = status_of(context)
        st.message, st.error = "Connecting…", ""
        cl = client(context)
        worker.submit(engine_ops.connect, cl, connection.expected_instance(cl.url), on_done=on_connected,
                      on_error=on_connect_error)
        return {"FINISHED"}


class VTA_OT_start_engine(bpy.types.Operator):
    """Start a local engine with the command from the add-on preferences (on a free port when the
    address's port is taken), then connect to that engine only"""
    bl_idname = "vta.start_engine"
    bl_label = "Start Local Engine"

    def execute(self, context):
        s = settings(context)
        log_path = os.path.join(user_dir("logs"), "engine.log")
        preferred = urlsplit(s["address"] if "://" in s["address"] else "http://" + s["address"]).port or 8765

        def start_and_wait():  # on the quick lane
            running = local_engine.start(s["command"], log_path, preferred, keep=s["keep"])
            cl = engine_ops.make_client(running["address"], s["token"], s["timeout"])
            return local_engine.wait_ready(cl, timeout=60.0)

        status_of(context).message = "Starting the engine…"
        worker.submit(start_and_wait, on_done=on_connected,
                      on_error=lambda m: on_connect_error(f"{m} (log: {log_path})"))
        return {"FINISHED"}


classes = (VTA_OT_report, VTA_OT_connect, VTA_OT_start_engine)
_register, _unregister = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register()
    atexit.register(local_engine.stop_at_exit)  # Blender quits: stop the engine it started


def unregister() -> None:
    atexit.unregister(local_engine.stop_at_exit)
    local_engine.stop(force=False)  # the add-on is disabled: same as quitting
    _unregister()
