"""Sessions held by the engine, persisted in the state folder so a restart (or kill -9) restores them.

Layout of the state folder:

    sessions/<session id>/       one engine.session.Session each (clicks, keyframes, results)
    jobs/<job id>.json           every job's parameters and last known status
    uploads/<sha256>/            clips sent by remote clients

Each session gets its own interactive VideoReader for clicks and previews; jobs open their own,
because a reader's decoder position is not meant to be shared between two threads' access patterns.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path

from .. import config
from ..errors import EngineError, NotFound
from ..session import SESSION_FILE, Session
from ..media.numbering import Numbering
from ..video_io import VideoReader, open_video


class Conflict(EngineError):
    status = 409


def default_state_dir() -> Path:
    """$VTA_STATE_DIR, else the platform's data folder (engine/config.py)."""
    return config.current().default_state_dir()


# what a session's interactive reader keeps decoded, at most: one frame per frame the segmenter
# keeps features of (engine/server/service.py), within a memory bound per session
READER_MAX_BYTES = 128 * 1024 * 1024


class SessionHandle:
    """A session plus what the server keeps beside it: an interactive reader (clicks are ordered by
    the engine's per-keyframe locks, engine/server/service.py) that keeps `reader_frames` decoded
    frames, as many as clients click on at once."""

    def __init__(self, session: Session, reader: VideoReader | None = None, reader_frames: int = 0) -> None:
        self.session = session
        self.reader_frames = reader_frames
        self._reader = reader
        if reader is not None:
            reader.keep(reader_frames, READER_MAX_BYTES)
        self._reader_lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.session.id

    def reader(self) -> VideoReader:
        with self._reader_lock:
            if self._reader is None:
                self._reader = open_video(self.session.video)
                if len(self._reader) != self.session.frame_count:
                    self._reader.close()
                    self._reader = None
                    raise EngineError(f"the clip '{self.session.video}' changed on disk: it now has a different "
                                      f"number of frames than when this session was made")
                self._reader.keep(self.reader_frames, READER_MAX_BYTES)
            return self._reader

    def info(self) -> dict:
        return self.reader().info.to_dict()

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None


class SessionStore:
    def __init__(self, state_dir: Path, reader_frames: int = 0) -> None:
        self.reader_frames = reader_frames  # decoded frames each session's reader keeps (SessionHandle)
        self.dir = Path(state_dir) / "sessions"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.sessions: dict[str, SessionHandle] = {}

    def restore(self) -> list[str]:
        """Load every session left by an earlier run; unreadable ones are reported, not fatal."""
        problems = []
        for folder in sorted(self.dir.iterdir()):
            if not (folder / SESSION_FILE).exists():
                continue
            try:
                session = Session.load(folder)
            except EngineError as exc:
                problems.append(str(exc))
                continue
            self.sessions[session.id] = SessionHandle(session, reader_frames=self.reader_frames)
        return problems

    def open(self, video: str, start: int | None = None, end: int | None = None, reuse: bool = True) -> SessionHandle:
        """A session for `video` (already checked against the allowed roots). With reuse, the newest
        existing session for the same clip is returned, so an artist's earlier work is kept."""
        reader = open_video(video)
        try:
            if reuse:
                same = [h for h in self.sessions.values()
                        if h.session.video == video and h.session.frame_count == len(reader)]
                if same:
                    handle = max(same, key=lambda h: (h.session.root / SESSION_FILE).stat().st_mtime)
                    if start is not None or end is not None:
                        handle.session.set_range(start, end)
                    reader.close()
                    return handle
            session_id = uuid.uuid4().hex[:12]
            root = self.dir / session_id
            try:
                session = Session.create(root, video, len(reader), start, end, session_id=session_id,
                                         numbering=Numbering.of(reader.info))
            except (EngineError, OSError):  # e.g. a full disk: no half-made session folder is left
                shutil.rmtree(root, ignore_errors=True)
                raise
        except BaseException:
            reader.close()
            raise
        handle = SessionHandle(session, reader, self.reader_frames)
        with self._lock:
            self.sessions[session.id] = handle
        return handle

    def get(self, session_id: str) -> SessionHandle:
        handle = self.sessions.get(session_id)
        if handle is None:
            raise NotFound(f"no session '{session_id}'")
        return handle

    def delete(self, session_id: str) -> None:
        with self._lock:
            handle = self.get(session_id)
            del self.sessions[session_id]
        handle.close()
        shutil.rmtree(handle.session.root, ignore_errors=True)

    def close(self) -> None:
        for handle in list(self.sessions.values()):
            handle.close()
