"""The add-on's conversations with the engine, as plain functions run on worker threads.

No bpy here: each function gets plain values (snapshots taken on the main thread) and an
`engine_client.EngineClient`, and returns plain values for a main-thread callback. This is where
local state (clicks saved in the .blend) is reconciled with the engine session, so clicks made while
the engine was away, or in a previous Blender session, are replayed rather than lost.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable
from dataclasses import dataclass, field

from . import engine_client

_ids_lock = threading.Lock()
_engine_ids: dict[tuple[str, str, int], int] = {}  # (engine url, session id, local uid) → engine object id
_link_lock = threading.Lock()
_link: dict = {"url": "", "answered": False, "error": "", "info": {}, "time": 0.0}


@dataclass
class ObjectSpec:
    uid: int
    name: str
    color: tuple[int, int, int]
    engine_id: int = 0


@dataclass
class ClickSpec:
    x: float
    y: float
    positive: bool


@dataclass
class JobControl:
    """Shared between the main thread (cancel button, Esc) and the job thread."""

    cancel: threading.Event = field(default_factory=threading.Event)
    job_id: str = ""


def make_client(address: str, token: str = "", timeout: float = 10.0) -> engine_client.EngineClient:
    client = engine_client.EngineClient(address, token or None, timeout=max(timeout, 30.0),
                                        interactive_timeout=timeout)
    client.observer = _record_exchange
    return client


# ---- engine ---------------------------------------------------------------------------------------
def connect(client, instance_id: str | None = None) -> dict:
    return client.connect(instance_id=instance_id)


def link() -> dict:
    """The last real exchange with an engine: {"url", "answered", "error", "info", "time"} (the
    observer every client made here reports to, from whichever thread made the request)."""
    with _link_lock:
        return dict(_link)


def _record_exchange(url: str, answered: bool, error: str, info: dict | None) -> None:
    with _link_lock:
        if _link["url"] != url:
            _link.update(info={})
        _link.update(url=url, answered=answered, error="" if answered else error, time=time.monotonic())
        if info is not None:
            _link["info"] = info


# ---- sessions and objects -------------------------------------------------------------------------
def open_session(client, path: str, session_id: str = "", upload_sha: str = "", upload: str = "AUTO",
                 on_upload: Callable[[int, int], None] | None = None) -> dict:
    """The engine session for this scene: the one saved in the .blend when the engine still has it
    for the same media, else a new one (never another scene's, so two edits of one clip do not mix
    their keyframes). The reply holds `clip` info, the result folders and `upload_sha` (set when
    the engine works on an uploaded copy of the clip).

    upload: "NEVER" (the engine reads `path` itself), "ALWAYS" (send the movie), or "AUTO" (send
    it when the engine cannot read `path`: another machine, an SSH tunnel, a folder outside its
    roots). Uploads are resumable and keyed by content, so sending the same clip again is cheap."""
    client.connect()
    view = None
    if session_id:
        try:
            view = client.session(session_id)
        except engine_client.EngineHTTPError as exc:
            if exc.status != 404:
                raise
        if view is not None and not _same_media(view.get("video", ""), path, upload_sha):
            view = None
    if view is not None:
        view["upload_sha"] = upload_sha if _same_media(view.get("video", ""), "", upload_sha) else ""
        return _checked(view, path)
    reason = "uploads are set to Always"
    if upload != "ALWAYS":
        try:
            view = client.open_session(path=path, reuse=False)
        except engine_client.EngineHTTPError as exc:
            if upload == "NEVER" or exc.status != 403:
                raise
            reason = f"the engine cannot read it: {exc.message}"
        else:
            if view.get("clip") is not None or upload == "NEVER":
                return _checked(view, path)
            reason = f"the engine cannot read it: {view.get('clip_error') or 'unknown reason'}"
            client.delete_session(view["id"])  # opened on a path the engine cannot read: useless
    if not os.path.isfile(path):  # the actionable part first: the panel shows one short line
        if os.path.isdir(path) or "%" in os.path.basename(path):
            raise engine_client.EngineClientError(
                f"image sequences are not uploaded: start the engine with --root for '{path}' or put the "
                f"frames on storage it reads ({reason})")
        raise engine_client.EngineClientError(f"'{path}' is not on this machine either ({reason})")
    sha = client.upload_clip(path, progress=on_upload)
    view = client.open_session(upload=sha, reuse=False)
    view["upload_sha"] = sha
    return _checked(view, path)


def _same_media(engine_video: str, path: str, upload_sha: str) -> bool:
    """Whether an engine session's video is this clip: the same path, or the upload of this clip
    (uploads live in a folder named by their sha256)."""
    if path and os.path.normpath(engine_video) == os.path.normpath(path):
        return True
    return bool(upload_sha) and os.path.basename(os.path.dirname(engine_video)) == upload_sha


def _checked(view: dict, path: str) -> dict:
    if view.get("clip") is None:
        raise engine_client.EngineClientError(view.get("clip_error") or f"the engine cannot read '{path}'")
    return view


def ensure_object(client, session_id: str, spec: ObjectSpec) -> int:
    """The engine id of a local object, creating it in the session when needed (found by name
    first, so a reused session keeps its objects)."""
    key = (client.url, session_id, spec.uid)
    with _ids_lock:
        if key in _engine_ids:
            return _engine_ids[key]
    view = client.session(session_id)
    known = {int(o["id"]): o["name"] for o in view.get("objects", [])}
    by_name = {name: oid for oid, name in known.items()}
    if spec.engine_id in known:  # saved in the .blend from an earlier run of this session
        engine_id = spec.engine_id
    elif spec.name in by_name:
        engine_id = by_name[spec.name]
    else:
        engine_id = int(client.add_object(session_id, spec.name, list(spec.color))["id"])
    with _ids_lock:
        _engine_ids[key] = engine_id
    return engine_id


def update_object(client, session_id: str, spec: ObjectSpec) -> int:
    engine_id = ensure_object(client, session_id, spec)
    client.update_object(session_id, engine_id, spec.name, list(spec.color))
    return engine_id


def remove_object(client, session_id: str, spec: ObjectSpec) -> None:
    key = (client.url, session_id, spec.uid)
    with _ids_lock:
        engine_id = _engine_ids.pop(key, None)
    if engine_id is None:
        for o in client.session(session_id).get("objects", []):
            if o["name"] == spec.name:
                engine_id = int(o["id"])
    if engine_id is not None:
        try:
            client.remove_object(session_id, engine_id)
        except engine_client.EngineHTTPError as exc:
            if exc.status != 404:
                raise


# ---- clicks ---------------------------------------------------------------------------------------
def _engine_clicks(client, session_id: str, engine_id: int, frame: int) -> list[tuple[float, float, bool]]:
    for key in client.keyframes(session_id):
        if int(key["object"]) == engine_id and int(key["frame"]) == frame:
            return [(float(c["x"]), float(c["y"]), bool(c["positive"])) for c in key.get("clicks", [])]
    return []


def sync_frame(client, session_id: str, spec: ObjectSpec, frame: int, clicks: list[ClickSpec]) -> dict:
    """Make the engine's clicks for (object, frame) equal the local list: send the ones it lacks, or
    clear and replay when they differ. Returns {uid, frame, engine_id, mask, count}."""
    engine_id = ensure_object(client, session_id, spec)
    local = [(round(c.x, 3), round(c.y, 3), c.positive) for c in clicks]
    remote = [(round(x, 3), round(y, 3), p) for x, y, p in _engine_clicks(client, session_id, engine_id, frame)]
    mask = None
    if remote != local[:len(remote)]:
        client.clear_keyframe(session_id, engine_id, frame)
        remote = []
    if not local:
        if remote:
            client.clear_keyframe(session_id, engine_id, frame)
        return {"uid": spec.uid, "frame": frame, "engine_id": engine_id, "mask": None, "count": 0}
    todo = local[len(remote):]
    for x, y, p in todo:
        reply = client.click(session_id, engine_id, frame, x, y, p)
        mask = client.mask_of(reply)
    return {"uid": spec.uid, "frame": frame, "engine_id": engine_id, "mask": mask, "count": len(local)}


def resync_all(client, session_id: str, objects: list[ObjectSpec],
               clicks: dict[tuple[int, int], list[ClickSpec]]) -> list[dict]:
    """After (re)opening a session: make sure every object exists and every local keyframe's clicks
    are in the engine (replays what a new or older engine session lacks)."""
    out = []
    specs = {o.uid: o for o in objects}
    for spec in objects:
        ensure_object(client, session_id, spec)
    remote: dict[tuple[int, int], list] = {}
    for key in client.keyframes(session_id):
        remote[(int(key["object"]), int(key["frame"]))] = [
            (round(float(c["x"]), 3), round(float(c["y"]), 3), bool(c["positive"])) for c in key.get("clicks", [])]
    ours = {ensure_object(client, session_id, spec) for spec in objects}
    local_keys = {(ensure_object(client, session_id, specs[uid]), frame) for uid, frame in clicks if uid in specs}
    for engine_id, frame in list(remote):
        if engine_id in ours and (engine_id, frame) not in local_keys:  # undone in Blender: drop it
            client.clear_keyframe(session_id, engine_id, frame)
    for (uid, frame), cl in clicks.items():
        spec = specs.get(uid)
        if spec is None:
            continue
        engine_id = ensure_object(client, session_id, spec)
        local = [(round(c.x, 3), round(c.y, 3), c.positive) for c in cl]
        if remote.get((engine_id, frame)) == local:
            out.append({"uid": uid, "frame": frame, "engine_id": engine_id, "mask": None, "count": len(local)})
            continue
        out.append(sync_frame(client, session_id, spec, frame, cl))
    return out


# ---- jobs -----------------------------------------------------------------------------------------
HEARTBEAT_S = 0.5  # the engine pings after this much silence: how soon a cancel is sent mid-frame


def run_job(client, session_id: str, kind: str, params: dict, control: JobControl, on_progress,
            on_event: Callable[[dict], None] | None = None) -> dict:
    """Submit a track/remove job and follow its NDJSON event stream to the end, calling
    on_progress(done, total, message) from this thread. The stream carries a ping after HEARTBEAT_S
    of silence, so a cancel asked for on the main thread is sent within that time even during a
    slow frame. `on_event` sees every event (e.g. `frame_done`, to follow the finished frames).
    Returns the final job record; raises EngineClientError when the job fails."""
    if kind == "track":
        job = client.track(session_id, **params)
    else:
        job = client.remove(session_id, **params)
    control.job_id = job["id"]
    cancel_sent = False
    for event in client.events(job["id"], pings=True, heartbeat=HEARTBEAT_S):
        if control.cancel.is_set() and not cancel_sent:
            try:
                client.cancel(job["id"])
            except engine_client.EngineHTTPError:
                pass  # already finished
            cancel_sent = True
        if event.get("event") == "progress":
            on_progress(int(event.get("done") or 0), int(event.get("total") or 0), "")
        elif on_event is not None:
            on_event(event)
    job = client.job(job["id"])
    on_progress(int(job.get("done") or 0), int(job.get("total") or 0), job.get("message") or "")
    status = job.get("status")
    if status in ("error", "interrupted"):
        raise engine_client.EngineClientError(f"{kind} failed: {job.get('message') or status}")
    return job


def readable_here(folder: str) -> bool:
    """Whether this machine sees the engine's result folder (same machine or shared storage)."""
    return os.path.isdir(folder)


WEAK_BELOW = 0.5  # what an engine that does not say its threshold (`weak_below`) used


def clip_facts(view: dict) -> dict:
    """What the add-on keeps of a session view besides the clip's size: the source number of each
    clip position (`numbers`, None from engines that do not number) and the weak-frame threshold."""
    clip = view.get("clip") or {}
    numbers = clip.get("numbers") or view.get("numbers")
    return {"numbers": [int(n) for n in numbers] if numbers else None,
            "weak_below": float(view.get("weak_below", WEAK_BELOW))}


def result_locations(client, session_id: str) -> dict:
    """The engine's result folders and patterns (`results`) with the clip's frame numbers, or {}
    when this machine cannot read them (a remote engine: its results come as a download)."""
    results = dict(client.results(session_id))
    # before a first track an object's folder does not exist yet: the session folder above it does
    session_dirs = {os.path.dirname(os.path.dirname(os.path.normpath(o["dir"])))
                    for o in results.get("objects", []) if o.get("dir")}
    if not all(readable_here(d) for d in session_dirs):
        return {}
    results["numbers"] = clip_facts(client.session(session_id))["numbers"] or results.get("numbers")
    return results


def collect_results(client, session_id: str, objects: list[ObjectSpec], local_cache: str) -> dict:
    """Where each result sequence is — its folder and file pattern as the engine reports them, or
    the same files downloaded into `local_cache` when this machine cannot read the engine's
    folders — each object's per-frame confidence, the clip's frame numbers and the engine's
    weak-frame threshold."""
    facts = clip_facts(client.session(session_id))
    results = client.results(session_id)
    if results.get("numbers") and not facts["numbers"]:
        facts["numbers"] = [int(n) for n in results["numbers"]]
    by_id = {int(o["id"]): o for o in results.get("objects", [])}
    clean_dir, clean_pattern = results.get("clean_dir", ""), results.get("clean_pattern", "")
    dirs = [o["dir"] for o in by_id.values()] + ([clean_dir] if results.get("clean") else [])
    local = {d: d for d in dirs}
    if any(not readable_here(d) for d in dirs):
        client.download_archive(session_id, local_cache)
        # the archive's layout: masks/<folder name>/…, clean/… (engine_client.download_archive)
        local = {o["dir"]: os.path.join(local_cache, "masks", os.path.basename(os.path.normpath(o["dir"])))
                 for o in by_id.values()}
        local[clean_dir] = os.path.join(local_cache, "clean")
    confidence, out_objects = {}, []
    for spec in objects:
        engine_id = ensure_object(client, session_id, spec)
        confidence[spec.uid] = client.confidence(session_id, engine_id, low=facts["weak_below"])["frames"]
        found = by_id.get(engine_id)
        out_objects.append({"uid": spec.uid, "dir": local.get(found["dir"], "") if found else "",
                            "pattern": found["pattern"] if found else ""})
    return {"objects": out_objects, "clean_dir": local.get(clean_dir, "") if results.get("clean") else "",
            "clean_pattern": clean_pattern, "confidence": confidence, **facts}
