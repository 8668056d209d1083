"""Client for the VSE Track Anything engine, using only the Python standard library (Blender's
Python has no pip; numpy is used when present, for decoding masks).

Free of bpy: the add-on calls it from a worker thread. Every failure is one of three exceptions
with a message fit for the artist: EngineUnreachable (no engine at that address), EngineHTTPError
(the engine refused the request; carries its one-line reason and HTTP status), ProtocolMismatch
(engine and add-on speak different protocol versions) and ForeignEngine (not the engine this
add-on started).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import socket
import tempfile
import zipfile
from typing import Callable, Iterator
from urllib.parse import quote, urlencode, urlsplit

PROTOCOL = 1  # must equal engine.PROTOCOL; bumped together when the HTTP API changes incompatibly

INTERACTIVE_TIMEOUT = 10.0  # clicks, object edits: an artist is waiting
DEFAULT_TIMEOUT = 30.0
STREAM_TIMEOUT = 60.0  # job event streams send a ping every few seconds
TRANSFER_TIMEOUT = 300.0


class EngineClientError(Exception):
    """Base class of every error this client raises."""


class EngineUnreachable(EngineClientError):
    """No engine answered at the address (not started, wrong port, firewall, or it timed out)."""


class EngineHTTPError(EngineClientError):
    """The engine answered with an error status; str(e) is its one-line reason."""

    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.method, self.path = status, message, method, path


class ProtocolMismatch(EngineClientError):
    """Engine and add-on versions do not speak the same protocol."""


class ForeignEngine(EngineClientError):
    """An engine answers, but not the one this add-on started (its instance id differs)."""


def mismatch_message(engine_protocol, engine_version: str = "?") -> str:
    side = "add-on" if isinstance(engine_protocol, int) and engine_protocol > PROTOCOL else "engine"
    return (f"engine protocol {engine_protocol} (engine {engine_version}), add-on speaks {PROTOCOL}: "
            f"update the {side}")


def decode_rle(rle: dict):
    """{"size": [h, w], "counts": [...]} → bool array (h, w) with numpy, else a bytearray of 0/1
    in row-major order. Runs alternate background/object, starting with background."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    try:
        import numpy as np
    except ImportError:
        out = bytearray(h * w)
        pos = 0
        for i, n in enumerate(counts):
            if i % 2:
                out[pos:pos + n] = b"\x01" * n
            pos += n
        return out
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, np.asarray(counts, np.int64)).reshape(h, w)


def _atomic_write(path: str, chunks) -> str:
    """Write an iterable of bytes to `path` through a temp file in the same folder, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


class EngineClient:
    """One engine at `url` (http://host:port). Thread-safe: every call opens its own connection."""

    def __init__(self, url: str = "http://127.0.0.1:8765", token: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, interactive_timeout: float = INTERACTIVE_TIMEOUT) -> None:
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https"):
            raise EngineClientError(f"engine address '{url}' must start with http:// or https://")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.scheme, self.host, self.port = parts.scheme, parts.hostname or "127.0.0.1", parts.port or 8765
        self.token = token
        self.timeout, self.interactive_timeout = timeout, interactive_timeout
        self.engine_info: dict | None = None
        # called after every exchange as observer(url, answered, error, health or None), on the
        # calling thread: how the add-on knows the link's state from real traffic, not a guess
        self.observer: Callable[[str, bool, str, dict | None], None] | None = None

    def _observed(self, answered: bool, error: str = "", info: dict | None = None) -> None:
        if self.observer is not None:
            self.observer(self.url, answered, error, info)

    # ---- plumbing -------------------------------------------------------------------------------
    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=timeout)

    def _open(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
              timeout: float | None = None, query: dict | None = None) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        if query:
            query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in query.items() if v is not None}
            if query:
                path = path + "?" + urlencode(query)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        conn = self._connection(self.timeout if timeout is None else timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
        except (ConnectionError, socket.timeout, TimeoutError, OSError, http.client.HTTPException) as exc:
            conn.close()
            error = EngineUnreachable(f"no engine answering at {self.url} ({type(exc).__name__}: {exc}); "
                                      f"is 'vta-engine serve' running?")
            self._observed(False, str(error))
            raise error from None
        self._observed(True)
        if response.status >= 400:
            raw = response.read()
            conn.close()
            try:
                message = json.loads(raw).get("error") or raw.decode(errors="replace")
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace").strip() or response.reason
            raise EngineHTTPError(response.status, str(message), method, path)
        return conn, response

    def _request(self, method: str, path: str, payload=None, timeout: float | None = None, query: dict | None = None,
                 raw: bytes | None = None, content_type: str | None = None):
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
        conn, response = self._open(method, path, body, content_type, timeout, query)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            error = EngineUnreachable(f"the engine at {self.url} dropped the connection: {exc}")
            self._observed(False, str(error))
            raise error from None
        finally:
            conn.close()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(data)
        return data

    @staticmethod
    def _seg(value) -> str:
        return quote(str(value), safe="")

    def _s(self, session_id: str, *rest) -> str:
        return "/v1/sessions/" + "/".join(self._seg(p) for p in (session_id, *rest))

    # ---- engine ---------------------------------------------------------------------------------
    def health(self) -> dict:
        return self._request("GET", "/v1/health", timeout=self.interactive_timeout)

    def connect(self, instance_id: str | None = None) -> dict:
        """Health check plus protocol check; raises ProtocolMismatch with what to update. With
        `instance_id`, also that the engine answering is the one started with that id (an engine
        launched by this add-on), not another one on the same port."""
        info = self.health()
        if info.get("protocol") != PROTOCOL:
            error = ProtocolMismatch(mismatch_message(info.get("protocol"), info.get("version", "?")))
            self._observed(False, str(error), info)
            raise error
        if instance_id is not None and info.get("instance_id") != instance_id:
            error = ForeignEngine(f"the engine answering at {self.url} is not the one Blender started "
                                  f"(another program or user has that port)")
            self._observed(False, str(error), info)
            raise error
        self.engine_info = info
        self._observed(True, "", info)
        return info

    # ---- uploads (remote engines) ---------------------------------------------------------------
    def upload_clip(self, path: str, chunk_size: int = 8 * 1024 * 1024,
                    progress: Callable[[int, int], None] | None = None) -> str:
        """Send a clip to the engine; resumes where an earlier attempt stopped. Returns its sha256."""
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        sha, size = digest.hexdigest(), os.path.getsize(path)
        state = self._request("POST", "/v1/uploads", {"sha256": sha, "size": size,
                                                      "filename": os.path.basename(path)})
        with open(path, "rb") as handle:
            while not state["complete"]:
                offset = state["received"]
                handle.seek(offset)
                chunk = handle.read(min(chunk_size, size - offset))
                try:
                    state = self._request("PUT", f"/v1/uploads/{sha}", query={"offset": offset}, raw=chunk,
                                          content_type="application/octet-stream", timeout=TRANSFER_TIMEOUT)
                except EngineHTTPError as exc:
                    if exc.status != 409:
                        raise
                    state = self._request("GET", f"/v1/uploads/{sha}")  # another attempt moved on: resync
                if progress:
                    progress(state["received"], size)
        return sha

    # ---- sessions -------------------------------------------------------------------------------
    def open_session(self, path: str | None = None, upload: str | None = None, start: int | None = None,
                     end: int | None = None, reuse: bool = True) -> dict:
        body = {"path": path, "upload": upload, "start": start, "end": end, "reuse": reuse}
        return self._request("POST", "/v1/sessions", {k: v for k, v in body.items() if v is not None})

    def sessions(self) -> list[dict]:
        return self._request("GET", "/v1/sessions")["sessions"]

    def session(self, session_id: str) -> dict:
        return self._request("GET", self._s(session_id))

    def delete_session(self, session_id: str) -> None:
        self._request("DELETE", self._s(session_id))

    def set_range(self, session_id: str, start: int | None, end: int | None) -> dict:
        return self._request("PUT", self._s(session_id, "range"), {"start": start, "end": end})

    def preview(self, session_id: str, frame: int, max_size: int = 1024) -> bytes:
        """JPEG of a frame, for viewers of a remote engine."""
        return self._request("GET", self._s(session_id, "frames", frame, "preview"), query={"max_size": max_size})

    def prefetch(self, session_id: str, frame: int) -> dict:
        """The playhead rests on `frame`: the engine starts its segmenter work for that frame in the
        background, so the first click there only pays for the solve. Returns {"frame", "queued"}
        at once (queued is false when the frame was cached or queued already)."""
        return self._request("POST", self._s(session_id, "frames", frame, "prefetch"),
                             timeout=self.interactive_timeout)

    # ---- objects --------------------------------------------------------------------------------
    def add_object(self, session_id: str, name: str | None = None, color=None) -> dict:
        body = {k: v for k, v in {"name": name, "color": list(color) if color else None}.items() if v is not None}
        return self._request("POST", self._s(session_id, "objects"), body, timeout=self.interactive_timeout)

    def update_object(self, session_id: str, obj, name: str | None = None, color=None) -> dict:
        body = {k: v for k, v in {"name": name, "color": list(color) if color else None}.items() if v is not None}
        return self._request("PATCH", self._s(session_id, "objects", obj), body, timeout=self.interactive_timeout)

    def remove_object(self, session_id: str, obj) -> None:
        self._request("DELETE", self._s(session_id, "objects", obj), timeout=self.interactive_timeout)

    # ---- clicks and keyframes -------------------------------------------------------------------
    def click(self, session_id: str, obj, frame: int, x: float, y: float, positive: bool = True,
              format: str = "rle") -> dict:
        """Add a click; the reply holds the object's new mask on that frame ('rle' and/or
        'png_base64') and its confidence. Use mask_of(reply) to decode it."""
        body = {"frame": frame, "x": x, "y": y, "positive": positive, "format": format}
        return self._request("POST", self._s(session_id, "objects", obj, "clicks"), body, timeout=self.interactive_timeout)

    def undo_click(self, session_id: str, obj, frame: int, format: str = "rle") -> dict:
        return self._request("POST", self._s(session_id, "objects", obj, "clicks", "undo"),
                             query={"frame": frame, "format": format}, timeout=self.interactive_timeout)

    def clear_keyframe(self, session_id: str, obj, frame: int) -> None:
        self._request("DELETE", self._s(session_id, "objects", obj, "keyframes", frame), timeout=self.interactive_timeout)

    def import_mask(self, session_id: str, obj, frame: int, png: bytes | str) -> dict:
        """Make `frame` a keyframe from a matte image (PNG bytes or a path to one)."""
        if isinstance(png, str):
            with open(png, "rb") as handle:
                png = handle.read()
        return self._request("PUT", self._s(session_id, "objects", obj, "keyframes", frame), raw=png,
                             content_type="image/png")

    def keyframes(self, session_id: str) -> list[dict]:
        return self._request("GET", self._s(session_id, "keyframes"))["keyframes"]

    def keyframe_mask(self, session_id: str, obj, frame: int) -> bytes:
        return self._request("GET", self._s(session_id, "objects", obj, "keyframes", frame))

    def confidence(self, session_id: str, obj, low: float = 0.5) -> dict:
        """{"frames": {frame: confidence}, "low": [frames under `low`]} for the timeline."""
        reply = self._request("GET", self._s(session_id, "objects", obj, "confidence"), query={"low": low})
        reply["frames"] = {int(k): v for k, v in reply["frames"].items()}
        return reply

    @staticmethod
    def mask_of(reply: dict):
        """The mask in a click/undo reply, decoded (numpy bool array when numpy is present)."""
        if reply.get("rle"):
            return decode_rle(reply["rle"])
        if reply.get("png_base64"):
            return base64.b64decode(reply["png_base64"])
        return None

    # ---- jobs -----------------------------------------------------------------------------------
    def track(self, session_id: str, objects=None, start: int | None = None, end: int | None = None,
              direction: str = "both", matte_format: str | None = None, matte: dict | None = None) -> dict:
        """Start a track job. `matte_format` ('png8', 'png16', 'exr') and `matte` (the finish by
        name: grow, feather, edges, temporal; replaces the session's) are sent only when given, so
        engines without them still take the plain request."""
        body = {"objects": [str(o) for o in objects] if objects else None, "start": start, "end": end,
                "direction": direction, "matte_format": matte_format, "matte": matte}
        return self._request("POST", self._s(session_id, "track"), {k: v for k, v in body.items() if v is not None})

    def remove(self, session_id: str, objects=None, start: int | None = None, end: int | None = None,
               dilate: int = 8, resize_ratio: float = 1.0) -> dict:
        body = {"objects": [str(o) for o in objects] if objects else None, "start": start, "end": end,
                "dilate": dilate, "resize_ratio": resize_ratio}
        return self._request("POST", self._s(session_id, "remove"), {k: v for k, v in body.items() if v is not None})

    def job(self, job_id: str) -> dict:
        return self._request("GET", f"/v1/jobs/{self._seg(job_id)}")

    def jobs(self, session_id: str | None = None) -> list[dict]:
        return self._request("GET", "/v1/jobs", query={"session": session_id})["jobs"]

    def cancel(self, job_id: str) -> dict:
        return self._request("POST", f"/v1/jobs/{self._seg(job_id)}/cancel", timeout=self.interactive_timeout)

    def resume(self, job_id: str) -> dict:
        return self._request("POST", f"/v1/jobs/{self._seg(job_id)}/resume")

    def events(self, job_id: str, since: int = 0, follow: bool = True, pings: bool = False,
               heartbeat: float | None = None) -> Iterator[dict]:
        """Job events as dicts, in order, until the job ends (with follow). If the connection drops,
        reconnects and continues after the last event seen. `heartbeat`: seconds of silence after
        which the engine sends a `ping` (yielded with pings=True, so a follower can check a cancel
        flag while a slow frame is computed)."""
        last = since
        while True:
            conn, response = self._open("GET", f"/v1/jobs/{self._seg(job_id)}/events",
                                        query={"since": last, "follow": follow, "heartbeat": heartbeat},
                                        timeout=STREAM_TIMEOUT)
            ended = False
            try:
                while True:
                    line = response.readline()
                    if not line:
                        ended = True
                        break
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("event") == "ping":
                        if pings:
                            yield event
                        continue
                    last = max(last, int(event.get("seq", last)))
                    yield event
            except (OSError, http.client.HTTPException, ValueError):
                ended = False  # dropped mid-stream: reconnect below
            finally:
                conn.close()
            if ended or not follow:
                return

    def wait(self, job_id: str, on_event: Callable[[dict], None] | None = None) -> dict:
        """Follow a job to its end; returns the final job record."""
        for event in self.events(job_id):
            if on_event:
                on_event(event)
        return self.job(job_id)

    # ---- results --------------------------------------------------------------------------------
    def results(self, session_id: str) -> dict:
        return self._request("GET", self._s(session_id, "results"))

    def _download(self, path: str, dest: str, query: dict | None = None) -> str:
        conn, response = self._open("GET", path, timeout=TRANSFER_TIMEOUT, query=query)
        try:
            return _atomic_write(dest, iter(lambda: response.read(1 << 20), b""))
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise EngineUnreachable(f"download from {self.url} failed: {exc}") from None
        finally:
            conn.close()

    def download_mask(self, session_id: str, obj, frame: int, dest: str) -> str:
        return self._download(self._s(session_id, "results", "masks", obj, frame), dest)

    def download_clean(self, session_id: str, frame: int, dest: str) -> str:
        return self._download(self._s(session_id, "results", "clean", frame), dest)

    def download_archive(self, session_id: str, folder: str, kind: str = "all", objects=None,
                         start: int | None = None, end: int | None = None) -> list[str]:
        """Fetch results as a zip and unpack into `folder` (masks/<object>/NNNNN.png, clean/NNNNN.png),
        each file written atomically. Returns the files written."""
        os.makedirs(folder, exist_ok=True)
        query = {"kind": kind, "start": start, "end": end,
                 "objects": ",".join(str(o) for o in objects) if objects else None}
        fd, tmp = tempfile.mkstemp(prefix=".archive.", suffix=".zip", dir=folder)
        os.close(fd)
        written = []
        try:
            self._download(self._s(session_id, "results", "archive"), tmp, query)
            root = os.path.realpath(folder)
            with zipfile.ZipFile(tmp) as archive:
                for member in archive.infolist():
                    if member.is_dir():
                        continue
                    target = os.path.realpath(os.path.join(root, member.filename))
                    if not target.startswith(root + os.sep):
                        raise EngineClientError(f"archive member '{member.filename}' escapes the folder")
                    with archive.open(member) as source:
                        _atomic_write(target, iter(lambda: source.read(1 << 20), b""))
                    written.append(target)
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return written
