"""Export Shot for Batch: the active source strip's shot — clip, track range, objects and their
clicks (clip positions and source pixels, as the engine has them), the matte (Soft Edges,
Grow/Choke, Feather, Steady), removal and backend options —
into a shots file for `vta-engine batch` (docs/BATCH.md), so an artist prepares shots in the
sequencer and the farm runs them. The file is merged, never clobbered (shots_file.py)."""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, StringProperty

from . import engine_ops, matte_settings, project_results, shots_file
from .state import matte_finish, report, scene_of, source_range, source_strip


def backend_defaults(state) -> dict:
    """The options the shot was made with: the engine's backends (as it reported them on the last
    exchange) and the track direction. The device is left to the farm's machines."""
    info = engine_ops.link().get("info") or {}
    backends = info.get("backends") if isinstance(info.get("backends"), dict) else {}
    out = {kind: backends[kind] for kind in ("segmenter", "tracker", "inpainter")
           if isinstance(backends.get(kind), str) and backends[kind]}
    out["direction"] = state.direction
    return out


def shot_from_scene(scene, name: str, out: str, remove: bool, shots_dir: str,
                    file_defaults: dict | None = None) -> dict:
    """The shots-file entry of the scene's source strip (shots_file.shot_entry checks it); its matte
    as the Track panel sets it, also where the file's defaults set another (`file_defaults`)."""
    state = scene.vta
    strip = source_strip(state, scene)
    if strip is None or not state.video_path or not state.frame_count:
        raise shots_file.ShotsError("select a movie or image strip and press Get Video Info first")
    rng = source_range(state, strip)  # the Track button's own range: the farm tracks what Track would
    if rng is None:
        raise shots_file.ShotsError("the track range does not overlap the source strip")
    objects = [(o.name, [(c.frame, c.x, c.y, c.positive) for c in state.clicks if c.object_uid == o.uid])
               for o in state.objects]
    removal = {"dilate": int(state.dilation), "resize_ratio": round(float(state.resize_ratio), 4)} if remove else None
    return shots_file.shot_entry(name, shots_file.file_path(state.video_path, shots_dir),
                                 out and shots_file.file_path(os.path.join(shots_dir, out), shots_dir),
                                 rng[0], rng[1], objects, removal,
                                 matte_settings.shot_fields(matte_finish(state), file_defaults))


class VTA_OT_export_shot(bpy.types.Operator):
    """Write this strip's shot (clip, range, objects and clicks, removal and backend options) into a
    shots file for vta-engine batch; other shots in the file are kept"""
    bl_idname = "vta.export_shot"
    bl_label = "Export Shot for Batch"

    filepath: StringProperty(name="Shots file", subtype="FILE_PATH", default="")
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})
    shot_name: StringProperty(name="Shot name", description="The shot's name in the file (a shot of this name "
                                                             "is replaced)")
    out: StringProperty(name="Output folder", description="The shot's output folder, relative to the shots file "
                                                           "(empty: out/<shot name>, or the one the shot had)")
    remove: BoolProperty(name="Remove objects", default=True, description="Also make the clean plate")

    def invoke(self, context, event):
        scene = scene_of(context)
        state = scene.vta
        if not self.shot_name:
            self.shot_name = project_results.safe_name(f"{scene.name}_{state.strip_name}")
        if not self.filepath:
            self.filepath = bpy.path.abspath("//shots.json") if bpy.data.filepath else "shots.json"
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        scene = scene_of(context)
        path = bpy.path.abspath(self.filepath)
        if not path or os.path.isdir(path):
            self.report({"ERROR"}, "Pick a shots file (.json)")
            return {"CANCELLED"}
        if not path.lower().endswith(".json"):
            path += ".json"
        name = self.shot_name or project_results.safe_name(f"{scene.name}_{scene.vta.strip_name}")
        try:
            doc = shots_file.read(path)
            existing = any(isinstance(s, dict) and s.get("name") == name for s in (doc or {}).get("shots", []))
            out = self.out or ("" if existing else os.path.join("out", project_results.safe_name(name)))
            shot = shot_from_scene(scene, name, out, self.remove, os.path.dirname(os.path.abspath(path)),
                                   (doc or {}).get("defaults"))
            doc, notes = shots_file.merge(doc, shot, backend_defaults(scene.vta))
            shots_file.write(path, doc)
        except (shots_file.ShotsError, OSError) as exc:
            report("ERROR", f"Shot not exported: {exc}", step="results")
            return {"CANCELLED"}
        n = len(doc["shots"])
        report("WARNING" if notes else "INFO",
               f"Shot '{name}' written to {path} ({n} shot{'s' * (n != 1)} in the file)"
               + (": " + "; ".join(notes) if notes else ""), step="results")
        return {"FINISHED"}


classes = (VTA_OT_export_shot,)
register, unregister = bpy.utils.register_classes_factory(classes)
