"""The session: one clip, a frame range, objects, keyframe annotations, and results on disk.

Everything an artist made is persisted the moment it is made (atomic JSON + PNG), so a crash or
kill -9 of the engine loses nothing. Layout of a session folder:

    session.json                               clip, range, objects, clicks, keyframe revisions
    keyframes/<object id>/<frame:05d>.png      the mask each keyframe stands for
    masks/<object name>/<frame:05d>.png        tracked matte per frame (the CLI's output layout)
    masks/<object name>/track.jsonl            per-frame confidence and the keyframes it came from
    clean/<frame:05d>.png                      clean plate
"""

from __future__ import annotations

import re
import shutil
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import EngineError, NotFound
from .fileio import atomic_write_json, atomic_write_png, mask_to_png_array, read_jsonl, read_mask

SESSION_FILE = "session.json"
_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def frame_name(frame: int) -> str:
    return f"{frame:05d}.png"


def safe_name(name: str) -> str:
    """An object name usable as a folder name on every OS."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("._")
    return cleaned[:64]


@dataclass
class Click:
    x: float
    y: float
    positive: bool = True


@dataclass
class Keyframe:
    frame: int
    rev: int  # session-wide revision when this keyframe's mask last changed
    clicks: list[Click] = field(default_factory=list)
    source: str = "clicks"  # "clicks" or "mask" (imported)


@dataclass
class TrackedObject:
    id: int
    name: str
    color: tuple[int, int, int]
    keyframes: dict[int, Keyframe] = field(default_factory=dict)


class Session:
    """Thread-safe; every mutating method persists before returning."""

    def __init__(self, root: Path, data: dict) -> None:
        self.root = Path(root)
        self.lock = threading.RLock()
        self.id: str = data["id"]
        self.video: str = data["video"]
        self.frame_count: int = int(data["frame_count"])
        self.start: int = int(data["start"])
        self.end: int = int(data["end"])
        self.rev: int = int(data.get("rev", 0))
        self.matte_bits: int = int(data.get("matte_bits", 8))
        self.objects: dict[int, TrackedObject] = {}
        for o in data.get("objects", []):
            obj = TrackedObject(int(o["id"]), o["name"], tuple(o["color"]))
            for k in o.get("keyframes", []):
                obj.keyframes[int(k["frame"])] = Keyframe(
                    int(k["frame"]), int(k["rev"]), [Click(**c) for c in k.get("clicks", [])], k.get("source", "clicks"))
            self.objects[obj.id] = obj

    # ---- creation and persistence -------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, video: str, frame_count: int, start: int | None = None,
               end: int | None = None, session_id: str | None = None) -> "Session":
        root = Path(root)
        if (root / SESSION_FILE).exists():
            raise EngineError(f"'{root}' already holds a session; load it instead")
        data = {"id": session_id or uuid.uuid4().hex[:12], "video": str(video), "frame_count": frame_count,
                "start": 0, "end": frame_count - 1}
        session = cls(root, data)
        session.set_range(start, end)
        return session

    @classmethod
    def load(cls, root: str | Path) -> "Session":
        import json

        path = Path(root) / SESSION_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"no session in '{root}'") from None
        except (OSError, ValueError) as exc:
            raise EngineError(f"session file '{path}' is unreadable: {exc}") from None
        return cls(Path(root), data)

    @classmethod
    def open_or_create(cls, root: str | Path, video: str, frame_count: int) -> "Session":
        """Reuse the session in `root` when it is for the same video, so earlier keyframes and results
        are kept; otherwise start one."""
        if (Path(root) / SESSION_FILE).exists():
            session = cls.load(root)
            if Path(session.video).resolve() == Path(video).resolve() and session.frame_count == frame_count:
                return session
            raise EngineError(f"'{root}' holds a session for another video ('{session.video}'); choose another --out")
        return cls.create(root, video, frame_count)

    def to_dict(self) -> dict:
        with self.lock:
            return {
                "id": self.id, "video": self.video, "frame_count": self.frame_count, "start": self.start,
                "end": self.end, "rev": self.rev, "matte_bits": self.matte_bits,
                "objects": [
                    {"id": o.id, "name": o.name, "color": list(o.color),
                     "keyframes": [asdict(k) for k in sorted(o.keyframes.values(), key=lambda k: k.frame)]}
                    for o in self.objects.values()
                ],
            }

    def save(self) -> None:
        with self.lock:
            atomic_write_json(self.root / SESSION_FILE, self.to_dict())

    # ---- range ----------------------------------------------------------------------------------
    def check_frame(self, frame: int) -> int:
        if not isinstance(frame, int) or not 0 <= frame < self.frame_count:
            raise EngineError(f"frame {frame} is out of range: the clip has frames 0..{self.frame_count - 1}")
        return frame

    def set_range(self, start: int | None, end: int | None) -> None:
        with self.lock:
            start = 0 if start is None else start
            end = self.frame_count - 1 if end is None else end
            self.check_frame(start)
            self.check_frame(end)
            if start > end:
                raise EngineError(f"track start {start} is after track end {end}")
            self.start, self.end = start, end
            self.save()

    # ---- objects --------------------------------------------------------------------------------
    def get_object(self, ref: int | str) -> TrackedObject:
        """An object by id, or by name."""
        with self.lock:
            if isinstance(ref, int) and ref in self.objects:
                return self.objects[ref]
            for obj in self.objects.values():
                if obj.name == ref or str(obj.id) == str(ref):
                    return obj
            known = ", ".join(f"{o.id}:{o.name}" for o in self.objects.values()) or "none"
            raise NotFound(f"unknown object '{ref}' (objects: {known})")

    def add_object(self, name: str | None = None, color: tuple[int, int, int] | None = None) -> TrackedObject:
        with self.lock:
            new_id = max(self.objects, default=0) + 1
            name = self._check_name(name or f"object{new_id}")
            color = tuple(int(c) for c in color) if color else _PALETTE[(new_id - 1) % len(_PALETTE)]
            if len(color) != 3 or not all(0 <= c <= 255 for c in color):
                raise EngineError("colour must be three integers 0..255")
            obj = TrackedObject(new_id, name, color)
            self.objects[new_id] = obj
            try:
                self.save()
            except BaseException:  # e.g. a full disk: no phantom object that is not on disk
                del self.objects[new_id]
                raise
            return obj

    def _check_name(self, name: str, ignore: int | None = None) -> str:
        folder = safe_name(name)
        if not folder:
            raise EngineError(f"object name '{name}' has no usable characters")
        for obj in self.objects.values():
            if obj.id != ignore and safe_name(obj.name) == folder:
                raise EngineError(f"an object named '{obj.name}' already exists")
        return name.strip()

    def rename_object(self, ref: int | str, name: str, color: tuple[int, int, int] | None = None) -> TrackedObject:
        with self.lock:
            obj = self.get_object(ref)
            name = self._check_name(name, ignore=obj.id)
            old_dir, new_dir = self.mask_dir(obj), self.root / "masks" / safe_name(name)
            if old_dir.exists() and old_dir != new_dir:
                old_dir.rename(new_dir)
            obj.name = name
            if color is not None:
                obj.color = tuple(int(c) for c in color)
            self.save()
            return obj

    def remove_object(self, ref: int | str) -> None:
        with self.lock:
            obj = self.get_object(ref)
            del self.objects[obj.id]
            self.save()
            shutil.rmtree(self.root / "keyframes" / str(obj.id), ignore_errors=True)
            shutil.rmtree(self.mask_dir(obj), ignore_errors=True)

    # ---- keyframes ------------------------------------------------------------------------------
    def keyframe_path(self, obj: TrackedObject, frame: int) -> Path:
        return self.root / "keyframes" / str(obj.id) / frame_name(frame)

    def set_keyframe(self, ref: int | str, frame: int, mask: np.ndarray, clicks: list[Click] | None = None,
                     source: str = "clicks") -> Keyframe:
        """Store the mask a keyframe stands for (from clicks or imported) and bump its revision, which
        marks exactly the frames this keyframe governs as stale."""
        with self.lock:
            obj = self.get_object(ref)
            self.check_frame(frame)
            mask = np.asarray(mask).astype(bool)
            if not mask.any():
                raise EngineError(f"the mask for '{obj.name}' on frame {frame} is empty")
            self.rev += 1
            atomic_write_png(self.keyframe_path(obj, frame), mask_to_png_array(mask))
            key = Keyframe(frame, self.rev, list(clicks or []), source)
            obj.keyframes[frame] = key
            self.save()
            return key

    def set_clicks(self, ref: int | str, frame: int, clicks: list[Click]) -> None:
        """Record clicks without a mask yet (keeps the artist's clicks even if segmentation fails)."""
        with self.lock:
            obj = self.get_object(ref)
            key = obj.keyframes.get(frame)
            if key is not None:
                key.clicks = list(clicks)
                self.save()

    def clicks(self, ref: int | str, frame: int) -> list[Click]:
        with self.lock:
            key = self.get_object(ref).keyframes.get(frame)
            return list(key.clicks) if key else []

    def remove_keyframe(self, ref: int | str, frame: int) -> None:
        with self.lock:
            obj = self.get_object(ref)
            if frame not in obj.keyframes:
                raise NotFound(f"'{obj.name}' has no keyframe on frame {frame}")
            del obj.keyframes[frame]
            self.rev += 1
            self.save()
            self.keyframe_path(obj, frame).unlink(missing_ok=True)

    def keyframe_mask(self, ref: int | str, frame: int) -> np.ndarray:
        obj = self.get_object(ref)
        if frame not in obj.keyframes:
            raise NotFound(f"'{obj.name}' has no keyframe on frame {frame}")
        return read_mask(self.keyframe_path(obj, frame))

    # ---- results --------------------------------------------------------------------------------
    def mask_dir(self, obj: TrackedObject) -> Path:
        return self.root / "masks" / safe_name(obj.name)

    def result_path(self, obj: TrackedObject, frame: int) -> Path:
        return self.mask_dir(obj) / frame_name(frame)

    def track_log_path(self, obj: TrackedObject) -> Path:
        return self.mask_dir(obj) / "track.jsonl"

    def track_records(self, ref: int | str) -> dict[int, dict]:
        """frame → the last record written for it (confidence, signature)."""
        obj = self.get_object(ref)
        records: dict[int, dict] = {}
        for rec in read_jsonl(self.track_log_path(obj)):
            records[int(rec["frame"])] = rec
        return records

    def confidence(self, ref: int | str) -> dict[int, float]:
        return {f: float(r["confidence"]) for f, r in self.track_records(ref).items()
                if self.result_path(self.get_object(ref), f).exists()}

    def result_mask(self, ref: int | str, frame: int) -> np.ndarray | None:
        path = self.result_path(self.get_object(ref), frame)
        return read_mask(path) if path.exists() else None

    def clean_dir(self) -> Path:
        return self.root / "clean"

    def summary(self) -> dict:
        """JSON-ready view for the API and the add-on."""
        data = self.to_dict()
        for o in data["objects"]:
            conf = self.confidence(o["id"])
            o["tracked_frames"] = len(conf)
        return data
