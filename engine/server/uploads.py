"""Clips sent by a remote client: chunked, resumable, keyed by the content's sha256.

The client declares (sha256, size, filename), asks how much the engine already has, and sends the
rest in chunks at that offset. A dropped connection costs at most one chunk; the same clip sent
twice (or by two artists) is stored once. The file only becomes usable after its hash is verified.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

from ..errors import EngineError, NotFound
from ..fileio import atomic_write_json
from .security import TooLarge
from .state import Conflict

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^\.[a-z0-9]{1,8}$")


def check_sha(sha256: str) -> str:
    sha = sha256.lower()
    if not _SHA256.match(sha):
        raise EngineError("sha256 must be 64 hexadecimal characters")
    return sha


def safe_suffix(filename: str) -> str:
    """The file's extension if harmless (FFmpeg picks a demuxer from it), else '.bin'."""
    suffix = Path(filename or "").suffix.lower()
    return suffix if _EXT.match(suffix) else ".bin"


class Uploads:
    def __init__(self, state_dir: Path, max_bytes: int) -> None:
        self.dir = Path(state_dir) / "uploads"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def _folder(self, sha: str) -> Path:
        return self.dir / check_sha(sha)

    def _meta(self, sha: str) -> dict:
        import json

        folder = self._folder(sha)
        try:
            return json.loads((folder / "upload.json").read_text())
        except (OSError, ValueError):
            raise NotFound(f"no upload '{sha}'; start it with POST /v1/uploads") from None

    def status(self, sha: str) -> dict:
        meta = self._meta(sha)
        folder = self._folder(sha)
        done = folder / ("clip" + meta["suffix"])
        if done.exists():
            return {"sha256": meta["sha256"], "size": meta["size"], "received": meta["size"], "complete": True}
        part = folder / "data.part"
        received = part.stat().st_size if part.exists() else 0
        return {"sha256": meta["sha256"], "size": meta["size"], "received": received, "complete": False}

    def start(self, sha256: str, size: int, filename: str) -> dict:
        sha = check_sha(sha256)
        if size <= 0:
            raise EngineError("size must be positive")
        if size > self.max_bytes:
            raise TooLarge(f"the clip is {size} bytes; this engine accepts uploads up to {self.max_bytes} bytes")
        with self._lock:
            folder = self._folder(sha)
            if (folder / "upload.json").exists():
                meta = self._meta(sha)
                if meta["size"] != size:
                    raise Conflict(f"upload '{sha}' was started with size {meta['size']}, not {size}")
                return self.status(sha)
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(folder / "upload.json", {"sha256": sha, "size": size, "suffix": safe_suffix(filename)})
            return self.status(sha)

    def write_chunk(self, sha256: str, offset: int, data: bytes) -> dict:
        sha = check_sha(sha256)
        with self._lock:
            meta = self._meta(sha)
            state = self.status(sha)
            if state["complete"]:
                return state
            if offset != state["received"]:
                raise Conflict(f"chunk offset {offset} does not continue the upload: the engine has "
                               f"{state['received']} bytes; resend from there")
            if offset + len(data) > meta["size"]:
                raise EngineError(f"chunk ends at {offset + len(data)}, past the declared size {meta['size']}")
            part = self._folder(sha) / "data.part"
            with open(part, "ab") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if offset + len(data) == meta["size"]:
                self._finish(sha, meta, part)
            return self.status(sha)

    def _finish(self, sha: str, meta: dict, part: Path) -> None:
        digest = hashlib.sha256()
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha:
            part.unlink(missing_ok=True)
            raise EngineError(f"the uploaded data does not match sha256 {sha}; upload it again")
        os.replace(part, self._folder(sha) / ("clip" + meta["suffix"]))

    def clip_path(self, sha256: str) -> str:
        state = self.status(sha256)
        if not state["complete"]:
            raise Conflict(f"upload '{sha256}' is incomplete ({state['received']} of {state['size']} bytes)")
        return str(self._folder(sha256) / ("clip" + self._meta(sha256)["suffix"]))
