"""The engine behind the routes: one segmenter per engine (its per-frame cache is what makes the
second click on a frame fast), sessions, jobs and uploads, and the operations the routes call.

Clicks run in request threads and take only the lock of the keyframe they change (object and
frame: two clicks there read, extend and write one click list, so they apply in order) and, for a
segmenter that is not thread-safe, the segmenter lock; clicks on other frames or objects segment
and save side by side. Jobs run on the worker thread with their own video reader and backend
instances, so a long track never blocks a click.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import PROTOCOL, __version__, backends, workflow
from ..errors import EngineError, NotFound
from ..quality import WEAK_BELOW
from ..session import Click, TrackedObject
from ..video_io import open_video
from .jobs import Job, JobManager
from .prefetch import Prefetcher
from .priority import FairSlots, InFlight
from .security import MiB, Roots
from .state import Conflict, SessionHandle, SessionStore
from .uploads import Uploads

log = logging.getLogger("vta.server")


@dataclass
class ServerConfig:
    state_dir: Path
    roots: list[Path]
    token: str | None = None
    segmenter: str = "auto"
    tracker: str = "auto"
    inpainter: str = "auto"
    device: str | None = None  # cuda, mps or cpu; None lets each backend choose (engine/device.py)
    max_upload_bytes: int = 20 * 1024 * MiB
    max_chunk_bytes: int = 16 * MiB
    max_mask_bytes: int = 64 * MiB
    max_json_bytes: int = 1 * MiB
    # frames whose features the segmenter keeps (and whose decoded images each session's reader
    # keeps): several artists (or views) click on different frames at once, and a cache smaller
    # than that would recompute (decode) every click
    segmenter_cache_frames: int = 32
    click_slots: int = 0  # clicks segmented at once by a thread-safe segmenter; 0 = the machine's cores
    # how long a job waits, between two frames, for the clicks being answered (clicks first: the
    # artist is waiting on them; a job still moves on under a constant stream of clicks)
    job_gives_way_s: float = 1.0
    instance_id: str = ""  # echoed in health: tells the add-on the engine it started from another one
    extra: dict = field(default_factory=dict)


class LockedSegmenter:
    """The one segmenter of the engine, shared by the request threads. A backend whose `segment` is
    safe to call from several threads at once (`concurrent_segment = True`: the classical one, whose
    only shared state is its thread-safe LRU cache) runs as many clicks side by side as there are
    cores (`slots`); more would only share the cores, so a click's latency would grow with every
    other click in flight instead of waiting its turn. Any other (a GPU model) runs clicks one at a
    time under the lock.

    Prefetching (the frame under the playhead first, then the neighbours of a clicked frame) runs
    on one background thread with a bounded queue (engine/server/prefetch.py)."""

    def __init__(self, segmenter, max_pending: int = 8, slots: int = 0) -> None:
        self.inner = segmenter
        self.lock = threading.Lock()
        self._slots = FairSlots(slots if slots > 0 else os.cpu_count() or 1)
        self.name = segmenter.name
        self.concurrent = bool(getattr(segmenter, "concurrent_segment", False))
        self._running = 0  # clicks being segmented now
        self._running_lock = threading.Lock()
        self._prefetcher = Prefetcher(lambda reader, key: segmenter.prefetch(reader.read(key[1]), key), max_pending,
                                      skip_guesses=self._no_room_for_guesses)

    def segment(self, *args, **kwargs):
        with self._running_lock:
            self._running += 1
        try:
            if self.concurrent:
                with self._slots:
                    return self.inner.segment(*args, **kwargs)
            with self.lock:
                return self.inner.segment(*args, **kwargs)
        finally:
            with self._running_lock:
                self._running -= 1

    def prefetch(self, reader, video: str, frames, urgent: bool = True) -> list[int]:
        """Queue the per-frame work (SAM's encoding, the classical features) of `frames` in the
        background; returns the frames queued now. A frame already cached is skipped without
        decoding it (a changed file is still caught: the click checks the image's fingerprint)."""
        cache = getattr(self.inner, "cache", None)
        return [frame for frame in frames
                if 0 <= frame < len(reader) and not (cache is not None and (video, frame) in cache)
                and self._prefetcher.submit(reader, (video, frame), urgent)]

    def prefetch_neighbours(self, reader, video: str, frame: int) -> list[int]:
        """The frames next to the one just clicked: the artist's next click is most often there.
        Only a guess, so only into free room and while no click runs: it never pushes a frame
        someone is clicking out of the cache (the frame under the playhead, asked for by the
        add-on, may)."""
        if self._no_room_for_guesses():
            return []
        return self.prefetch(reader, video, (frame + 1, frame - 1), urgent=False)

    def _no_room_for_guesses(self) -> bool:
        """Clicks are running (a guess would take their CPU) or the cache is full (a guess would
        push out a frame in use); asked when a guess is queued and again when its turn comes."""
        cache = getattr(self.inner, "cache", None)
        return self._running > 0 or (cache is not None and len(cache) >= cache.capacity)

    def close(self) -> None:
        self._prefetcher.close()


class Engine:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.roots = Roots(config.roots)
        state_dir = Path(config.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.clicks = InFlight()  # clicks being answered: the job worker gives way to them
        self.segmenter = LockedSegmenter(backends.create(
            "segmenter", config.segmenter, cache_frames=config.segmenter_cache_frames, device=config.device),
            slots=config.click_slots)
        # resolved now so a bad name fails at start-up; instantiated on the worker at first use
        self.tracker_name = backends.resolve("tracker", config.tracker)
        self.inpainter_name = backends.resolve("inpainter", config.inpainter)
        self._tracker = None
        self._inpainter = None
        self.store = SessionStore(state_dir, reader_frames=config.segmenter_cache_frames)
        self.jobs = JobManager(state_dir, self._run_job,
                               give_way=lambda: self.clicks.wait_until_none(config.job_gives_way_s))
        self.uploads = Uploads(state_dir, config.max_upload_bytes)
        for problem in self.store.restore() + self.jobs.restore():
            log.warning("%s", problem)
        self.jobs.start()

    def close(self) -> None:
        self.jobs.shutdown()
        self.segmenter.close()
        self.store.close()

    # ---- health ---------------------------------------------------------------------------------
    def health(self) -> dict:
        report = backends.report()
        seg = self.segmenter.inner.describe()
        return {
            "engine": "vse-track-anything", "version": __version__, "protocol": PROTOCOL,
            "backends": {"segmenter": seg["name"], "tracker": self.tracker_name, "inpainter": self.inpainter_name},
            "unavailable": {kind: r["reasons"] for kind, r in report.items()},
            "device": seg.get("device", "cpu"),
            "sessions": len(self.store.sessions),
            "jobs_active": sum(1 for j in self.jobs.jobs.values() if j.status in ("queued", "running")),
            "auth": bool(self.config.token),
            "roots": [str(r) for r in self.roots.roots],
            "instance_id": self.config.instance_id,
        }

    # ---- sessions -------------------------------------------------------------------------------
    def open_session(self, path: str | None, upload: str | None, start, end, reuse: bool) -> SessionHandle:
        if bool(path) == bool(upload):
            raise EngineError("give exactly one of 'path' (a clip on the engine's disk) or 'upload' (a sha256)")
        video = self.roots.check_video(path) if path else self.uploads.clip_path(upload)
        return self.store.open(video, start, end, reuse)

    def session_view(self, handle: SessionHandle, with_info: bool = True) -> dict:
        data = handle.session.summary()
        data["root"] = str(handle.session.root)
        data["masks_dir"] = str(handle.session.paths.masks_dir)
        data["weak_below"] = WEAK_BELOW  # confidence below this marks a weak frame (engine/quality.py)
        active = self.jobs.active_for(handle.id)
        data["active_job"] = active.id if active else None
        if with_info:
            try:
                data["clip"] = handle.info()
                # the source number of each clip position: what `{number}` in a pattern stands for
                data["clip"]["numbers"] = data["numbers"]
            except EngineError as exc:
                data["clip"] = None
                data["clip_error"] = str(exc)
        return data

    def _no_active_job(self, handle: SessionHandle, what: str) -> None:
        active = self.jobs.active_for(handle.id)
        if active is not None:
            raise Conflict(f"cannot {what} while job '{active.id}' ({active.kind}) runs on this session; "
                           f"cancel it or wait")

    def delete_session(self, session_id: str) -> None:
        handle = self.store.get(session_id)
        self._no_active_job(handle, "delete the session")
        self.store.delete(session_id)

    def set_range(self, session_id: str, start: int | None, end: int | None) -> dict:
        handle = self.store.get(session_id)
        handle.session.set_range(start, end)
        return self.session_view(handle, with_info=False)

    # ---- objects --------------------------------------------------------------------------------
    def add_object(self, session_id: str, name: str | None, color) -> dict:
        handle = self.store.get(session_id)
        obj = handle.session.add_object(name, tuple(color) if color else None)
        return self._object_view(handle.session, obj)

    @staticmethod
    def _object_view(session, obj) -> dict:
        return {"id": obj.id, "name": obj.name, "color": list(obj.color), **session.object_files(obj)}

    def update_object(self, session_id: str, ref: str, name: str | None, color) -> dict:
        handle = self.store.get(session_id)
        session = handle.session
        obj = object_for(session, ref)
        if name is not None and name.strip() != obj.name:
            self._no_active_job(handle, "rename an object")
            session.rename_object(obj.id, name, tuple(color) if color else None)
        elif color is not None:
            session.rename_object(obj.id, obj.name, tuple(color))
        return self._object_view(session, obj)

    def remove_object(self, session_id: str, ref: str) -> None:
        handle = self.store.get(session_id)
        self._no_active_job(handle, "remove an object")
        handle.session.remove_object(object_for(handle.session, ref).id)

    # ---- clicks and keyframes -------------------------------------------------------------------
    def click(self, session_id: str, ref: str, frame: int, x: float, y: float, positive: bool) -> tuple[np.ndarray, float, dict]:
        handle = self.store.get(session_id)
        obj = object_for(handle.session, ref)
        with self.clicks, handle.session.keyframe_lock(obj.id, frame):
            result = workflow.add_click(handle.session, handle.reader(), self.segmenter, obj.id, frame,
                                        Click(float(x), float(y), bool(positive)))
            self.segmenter.prefetch_neighbours(handle.reader(), handle.session.video, frame)
            return result.mask, result.confidence, self._keyframe_view(obj, frame)

    def undo_click(self, session_id: str, ref: str, frame: int) -> tuple[np.ndarray | None, float | None, dict | None]:
        handle = self.store.get(session_id)
        obj = object_for(handle.session, ref)
        with self.clicks, handle.session.keyframe_lock(obj.id, frame):
            result = workflow.undo_click(handle.session, handle.reader(), self.segmenter, obj.id, frame)
            if result is None:
                return None, None, None
            return result.mask, result.confidence, self._keyframe_view(obj, frame)

    def clear_keyframe(self, session_id: str, ref: str, frame: int) -> None:
        handle = self.store.get(session_id)
        obj = object_for(handle.session, ref)
        with handle.session.keyframe_lock(obj.id, frame):
            handle.session.remove_keyframe(obj.id, frame)

    def import_mask(self, session_id: str, ref: str, frame: int, mask: np.ndarray) -> dict:
        handle = self.store.get(session_id)
        obj = object_for(handle.session, ref)
        with handle.session.keyframe_lock(obj.id, frame):
            handle.session.check_frame(frame)
            workflow.import_mask(handle.session, handle.reader(), obj.id, workflow.ImportMaskRequest(frame, mask))
            return self._keyframe_view(obj, frame)

    @staticmethod
    def _keyframe_view(obj, frame: int) -> dict:
        key = obj.keyframes[frame]
        return {"object": obj.id, "frame": frame, "rev": key.rev, "source": key.source,
                "clicks": [{"x": c.x, "y": c.y, "positive": c.positive} for c in key.clicks]}

    def keyframes(self, session_id: str, ref: str | None = None) -> list[dict]:
        session = self.store.get(session_id).session
        with session.lock:
            objects = [object_for(session, ref)] if ref is not None else list(session.objects.values())
            return [self._keyframe_view(o, f) for o in objects for f in sorted(o.keyframes)]

    def keyframe_mask_path(self, session_id: str, ref: str, frame: int) -> Path:
        session = self.store.get(session_id).session
        obj = object_for(session, ref)
        if frame not in obj.keyframes:
            raise NotFound(f"'{obj.name}' has no keyframe on frame {frame}")
        return session.keyframe_path(obj, frame)

    def prefetch(self, session_id: str, frame: int) -> dict:
        """Start computing the segmenter's per-frame work for a frame the artist looks at (the
        playhead stopped there), so the first click on it only pays for the solve. Returns at once;
        idempotent (a cached or queued frame is not queued again) and bounded (see LockedSegmenter)."""
        handle = self.store.get(session_id)
        handle.session.check_frame(frame)
        queued = self.segmenter.prefetch(handle.reader(), handle.session.video, (frame,))
        return {"frame": frame, "queued": bool(queued)}

    def preview(self, session_id: str, frame: int) -> np.ndarray:
        handle = self.store.get(session_id)
        handle.session.check_frame(frame)
        return handle.reader().read(frame)

    # ---- results --------------------------------------------------------------------------------
    def confidence(self, session_id: str, ref: str) -> dict[int, float]:
        session = self.store.get(session_id).session
        return session.confidence(object_for(session, ref).id)

    def results(self, session_id: str) -> dict:
        session = self.store.get(session_id).session
        objects = []
        for obj in list(session.objects.values()):
            conf = session.confidence(obj.id)
            objects.append({"id": obj.id, "name": obj.name, **session.object_files(obj), "frames": sorted(conf)})
        clean_dir = session.clean_dir()
        clean = sorted(session.paths.scan(clean_dir))
        # patterns are str.format patterns: {number} the source frame number, {frame} the clip position
        return {"objects": objects, "clean": clean, "clean_dir": str(clean_dir.resolve()),
                "clean_pattern": session.paths.clean_pattern(session.clean_ext()),
                "numbers": session.paths.numbers(session.frame_count)}

    def mask_result_path(self, session_id: str, ref: str, frame: int) -> Path:
        session = self.store.get(session_id).session
        session.check_frame(frame)
        obj = object_for(session, ref)
        path = session.result_path(obj, frame)
        if not path.exists():
            raise NotFound(f"no tracked matte for '{obj.name}' on frame {frame}")
        return path

    def clean_result_path(self, session_id: str, frame: int) -> Path:
        session = self.store.get(session_id).session
        session.check_frame(frame)
        path = session.paths.scan(session.clean_dir()).get(frame)
        if path is None or not path.exists():
            raise NotFound(f"no clean plate for frame {frame}")
        return path

    def archive_files(self, session_id: str, kind: str, objects: list[str] | None, start: int | None,
                      end: int | None) -> list[tuple[Path, str]]:
        """(file, name in the archive) for the results asked for; the zip is streamed from these."""
        session = self.store.get(session_id).session
        lo = 0 if start is None else start
        hi = session.frame_count - 1 if end is None else end
        files: list[tuple[Path, str]] = []
        if kind in ("masks", "all"):
            for obj in objects_for(session, objects):
                found = session.result_files(obj)
                files += [(p, f"masks/{obj.folder}/{p.name}") for f, p in sorted(found.items()) if lo <= f <= hi]
        if kind in ("clean", "all"):
            found = session.paths.scan(session.clean_dir())
            files += [(p, f"clean/{p.name}") for f, p in sorted(found.items()) if lo <= f <= hi]
        return files

    # ---- jobs -----------------------------------------------------------------------------------
    def submit_track(self, session_id: str, objects: list[str] | None, start, end, direction: str,
                     matte_format: str | None = None, matte: dict | None = None) -> Job:
        session = self.store.get(session_id).session
        ids = tuple(o.id for o in objects_for(session, objects))  # fixed now: a resumed job does the same
        request = workflow.TrackRequest(ids, start, end, direction, matte_format=matte_format, matte=matte)
        request.resolve(session)
        return self.jobs.submit("track", session_id, request.to_params())

    def submit_remove(self, session_id: str, objects: list[str] | None, start, end, dilate: int,
                      resize_ratio: float) -> Job:
        session = self.store.get(session_id).session
        ids = tuple(o.id for o in objects_for(session, objects))  # fixed now: a resumed job does the same
        request = workflow.RemoveRequest(ids, start, end, dilate, resize_ratio)
        request.resolve(session)
        return self.jobs.submit("remove", session_id, request.to_params())

    def _run_job(self, job: Job) -> dict:
        """On the worker thread: a fresh reader, the engine's one tracker/inpainter instance. The
        job's parameters are the request it was submitted with (objects that were removed since
        are left out), so a resumed job skips what its earlier attempt finished."""
        handle = self.store.get(job.session_id)
        session = handle.session
        p = dict(job.params)
        if p.get("objects") is not None:
            p["objects"] = tuple(o for o in p["objects"] if o in session.objects)
            if not p["objects"]:
                raise EngineError("the objects of this job were removed")
        video = open_video(session.video)
        try:
            if job.kind == "track":
                if self._tracker is None:
                    self._tracker = backends.create("tracker", self.tracker_name, device=self.config.device)

                def on_frame(obj_id: int, frame: int, conf: float) -> None:
                    job.emit("frame_done", object=obj_id, frame=frame, confidence=round(conf, 4))

                return workflow.track(session, video, self._tracker, workflow.TrackRequest(**p),
                                      job.cancel_token, job.progress, on_frame)
            if self._inpainter is None:
                self._inpainter = backends.create("inpainter", self.inpainter_name, device=self.config.device)

            def progress(done: int, total: int, frame: int | None) -> None:
                job.progress(done, total, frame)
                if frame is not None:
                    job.emit("frame_done", frame=frame)

            return workflow.remove(session, video, self._inpainter, workflow.RemoveRequest(**p), job.cancel_token,
                                   progress)
        finally:
            video.close()


def object_for(session, ref) -> "TrackedObject":
    """An object named in a request: an id (int or decimal string), else its exact name."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdecimal() and ref.isascii()):
        return session.get_object(ref)
    return session.get_object(ref, by_name=True)


def objects_for(session, refs: list | None) -> list:
    """The objects a request names (None or empty = all), each once."""
    if not refs:
        return list(session.objects.values())
    return list({o.id: o for o in (object_for(session, r) for r in refs)}.values())
