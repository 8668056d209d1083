"""Long jobs (track, remove) on one worker thread, so there is one at a time per device while
clicks, served in request threads, stay responsive.

A job emits newline-delimited JSON events (`progress`, `frame_done`, `done`, `error`,
`cancelled`, and `interrupted` when the engine stops under it). Each event has a sequence number so
a client can poll with `since=` or follow a stream and pick up where it left off. Only the last few
thousand events are kept in memory; the job's status, counters and parameters are persisted to
jobs/<id>.json so a restarted engine reports a job that was running as `interrupted`, and resuming
it re-runs the same parameters, which skips every frame already finished.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import queue
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Callable

from ..errors import Cancelled, EngineError, NotFound
from ..fileio import atomic_write_json
from ..progress import CancelToken
from .state import Conflict

log = logging.getLogger("vta.server.jobs")

ACTIVE = ("queued", "running")
TERMINAL = ("done", "error", "cancelled", "interrupted")
_EVENT_WINDOW = 4000
_SAVE_INTERVAL_S = 0.5
_SEQ_JUMP_ON_RESTORE = 100_000  # event numbers never repeat across restarts, so `since=` stays valid


class Job:
    def __init__(self, kind: str, session_id: str, params: dict, job_id: str | None = None, path: Path | None = None) -> None:
        self.id = job_id or uuid.uuid4().hex[:12]
        self.kind, self.session_id, self.params = kind, session_id, params
        self.status = "queued"
        self.done = 0
        self.total = 0
        self.message = ""
        self.result: dict | None = None
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self.attempts = 0
        self.path = path
        self.cancel_token = CancelToken()
        self.interrupt = False  # set when the engine shuts down under the job
        self.cond = threading.Condition()
        self.events: deque[dict] = deque(maxlen=_EVENT_WINDOW)
        self.seq = 0
        self._saved_at = 0.0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    # ---- events ---------------------------------------------------------------------------------
    def emit(self, event: str, **data) -> None:
        with self.cond:
            self.seq += 1
            self.events.append({"seq": self.seq, "event": event, "job": self.id, "time": round(time.time(), 3), **data})
            self.cond.notify_all()
            waiters = list(self._waiters)
        for loop, flag in waiters:  # wake the event streams on the server's loop from this thread
            try:
                loop.call_soon_threadsafe(flag.set)
            except RuntimeError:  # that loop is closed: its stream is gone
                pass

    def events_since(self, since: int) -> list[dict]:
        with self.cond:
            return [e for e in self.events if e["seq"] > since]

    def wait(self, since: int, timeout: float) -> list[dict]:
        """Events after `since`, waiting up to `timeout` for one if there are none yet."""
        with self.cond:
            if self.seq <= since and self.status not in TERMINAL:
                self.cond.wait(timeout)
            return [e for e in self.events if e["seq"] > since]

    async def wait_async(self, since: int, timeout: float) -> None:
        """Return when there is an event after `since` (or the job ended), or after `timeout`:
        the event-loop twin of wait(), so a waiting stream holds no thread."""
        flag = asyncio.Event()
        waiter = (asyncio.get_running_loop(), flag)
        with self.cond:
            if self.seq > since or self.status in TERMINAL:
                return
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(flag.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self.cond:
                self._waiters.discard(waiter)

    def progress(self, done: int, total: int, frame: int | None = None) -> None:
        self.done, self.total = done, total
        self.emit("progress", done=done, total=total, frame=frame)
        if time.monotonic() - self._saved_at > _SAVE_INTERVAL_S:
            self.save()

    # ---- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "session": self.session_id, "params": self.params,
                "status": self.status, "done": self.done, "total": self.total, "message": self.message,
                "result": self.result, "created": self.created, "started": self.started,
                "finished": self.finished, "attempts": self.attempts, "last_event": self.seq}

    def save(self) -> None:
        self._saved_at = time.monotonic()
        if self.path is not None:
            atomic_write_json(self.path, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict, path: Path) -> "Job":
        job = cls(data["kind"], data["session"], data.get("params", {}), data["id"], path)
        for key in ("status", "done", "total", "message", "result", "created", "started", "finished", "attempts"):
            if key in data:
                setattr(job, key, data[key])
        # the saved number lags by up to _SAVE_INTERVAL_S of events: jump past any number handed out
        job.seq = int(data.get("last_event", 0)) + _SEQ_JUMP_ON_RESTORE
        return job


Runner = Callable[[Job], dict]
# The worker thread runs at a lower CPU priority than the request threads: on a machine with few
# cores a track job otherwise takes the cores the artists' clicks need (jobs only finish later).
WORKER_NICE = 10


def lower_thread_priority(nice: int) -> None:
    """Raise the calling thread's nice value (Linux schedules threads one by one; elsewhere this
    would renice the whole process, so it is skipped)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (OSError, AttributeError) as exc:
        log.debug("cannot lower the job worker's priority: %s", exc)


def disk_message(exc: OSError) -> str:
    """One line for a failed file operation, naming the file; a full disk says so plainly."""
    where = f" '{exc.filename}'" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full (writing{where}): free space, then resume the job"
    return f"file error{where}: {exc.strerror or exc}"


class JobManager:
    """Queue + one worker thread. `runner(job)` does the work and returns the result summary."""

    def __init__(self, state_dir: Path, runner: Runner, give_way: Callable[[], None] | None = None) -> None:
        self.dir = Path(state_dir) / "jobs"
        self.give_way = give_way  # called by a running job between frames (CancelToken)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.runner = runner
        self.jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._current: Job | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="vta-job-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def worker_alive(self) -> bool:
        return self._thread.is_alive()

    def restore(self) -> list[str]:
        """Reload jobs of an earlier run; any that was queued or running is now `interrupted`."""
        problems = []
        import json

        for path in sorted(self.dir.glob("*.json")):
            try:
                job = Job.from_dict(json.loads(path.read_text()), path)
            except (OSError, ValueError, KeyError) as exc:
                problems.append(f"job file '{path.name}' is unreadable: {exc}")
                continue
            if job.status in ACTIVE:
                job.status = "interrupted"
                job.message = "the engine stopped while this job was running; resume it to finish"
                job.emit("interrupted", done=job.done, total=job.total, message=job.message)
                job.save()
            self.jobs[job.id] = job
        return problems

    # ---- client operations ----------------------------------------------------------------------
    def submit(self, kind: str, session_id: str, params: dict) -> Job:
        job = Job(kind, session_id, params)
        job.path = self.dir / f"{job.id}.json"
        with self._lock:
            self.jobs[job.id] = job
        self._enqueue(job)
        return job

    def _enqueue(self, job: Job) -> None:
        job.status, job.message, job.finished = "queued", "", None
        job.cancel_token = CancelToken(self.give_way)
        job.save()
        job.emit("queued")
        self._queue.put(job)

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job '{job_id}'")
        return job

    def list(self, session_id: str | None = None) -> list[Job]:
        jobs = [j for j in self.jobs.values() if session_id is None or j.session_id == session_id]
        return sorted(jobs, key=lambda j: j.created)

    def active_for(self, session_id: str) -> Job | None:
        for job in self.jobs.values():
            if job.session_id == session_id and job.status in ACTIVE:
                return job
        return None

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        with self._lock:
            if job.status == "queued":
                self._finish(job, "cancelled", "cancelled before it started")
            elif job.status == "running":
                job.cancel_token.cancel()
        return job

    def resume(self, job_id: str) -> Job:
        """Run an interrupted, cancelled or failed job again with the same parameters; the core
        skips every frame that is already finished, so nothing is redone."""
        job = self.get(job_id)
        with self._lock:
            if job.status in ACTIVE:
                raise Conflict(f"job '{job_id}' is already {job.status}")
            if job.status == "done":
                raise Conflict(f"job '{job_id}' is done; start a new job to re-run it")
            self._enqueue(job)
        return job

    # ---- the worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        """Runs jobs until shutdown. Nothing a job raises, not even failing to save its own failed
        state on a full disk, may end this loop: every later job would wait for ever."""
        lower_thread_priority(WORKER_NICE)
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run_one(job)
            except BaseException as exc:  # noqa: BLE001 - the worker must outlive any job
                log.exception("job worker: job %s", job.id)
                with job.cond:
                    if job.status in ACTIVE:
                        job.status, job.message, job.finished = "error", f"{type(exc).__name__}: {exc}", time.time()
                        job.emit("error", done=job.done, total=job.total, message=job.message)
            finally:
                self._current = None

    def _run_one(self, job: Job) -> None:
        with self._lock:
            if job.status != "queued":
                return  # cancelled while queued
            job.status, job.started, job.attempts = "running", time.time(), job.attempts + 1
            self._current = job
        job.save()
        job.emit("started", attempt=job.attempts)
        try:
            result = self.runner(job)
        except Cancelled:
            if job.interrupt:
                self._finish(job, "interrupted", "the engine stopped while this job was running; resume it to finish")
            else:
                self._finish(job, "cancelled", "cancelled; finished frames are kept")
        except EngineError as exc:
            self._finish(job, "error", str(exc))
        except OSError as exc:
            self._finish(job, "error", disk_message(exc))
        except Exception as exc:  # a bug: the job fails, the engine keeps serving
            log.exception("job %s failed", job.id)
            self._finish(job, "error", f"internal error: {type(exc).__name__}: {exc}")
        else:
            job.result = result
            self._finish(job, "done", "")

    def _finish(self, job: Job, status: str, message: str) -> None:
        """The status and its event change together, so a follower never sees one without the other."""
        extra = {"result": job.result} if status == "done" else {"message": message}
        with job.cond:
            job.status, job.message, job.finished = status, message, time.time()
            job.emit(status, done=job.done, total=job.total, **extra)
        try:
            job.save()
        except OSError as exc:  # a full disk: the status is right in memory; the file says what it said
            log.error("job %s: cannot save its %s state: %s", job.id, status, exc)

    def interrupt_running(self) -> None:
        """Stop the running job at its next frame, as `interrupted` (resumable); does not wait."""
        self._stopping = True
        current = self._current
        if current is not None:
            current.interrupt = True
            current.cancel_token.cancel()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the running job so it can be resumed later (marked `interrupted`, frames kept)."""
        self.interrupt_running()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        for job in self.jobs.values():
            if job.status == "queued":
                self._finish(job, "interrupted", "the engine stopped before this job started; resume it to run")
