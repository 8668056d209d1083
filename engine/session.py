"""The session: one clip, a frame range, objects, keyframe annotations, and results on disk.

Everything an artist made is persisted the moment it is made (atomic JSON + PNG), so a crash or
kill -9 of the engine loses nothing. Every path of a session folder is built here, by `Layout`,
and nowhere else (engine/layout.py; docs/OUTPUTS.md describes the files):

    session.json                               clip, range, numbering, objects (name → folder), keyframes
    keyframes/<object id>/<frame:05d>.png      the mask each keyframe stands for (by clip position)
    masks/<object folder>/<folder>.<number>.png  tracked matte per frame (`<frame:05d>.png` for a
                                               movie without --start-number)
    masks/<object folder>/track.jsonl          per-frame confidence and the keyframes it came from
    clean/plate.<number>.<ext>, clean/clean.jsonl  clean plate and what made each frame
    combined/, layers/, preview.mp4            union of the mattes, multi-layer EXRs, overlay movie
    .work/<object id>/<anchors>/               a blended segment's forward pass while it runs

Frames are indexed by clip position everywhere inside; only output file names carry numbers.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import EngineError, NotFound
from .fileio import (MATTE_FORMATS, atomic_write_bytes, atomic_write_json, encode_mask_png, read_jsonl,
                     read_mask)
from .layout import (FRAME_PATTERN, SESSION_FILE, Layout, check_folder, folder_slug,  # noqa: F401  (re-exported)
                     frame_name, legacy_folder, object_folder)
from .matte import MatteParams
from .media.numbering import Numbering

_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]
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
    confidence: float = 1.0  # the segmenter's, for keyframes from clicks; 1.0 for imported masks


@dataclass
class TrackedObject:
    id: int
    name: str  # as the user typed it
    color: tuple[int, int, int]
    folder: str  # its mattes' folder under masks/, unique in the session
    keyframes: dict[int, Keyframe] = field(default_factory=dict)


class Session:
    """Thread-safe; every mutating method persists before returning."""

    def __init__(self, root: Path, data: dict) -> None:
        self.root = Path(root)
        #: the numbers output files carry (None: clip positions, a movie without --start-number)
        self.numbering: Numbering | None = Numbering.from_json(data.get("numbering"))
        self.paths = Layout(self.root, self.numbering)
        self.lock = threading.RLock()
        self._keyframe_locks = [threading.RLock() for _ in range(32)]
        self.id: str = data["id"]
        self.video: str = data["video"]
        self.frame_count: int = int(data["frame_count"])
        self.start: int = int(data["start"])
        self.end: int = int(data["end"])
        self.rev: int = int(data.get("rev", 0))
        self.matte_bits: int = int(data.get("matte_bits", 8))
        #: "png8", "png16" or "exr" (half float, channels Y and A); older sessions only said matte_bits
        self.matte_format: str = data.get("matte_format") or ("png16" if self.matte_bits == 16 else "png8")
        self.exr_compression: str = data.get("exr_compression") or "zip"  # of EXR mattes
        #: the matte finish's settings that differ from engine.matte.MatteParams' defaults
        self.matte_options: dict = dict(data.get("matte") or {})
        self.objects: dict[int, TrackedObject] = {}
        for o in data.get("objects", []):
            obj = TrackedObject(int(o["id"]), o["name"], tuple(o["color"]), o.get("folder") or legacy_folder(o["name"]))
            for k in o.get("keyframes", []):
                obj.keyframes[int(k["frame"])] = Keyframe(
                    int(k["frame"]), int(k["rev"]), [Click(**c) for c in k.get("clicks", [])], k.get("source", "clicks"),
                    float(k.get("confidence", 1.0)))
            self.objects[obj.id] = obj

    # ---- creation and persistence -------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, video: str, frame_count: int, start: int | None = None,
               end: int | None = None, session_id: str | None = None, numbering: Numbering | None = None) -> "Session":
        root = check_folder(root, "session folder")
        if (root / SESSION_FILE).exists():
            raise EngineError(f"'{root}' already holds a session; load it instead")
        data = {"id": session_id or uuid.uuid4().hex[:12], "video": str(video), "frame_count": frame_count,
                "start": 0, "end": frame_count - 1, "numbering": numbering.to_json() if numbering else None}
        session = cls(root, data)
        session.set_range(start, end)
        return session

    @classmethod
    def load(cls, root: str | Path) -> "Session":
        path = Layout(root).session_file
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"no session in '{root}'") from None
        except (OSError, ValueError) as exc:
            raise EngineError(f"session file '{path}' is unreadable: {exc}") from None
        return cls(Path(root), data)

    @classmethod
    def open_or_create(cls, root: str | Path, video: str, frame_count: int,
                       numbering: Numbering | None = None, strict: bool = False) -> "Session":
        """Reuse the session in `root` when it is for the same video, so earlier keyframes and results
        are kept; otherwise start one. A session without results takes the numbering asked for;
        one with results keeps its file names (a session made before outputs carried numbers keeps
        `00000.png`), and with `strict` (an explicit --start-number) another numbering is refused."""
        root = check_folder(root)
        if Layout(root).session_file.exists():
            session = cls.load(root)
            if Path(session.video).resolve() != Path(video).resolve() or session.frame_count != frame_count:
                raise EngineError(f"'{root}' holds a session for another video ('{session.video}'); choose another --out")
            if session.numbering != numbering:
                if session.has_results() and not strict:
                    return session
                if session.has_results():
                    first = session.paths.mask_pattern("<object>")
                    raise EngineError(f"'{root}' holds results named {first}; these outputs would be numbered "
                                      "otherwise (another --start-number?): choose another --out")
                session.numbering, session.paths = numbering, Layout(session.root, numbering)
                session.save()
            return session
        return cls.create(root, video, frame_count, numbering=numbering)

    def has_results(self) -> bool:
        return any(self.paths.scan(self.mask_dir(o)) for o in self.objects.values()) or \
            bool(self.paths.scan(self.paths.clean_dir))

    def to_dict(self) -> dict:
        with self.lock:
            return {
                "id": self.id, "video": self.video, "frame_count": self.frame_count, "start": self.start,
                "end": self.end, "rev": self.rev, "matte_bits": self.matte_bits, "matte_format": self.matte_format,
                "exr_compression": self.exr_compression, "matte": dict(self.matte_options),
                "numbering": self.numbering.to_json() if self.numbering else None,
                "objects": [
                    {"id": o.id, "name": o.name, "color": list(o.color), "folder": o.folder,
                     "keyframes": [asdict(k) for k in sorted(o.keyframes.values(), key=lambda k: k.frame)]}
                    for o in self.objects.values()
                ],
            }

    def save(self) -> None:
        with self.lock:
            atomic_write_json(self.paths.session_file, self.to_dict())

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

    # ---- how mattes are written -------------------------------------------------------------------
    def matte_params(self) -> MatteParams:
        return MatteParams.from_options("matte", self.matte_options)

    def set_matte(self, matte_format: str | None = None, options: dict | None = None) -> None:
        """Change the matte format and/or finish (options replace the stored ones; None keeps them).
        Checked first, saved before it takes effect; frames written otherwise are redone by the next
        track (their signature names the finish: engine/tracking.py)."""
        if matte_format is not None and matte_format not in MATTE_FORMATS:
            raise EngineError(f"matte format must be one of {', '.join(MATTE_FORMATS)}, not '{matte_format}'")
        with self.lock:
            fmt = matte_format or self.matte_format
            opts = self.matte_options if options is None else MatteParams.from_options("matte", options).changed()
            if fmt == self.matte_format and opts == self.matte_options:
                return
            data = {**self.to_dict(), "matte_format": fmt, "matte_bits": 16 if fmt == "png16" else 8, "matte": opts}
            atomic_write_json(self.paths.session_file, data)
            self.matte_format, self.matte_bits, self.matte_options = fmt, data["matte_bits"], opts

    # ---- objects --------------------------------------------------------------------------------
    def get_object(self, ref: int | str, by_name: bool = False) -> TrackedObject:
        """An object by id (an int, or its decimal string as in a URL), or by its exact name when
        `by_name` is given: never a guess between the two."""
        with self.lock:
            if by_name:
                for obj in self.objects.values():
                    if obj.name == ref:
                        return obj
            elif isinstance(ref, int) or (isinstance(ref, str) and ref.isdecimal() and ref.isascii()):
                obj = self.objects.get(int(ref))
                if obj is not None:
                    return obj
            known = ", ".join(f"{o.id}:{o.name}" for o in self.objects.values()) or "none"
            what = "name" if by_name else "id"
            raise NotFound(f"unknown object {what} '{ref}' (objects: {known})")

    def find_object(self, name: str) -> TrackedObject | None:
        try:
            return self.get_object(name.strip(), by_name=True)
        except NotFound:
            return None

    def add_object(self, name: str | None = None, color: tuple[int, int, int] | None = None) -> TrackedObject:
        with self.lock:
            new_id = max(self.objects, default=0) + 1
            name = self._check_name(name or f"object{new_id}")
            color = tuple(int(c) for c in color) if color else _PALETTE[(new_id - 1) % len(_PALETTE)]
            if len(color) != 3 or not all(0 <= c <= 255 for c in color):
                raise EngineError("colour must be three integers 0..255")
            folder = object_folder(name, {o.folder for o in self.objects.values()})
            obj = TrackedObject(new_id, name, color, folder)
            self.objects[new_id] = obj
            try:
                self.save()
            except BaseException:  # e.g. a full disk: no phantom object that is not on disk
                del self.objects[new_id]
                raise
            return obj

    def _check_name(self, name: str, ignore: int | None = None) -> str:
        name = name.strip()
        if not name or not name.isprintable():
            raise EngineError(f"object name {name!r} must be printable and not blank")
        for obj in self.objects.values():
            if obj.id != ignore and obj.name == name:
                raise EngineError(f"an object named '{obj.name}' already exists")
        return name

    def rename_object(self, ref: int | str, name: str, color: tuple[int, int, int] | None = None) -> TrackedObject:
        with self.lock:
            obj = self.get_object(ref)
            name = self._check_name(name, ignore=obj.id)
            if name != obj.name:
                folder = object_folder(name, {o.folder for o in self.objects.values() if o.id != obj.id})
                old_dir, new_dir = self.mask_dir(obj), self.paths.mask_dir(folder)
                if old_dir.exists() and old_dir != new_dir:
                    old_dir.rename(new_dir)
                obj.name, obj.folder = name, folder
            if color is not None:
                obj.color = tuple(int(c) for c in color)
            self.save()
            return obj

    def remove_object(self, ref: int | str) -> None:
        with self.lock:
            obj = self.get_object(ref)
            del self.objects[obj.id]
            self.save()
            shutil.rmtree(self.paths.keyframe_dir(obj.id), ignore_errors=True)
            shutil.rmtree(self.mask_dir(obj), ignore_errors=True)

    # ---- keyframes ------------------------------------------------------------------------------
    def keyframe_path(self, obj: TrackedObject, frame: int) -> Path:
        return self.paths.keyframe_path(obj.id, frame)

    def set_keyframe(self, ref: int | str, frame: int, mask: np.ndarray, clicks: list[Click] | None = None,
                     source: str = "clicks", confidence: float = 1.0) -> Keyframe:
        """Store the mask a keyframe stands for (from clicks or imported) and bump its revision, which
        marks exactly the frames this keyframe governs as stale. Setting the same mask from the same
        clicks again changes nothing, so re-running a command resumes instead of redoing.
        The PNG is encoded and written (atomically, fsynced) under this keyframe's own lock, not the
        session's, so the server saves clicks on other frames and objects side by side; the session
        lock is held only to make it current in session.json, written after the PNG."""
        with self.lock:
            obj = self.get_object(ref)
        with self.keyframe_lock(obj.id, frame):
            with self.lock:
                self.check_frame(frame)
                mask = np.asarray(mask).astype(bool)
                if not mask.any():
                    raise EngineError(f"the mask for '{obj.name}' on frame {frame} is empty")
                clicks = list(clicks or [])
                old = obj.keyframes.get(frame)
                if old is not None and old.clicks == clicks and old.source == source and self._same_mask(obj, frame, mask):
                    return old
            path = self.keyframe_path(obj, frame)
            atomic_write_bytes(path, encode_mask_png(mask))
            with self.lock:
                if self.objects.get(obj.id) is not obj:  # removed while its PNG was written
                    path.unlink(missing_ok=True)
                    raise NotFound(f"object '{obj.name}' was removed")
                self.rev += 1
                key = Keyframe(frame, self.rev, clicks, source, round(float(confidence), 4))
                obj.keyframes[frame] = key
                self.save()
                return key

    def keyframe_lock(self, obj_id: int, frame: int) -> threading.RLock:
        """One of a fixed set of locks, always the same for one keyframe (two keyframes may share one).
        Re-entrant: the server holds it across a whole click (read the click list, segment, store),
        and set_keyframe takes it again inside."""
        return self._keyframe_locks[hash((obj_id, frame)) % len(self._keyframe_locks)]

    def _same_mask(self, obj: TrackedObject, frame: int, mask: np.ndarray) -> bool:
        try:
            return np.array_equal(read_mask(self.keyframe_path(obj, frame)), mask)
        except FileNotFoundError:
            return False

    def clicks(self, ref: int | str, frame: int) -> list[Click]:
        with self.lock:
            key = self.get_object(ref).keyframes.get(frame)
            return list(key.clicks) if key else []

    def remove_keyframe(self, ref: int | str, frame: int) -> None:
        with self.lock:
            obj = self.get_object(ref)
        with self.keyframe_lock(obj.id, frame), self.lock:
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
        return self.paths.mask_dir(obj.folder)

    @property
    def matte_ext(self) -> str:
        return ".exr" if self.matte_format == "exr" else ".png"

    def result_path(self, obj: TrackedObject, frame: int) -> Path:
        return self.paths.mask_path(obj.folder, frame, self.matte_ext)

    def result_files(self, obj: TrackedObject) -> dict[int, Path]:
        """frame → matte file, for the mattes on disk (in this session's matte format first)."""
        return self.paths.scan(self.mask_dir(obj), prefer=self.matte_ext)

    def write_result(self, obj: TrackedObject, frame: int, prob: np.ndarray, attributes: dict | None = None) -> None:
        """A frame's matte from its coverage 0..1, in the session's matte format: 8-bit hard
        (coverage >= 0.5), 16-bit soft, or half-float EXR soft (channels Y and A, with `attributes`)."""
        from .fileio import write_matte
        write_matte(self.result_path(obj, frame), prob, self.matte_format, self.exr_compression, attributes)

    def track_log_path(self, obj: TrackedObject) -> Path:
        return self.paths.track_log(obj.folder)

    def track_records(self, ref: int | str) -> dict[int, dict]:
        """frame → its current record: the newest line written for that frame (docs/OUTPUTS.md)."""
        obj = self.get_object(ref)
        records: dict[int, dict] = {}
        for rec in read_jsonl(self.track_log_path(obj)):
            records[int(rec["frame"])] = rec
        return records

    def compact_track_log(self, ref: int | str) -> None:
        """Rewrite track.jsonl (atomically) as one current record per frame, in frame order."""
        with self.lock:
            obj = self.get_object(ref)
            path = self.track_log_path(obj)
            if not path.exists():
                return
            records = self.track_records(obj.id)
            text = "".join(json.dumps(records[f], sort_keys=True) + "\n" for f in sorted(records))
            atomic_write_bytes(path, text.encode())

    def confidence(self, ref: int | str) -> dict[int, float]:
        obj = self.get_object(ref)
        return {f: float(r["confidence"]) for f, r in self.track_records(obj.id).items()
                if self.result_path(obj, f).exists()}

    def result_mask(self, ref: int | str, frame: int) -> np.ndarray | None:
        path = self.result_path(self.get_object(ref), frame)
        return read_mask(path) if path.exists() else None

    def clean_dir(self) -> Path:
        return self.paths.clean_dir

    def object_files(self, obj: TrackedObject) -> dict:
        """Where an object's mattes are, for clients that read them from disk."""
        return {"folder": obj.folder, "dir": str(self.mask_dir(obj).resolve()),
                "pattern": self.paths.mask_pattern(obj.folder, self.matte_ext)}

    def clean_ext(self) -> str:
        """The extension of the clean plate on disk (.png before any)."""
        found = self.paths.scan(self.paths.clean_dir)
        return next(iter(found.values())).suffix if found else ".png"

    def summary(self) -> dict:
        """JSON-ready view for the API and the add-on."""
        data = self.to_dict()
        for o in data["objects"]:
            obj = self.objects.get(o["id"])
            if obj is None:
                continue
            o["tracked_frames"] = len(self.confidence(obj.id))
            o.update(self.object_files(obj))
        data["clean_dir"] = str(self.paths.clean_dir.resolve())
        data["clean_pattern"] = self.paths.clean_pattern(self.clean_ext())
        data["numbers"] = self.paths.numbers(self.frame_count)
        return data
