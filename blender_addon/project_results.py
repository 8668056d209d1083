"""Results beside the .blend: the engine's finished frames mirrored into the project's results
folder (`//vta_results/<scene>_<strip>/masks/<object>/…`, `…/clean/…`), so the strips can refer to
them relative to the .blend and the project can be archived, moved and rendered elsewhere.

The engine writes where its session lives (its state folder, or a download cache for a remote
engine); it cannot be told to write elsewhere, so the add-on brings the files over after a job, on
the job's worker lane (no bpy here: the UI thread never waits on it). Each file is hard-linked when
the two folders share a file system (no second copy on disk; the engine replaces a file by rename,
never in place, so a link never changes under the project), else copied; always under a temporary
name, then renamed, so a strip never reads half a file. Unchanged files are skipped, so a re-track
that changed ten frames brings ten files.
"""

from __future__ import annotations

import os
import re
import shutil

from .mapping import result_file_name

MASKS, CLEAN = "masks", "clean"


def safe_name(text: str) -> str:
    """A folder name from a scene or strip name: letters, digits, `-`, `_` and `.` kept."""
    name = re.sub(r"[^\w.-]+", "_", text.strip()).strip("._")
    return name or "shot"


def shot_folder(root: str, scene_name: str, strip_name: str) -> str:
    return os.path.join(root, safe_name(f"{scene_name}_{strip_name}"))


def _same_file(src: os.stat_result, dst: os.stat_result) -> bool:
    if (src.st_dev, src.st_ino) == (dst.st_dev, dst.st_ino):
        return True
    return src.st_size == dst.st_size and src.st_mtime_ns == dst.st_mtime_ns


def _bring(src: str, dst: str) -> None:
    tmp = f"{dst}.vta-part"
    if os.path.lexists(tmp):
        os.remove(tmp)
    try:
        os.link(src, tmp)
    except OSError:  # another file system, or links not allowed: a copy (mtime kept, to compare)
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def mirror_sequence(src_dir: str, dst_dir: str, names: list[str]) -> int:
    """Make `dst_dir` hold the files of `names` that `src_dir` has, as they are there; a file of
    `names` that `src_dir` no longer has is removed from `dst_dir` too (the engine dropped that
    frame). Other files in `dst_dir` are left alone. Returns the number of files brought over."""
    os.makedirs(dst_dir, exist_ok=True)
    brought = 0
    for name in names:
        src, dst = os.path.join(src_dir, name), os.path.join(dst_dir, name)
        try:
            s = os.stat(src)
        except FileNotFoundError:
            if os.path.lexists(dst):
                os.remove(dst)
            continue
        try:
            if _same_file(s, os.stat(dst)):
                continue
        except FileNotFoundError:
            pass
        _bring(src, dst)
        brought += 1
    return brought


def mirror_results(results: dict, shot_dir: str, frame_count: int) -> dict:
    """`results` (engine_ops.collect_results) with every result folder mirrored into `shot_dir`
    and replaced by the mirror's path; `brought` counts the files that came over."""
    numbers = results.get("numbers")
    names = lambda pattern: [result_file_name(pattern, p, numbers) for p in range(frame_count)]  # noqa: E731
    out = dict(results, objects=[], brought=0)
    for obj in results.get("objects", []):
        obj = dict(obj)
        if obj.get("dir") and obj.get("pattern") and os.path.isdir(obj["dir"]):
            dst = os.path.join(shot_dir, MASKS, os.path.basename(os.path.normpath(obj["dir"])))
            out["brought"] += mirror_sequence(obj["dir"], dst, names(obj["pattern"]))
            obj["dir"] = dst
        out["objects"].append(obj)
    if results.get("clean_dir") and results.get("clean_pattern") and os.path.isdir(results["clean_dir"]):
        dst = os.path.join(shot_dir, CLEAN)
        out["brought"] += mirror_sequence(results["clean_dir"], dst, names(results["clean_pattern"]))
        out["clean_dir"] = dst
    return out


class FrameFollower:
    """Brings each finished frame into the project as the job reports it (`frame_done` events on
    the job lane), so the project holds what is done even if Blender or the engine stops mid-job;
    the mirror after the job then has little left to do. `results` is the engine's result
    locations before the job (engine_ops.result_locations). A failure here only stops the
    following; the mirror after the job reports it."""

    def __init__(self, results: dict, shot_dir: str) -> None:
        self.numbers = results.get("numbers")
        self.objects = {int(o["id"]): (o["dir"], o["pattern"], os.path.join(shot_dir, MASKS,
                                                                           os.path.basename(os.path.normpath(o["dir"]))))
                        for o in results.get("objects", []) if o.get("dir") and o.get("pattern")}
        self.clean = ((results["clean_dir"], results["clean_pattern"], os.path.join(shot_dir, CLEAN))
                      if results.get("clean_dir") and results.get("clean_pattern") else None)
        self.brought, self.failed = 0, ""

    def __call__(self, event: dict) -> None:
        if self.failed or event.get("event") != "frame_done" or "frame" not in event:
            return
        where = self.objects.get(int(event["object"])) if "object" in event else self.clean
        if where is None:
            return
        src, pattern, dst = where
        try:
            self.brought += mirror_sequence(src, dst, [result_file_name(pattern, int(event["frame"]), self.numbers)])
        except OSError as exc:
            self.failed = str(exc)
