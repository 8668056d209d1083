"""A shot for `vta-engine batch` (docs/BATCH.md, engine/batch/shots.schema.json, version 1): built
from what the artist set up in the sequencer, and merged into a shots file that may already hold
other shots. No bpy here (the operator in ops_export.py gathers plain values).

The file is the farm's, not ours: another shot is never changed, a shot of the same name is
replaced where it stands, the file's `defaults` are kept (they apply to every shot; where this
shot's options differ, the caller is told), and the new file replaces the old one by rename, so a
crash mid-write leaves the old file whole.
"""

from __future__ import annotations

import json
import os
import tempfile

VERSION = 1


class ShotsError(ValueError):
    """The shot or the shots file cannot be written as asked (one line, says why)."""


def file_path(path: str, base_dir: str) -> str:
    """A path as the shots file should name it: relative to the file's folder when inside it
    (the show's tree moves with the file), else absolute."""
    path, base_dir = os.path.abspath(path), os.path.abspath(base_dir)
    try:
        inside = os.path.commonpath([path, base_dir]) == base_dir
    except ValueError:  # another drive
        inside = False
    return os.path.relpath(path, base_dir) if inside else path


def shot_entry(name: str, video: str, out: str, start: int | None, end: int | None, objects: list[tuple[str, list]],
               remove: dict | None, matte: dict | None = None) -> dict:
    """One shot. `objects`: (name, clicks) with clicks as (clip position, x, y, positive) in source
    pixels; `remove`: None (no removal) or {dilate, resize_ratio}; `matte`: the shot's
    `matte_format` and `matte` finish (empty: the batch's defaults). Raises ShotsError for what the
    batch would refuse (two objects of one name, a frame with only negative clicks, a keyframe
    outside the range, no object with clicks)."""
    if not name.strip():
        raise ShotsError("the shot needs a name")
    entry: dict = {"name": name, "video": video, "out": out}
    if start is not None:
        entry["start"] = int(start)
    if end is not None:
        entry["end"] = int(end)
    shot_objects, seen = [], set()
    for obj_name, clicks in objects:
        if not clicks:
            continue
        if obj_name in seen:
            raise ShotsError(f"two objects are named '{obj_name}': rename one (the batch names folders by them)")
        seen.add(obj_name)
        for frame in sorted({c[0] for c in clicks}):
            if not any(c[3] for c in clicks if c[0] == frame):
                raise ShotsError(f"'{obj_name}' has only negative clicks on frame {frame}: add a positive one")
            if (start is not None and frame < start) or (end is not None and frame > end):
                raise ShotsError(f"'{obj_name}' has clicks on frame {frame}, outside the track range "
                                 f"{start}..{end}: widen the range or clear those clicks")
        shot_objects.append({"name": obj_name, "clicks": [
            {"frame": int(f), "x": round(float(x), 3), "y": round(float(y), 3), "positive": bool(p)}
            for f, x, y, p in sorted(clicks, key=lambda c: c[0])]})
    if not shot_objects:
        raise ShotsError("no object has clicks: click on an object first")
    entry["objects"] = shot_objects
    entry["remove"] = {k: remove[k] for k in ("dilate", "resize_ratio")} if remove else False
    entry.update({k: matte[k] for k in ("matte_format", "matte") if k in (matte or {})})
    return entry


def read(path: str) -> dict | None:
    """The shots file's document, None when there is no file yet; ShotsError when it is not one we
    may add to (never overwritten then)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ShotsError(f"cannot read '{path}': {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ShotsError(f"'{path}' is not a JSON shots file ({exc}); left as it is") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("shots", []), list):
        raise ShotsError(f"'{path}' is not a shots file (no 'shots' list); left as it is")
    if doc.get("version", VERSION) != VERSION:
        raise ShotsError(f"'{path}' is a version {doc.get('version')!r} shots file; this add-on writes version "
                         f"{VERSION}; left as it is")
    return doc


def merge(doc: dict | None, shot: dict, defaults: dict) -> tuple[dict, list[str]]:
    """The document with `shot` added (or replacing the shot of its name, in place), and notes for
    the artist. A new file gets `defaults`; an existing file keeps its own, and each of ours that
    differs is named in the notes. A shot of the same name keeps its `out` when `shot` has none."""
    notes: list[str] = []
    if doc is None:
        return {"version": VERSION, **({"defaults": dict(defaults)} if defaults else {}), "shots": [shot]}, notes
    doc = dict(doc, version=VERSION)
    shots = list(doc.get("shots", []))
    index = next((i for i, s in enumerate(shots) if isinstance(s, dict) and s.get("name") == shot["name"]), None)
    if index is not None and not shot.get("out"):
        shot = dict(shot, out=shots[index].get("out"))
    if not shot.get("out"):
        raise ShotsError("the shot needs an output folder")
    for i, other in enumerate(shots):
        if i != index and isinstance(other, dict) and other.get("out") == shot["out"]:
            raise ShotsError(f"shot '{other.get('name')}' already writes to '{shot['out']}': give this shot its own")
    if index is None:
        shots.append(shot)
    else:
        shots[index] = shot
    doc["shots"] = shots
    theirs = doc.get("defaults") or {}
    for key, value in defaults.items():
        if key in theirs and theirs[key] != value:
            notes.append(f"the file's default {key} '{theirs[key]}' applies (this shot used '{value}')")
        elif key not in theirs and "defaults" in doc:
            notes.append(f"the file has no default {key}: the batch uses its own (this shot used '{value}')")
    if "defaults" not in doc and defaults and len(shots) > 1:
        notes.append("the file has no defaults; the batch's own backends apply")
    return doc, notes


def write(path: str, doc: dict) -> None:
    """Write the document atomically: a temporary file in the same folder, flushed, then renamed
    over the old one."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".shots-", suffix=".json.part", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
