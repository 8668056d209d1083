"""VSE Track Anything: click an object in the sequencer preview, track it through the shot, fix it
with clicks on later frames, remove it for a clean plate. Heavy work runs in a separate engine
process (engine/); this add-on is the Blender side, standard library + numpy only.

Modules, one concern each: compat (API renames), mapping (pure frame/pixel maps), props (saved and
transient state), preferences, engine_client (the only HTTP code), engine_ops (engine conversations
on worker threads), worker (threads → main thread via timers), strips (result strips, markers, mask
modifier), matte_settings (the matte finish sent with a Track and written into a shot, pure),
overlay (gpu drawing in the preview), local_engine (the engine started from Blender),
connection (status from the last real exchange, health checks), prefetch (the frame under the
playhead prefetched in the engine), text (panel words, pure), state (the one access point to scene
state, status, preferences and the client), ops_engine / ops_clip / ops_objects / ops_clicks / ops_jobs /
ops_results / ops_export (the operators, by concern), project_results (results mirrored beside the
.blend), shots_file (a shot for vta-engine batch), tool (preview click tool), gui (panels).
"""

bl_info = {
    "name": "VSE Track Anything",
    "author": "VSE Track Anything contributors",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Sequencer > Sidebar > Track Anything",
    "description": "Click-to-matte tracking and clean-plate removal for the Video Sequence Editor",
    "category": "Sequencer",
}

if "bpy" in locals():  # script reload (F3 > Reload Scripts)
    import importlib

    # dependencies before their users (tests/test_addon_imports.py keeps the graph acyclic)
    for _name in ("compat", "mapping", "text", "matte_settings", "engine_client", "engine_ops", "local_engine",
                  "worker", "strips", "overlay", "preferences", "project_results", "shots_file", "state", "prefetch",
                  "ops_clicks", "ops_objects", "ops_results", "connection", "ops_engine", "ops_clip", "ops_jobs",
                  "ops_export", "props", "tool", "gui"):
        if _name in locals():
            importlib.reload(locals()[_name])

import bpy  # noqa: E402

from . import (compat, connection, engine_client, engine_ops, gui, local_engine, mapping,  # noqa: E402,F401
               matte_settings, ops_clicks, ops_clip, ops_engine, ops_export, ops_jobs, ops_objects, ops_results, overlay,
               preferences, prefetch, project_results, props, shots_file, state, strips, text, tool, worker)

# registration order: data first, then what uses it; unregistered in reverse
_modules = (props, preferences, ops_engine, ops_clip, ops_objects, ops_clicks, ops_jobs, ops_results, ops_export, gui,
            tool, overlay, worker, prefetch, connection)


def register() -> None:
    for module in _modules:
        module.register()


def unregister() -> None:
    ops_jobs.cancel_job()
    for module in reversed(_modules):
        module.unregister()
