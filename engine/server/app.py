"""The HTTP API (FastAPI): routes map one-to-one onto Engine operations; errors are always
`{"error": "one line"}` with a 4xx status the client can show as is.

Blocking work (decoding, segmenting, file I/O) runs in plain `def` routes, which FastAPI puts on
its thread pool, so clicks from several clients run side by side while the job worker is busy.
Event streams are async and wait on the event loop, so idle followers hold no pool thread.
"""

from __future__ import annotations

import errno
import json
import logging
import re
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import PROTOCOL, __version__
from ..config import MAX_FRAME_INDEX
from ..errors import EngineError
from . import masks as wire
from .archive import zip_stream
from .jobs import TERMINAL
from .schemas import ClickBody, NewObject, OpenSession, RangeBody, RemoveBody, StartUpload, TrackBody, UpdateObject
from .security import Busy, allowed_hosts, error_body, host_refusal, recheck_sessions, token_ok
from .service import Engine, ServerConfig

log = logging.getLogger("vta.server")

FrameParam = PathParam(ge=0, le=MAX_FRAME_INDEX)
_END_EVENTS = {"done", "error", "cancelled", "interrupted"}
_PNG = {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}
_SESSION_PATH = re.compile(r"^/v1/sessions/([^/]+)")
ObjectId = Annotated[int, PathParam(ge=1, le=1_000_000, description="the object's id (not its name: a name "
                                                                    "such as '2' could shadow another object's id)")]
MIN_CLIP_SIDE = 16  # the optical flow (DIS) needs 12 px per side; 16 leaves one coarse pyramid level
MAX_EVENT_STREAMS = 1000


# ---- middleware: token and body size, before any route runs -----------------------------------------
class Guard:
    """Pure ASGI middleware, in this order: a Host the engine does not answer to (421, DNS
    rebinding) or another site's Origin (403); a missing token (401); a restored session that lies
    outside today's roots (403); bodies over the limit for their route (413), counted as they
    arrive so a missing or lying Content-Length is caught."""

    def __init__(self, app, config: ServerConfig, refused: dict | None = None) -> None:
        self.app, self.config = app, config
        self.allowed = allowed_hosts(config.extra.get("listen_host", "127.0.0.1"), config.extra.get("allow_hosts", ()))
        self.refused = refused if refused is not None else {}

    def limit_for(self, method: str, path: str) -> int:
        if method == "PUT" and path.startswith("/v1/uploads/"):
            return self.config.max_chunk_bytes
        if method == "PUT" and "/keyframes/" in path:
            return self.config.max_mask_bytes
        return self.config.max_json_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = host_refusal(headers.get("host"), headers.get("origin"), self.allowed)
        if refusal is not None:
            return await _reject(send, *refusal)
        if not token_ok(headers.get("authorization"), self.config.token):
            return await _reject(send, 401, "missing or wrong token: send 'Authorization: Bearer <token>'",
                                 [(b"www-authenticate", b"Bearer")])
        match = _SESSION_PATH.match(scope["path"])
        if match and match.group(1) in self.refused:
            return await _reject(send, 403, self.refused[match.group(1)])
        limit = self.limit_for(scope["method"], scope["path"])
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return await _reject(send, 400, "Content-Length must be a number")
            if int(length) > limit:
                return await _reject(send, 413, f"request body of {length} bytes is over this route's limit of {limit} bytes")
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLargeHTTP(limit)
            return message

        return await self.app(scope, counted_receive, send)


class TooLargeHTTP(StarletteHTTPException):
    """Raised while reading a body; an HTTPException so FastAPI's body parsing passes it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over this route's limit of {limit} bytes")


async def _reject(send, status: int, message: str, extra_headers=()) -> None:
    body = error_body(message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra_headers]})
    await send({"type": "http.response.body", "body": body})


# ---- error mapping ----------------------------------------------------------------------------------
def _install_error_handlers(app: FastAPI, config: ServerConfig) -> None:
    @app.exception_handler(EngineError)
    async def engine_error(request: Request, exc: EngineError):
        return JSONResponse({"error": str(exc)}, status_code=getattr(exc, "status", 400))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details[:5]) or "invalid request"
        return JSONResponse({"error": summary, "details": details}, status_code=422)

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where = exc.filename or f"the engine's state folder {config.state_dir}"
            return JSONResponse({"error": f"the disk is full (writing '{where}'): free space and retry"},
                                status_code=507)
        return await internal_error(request, exc)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):  # a bug; still one line of JSON
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)


def _unique(refs):
    """Object ids in first-seen order without repeats: `[1, 1, 1]` is one object, tracked once."""
    return list(dict.fromkeys(refs)) if refs else None


def _mask_reply(obj, frame: int, mask, confidence, keyframe, fmt: str) -> dict:
    reply = {"object": obj, "frame": frame, "confidence": confidence, "keyframe": keyframe}
    if mask is not None:
        reply["width"], reply["height"] = int(mask.shape[1]), int(mask.shape[0])
        reply.update(wire.encode_mask(mask, fmt))
    return reply


def create_app(config: ServerConfig) -> FastAPI:
    engine_holder: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        engine_holder["engine"].close()

    app = FastAPI(title="VSE Track Anything engine", version=__version__, lifespan=lifespan,
                  description=f"Protocol {PROTOCOL}. Errors are JSON objects {{\"error\": \"...\"}}.")
    engine = Engine(config)
    engine_holder["engine"] = engine
    app.state.engine = engine
    # sessions restored from an earlier run must still lie under today's roots (uploads are the engine's own)
    app.state.refused_sessions = recheck_sessions(engine.store, engine.roots, [engine.uploads.dir])
    for reason in app.state.refused_sessions.values():
        log.warning("%s", reason)
    app.add_middleware(Guard, config=config, refused=app.state.refused_sessions)
    streams = {"open": 0}
    _install_error_handlers(app, config)

    # ---- health ---------------------------------------------------------------------------------
    @app.get("/v1/health", tags=["engine"])
    def health():
        return {**engine.health(), "job_worker": "alive" if engine.jobs.worker_alive() else "dead",
                "event_streams": streams["open"]}

    # ---- uploads --------------------------------------------------------------------------------
    @app.post("/v1/uploads", tags=["uploads"])
    def start_upload(body: StartUpload):
        return engine.uploads.start(body.sha256, body.size, body.filename)

    @app.get("/v1/uploads/{sha256}", tags=["uploads"])
    def upload_status(sha256: str = PathParam(max_length=64)):
        return engine.uploads.status(sha256)

    @app.put("/v1/uploads/{sha256}", tags=["uploads"], openapi_extra={"requestBody": {
        "required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def upload_chunk(request: Request, sha256: str = PathParam(max_length=64),
                           offset: int = Query(ge=0, le=1 << 50)):
        data = await request.body()
        return await run_in_threadpool(engine.uploads.write_chunk, sha256, offset, data)

    # ---- sessions -------------------------------------------------------------------------------
    @app.get("/v1/sessions", tags=["sessions"])
    def list_sessions():
        return {"sessions": [engine.session_view(h, with_info=False) for h in list(engine.store.sessions.values())]}

    @app.post("/v1/sessions", tags=["sessions"])
    def open_session(body: OpenSession):
        handle = engine.open_session(body.path, body.upload, body.start, body.end, body.reuse)
        info = handle.info()
        if min(info["width"], info["height"]) < MIN_CLIP_SIDE:
            if not handle.session.objects:
                engine.store.delete(handle.id)
            raise EngineError(f"the clip is {info['width']}x{info['height']} pixels; the engine needs at least "
                              f"{MIN_CLIP_SIDE}x{MIN_CLIP_SIDE} (optical flow works on blocks of pixels)")
        return engine.session_view(handle)

    @app.get("/v1/sessions/{session_id}", tags=["sessions"])
    def get_session(session_id: str):
        return engine.session_view(engine.store.get(session_id))

    @app.delete("/v1/sessions/{session_id}", tags=["sessions"])
    def delete_session(session_id: str):
        engine.delete_session(session_id)
        return {"deleted": session_id}

    @app.put("/v1/sessions/{session_id}/range", tags=["sessions"])
    def set_range(session_id: str, body: RangeBody):
        return engine.set_range(session_id, body.start, body.end)

    @app.get("/v1/sessions/{session_id}/frames/{frame}/preview", tags=["sessions"],
             responses={200: {"content": {"image/jpeg": {}}}})
    def preview(session_id: str, frame: int = FrameParam, max_size: int = Query(1024, ge=16, le=8192),
                quality: int = Query(85, ge=10, le=100)):
        image = engine.preview(session_id, frame)
        return Response(wire.preview_jpeg(image, max_size, quality), media_type="image/jpeg")

    @app.post("/v1/sessions/{session_id}/frames/{frame}/prefetch", tags=["sessions"], status_code=202)
    def prefetch(session_id: str, frame: int = FrameParam):
        """The playhead stopped on `frame`: compute its segmenter features in the background."""
        return engine.prefetch(session_id, frame)

    # ---- objects --------------------------------------------------------------------------------
    @app.post("/v1/sessions/{session_id}/objects", tags=["objects"])
    def add_object(session_id: str, body: NewObject):
        return engine.add_object(session_id, body.name, body.color)

    @app.patch("/v1/sessions/{session_id}/objects/{obj}", tags=["objects"])
    def update_object(session_id: str, obj: ObjectId, body: UpdateObject):
        return engine.update_object(session_id, obj, body.name, body.color)

    @app.delete("/v1/sessions/{session_id}/objects/{obj}", tags=["objects"])
    def remove_object(session_id: str, obj: ObjectId):
        engine.remove_object(session_id, obj)
        return {"deleted": obj}

    # ---- clicks and keyframes -------------------------------------------------------------------
    @app.post("/v1/sessions/{session_id}/objects/{obj}/clicks", tags=["clicks"])
    def click(session_id: str, obj: ObjectId, body: ClickBody):
        mask, conf, key = engine.click(session_id, obj, body.frame, body.x, body.y, body.positive)
        return _mask_reply(key["object"], body.frame, mask, conf, key, body.format)

    @app.post("/v1/sessions/{session_id}/objects/{obj}/clicks/undo", tags=["clicks"])
    def undo_click(session_id: str, obj: ObjectId, frame: int = Query(ge=0, le=MAX_FRAME_INDEX),
                   format: Literal["rle", "png", "both", "none"] = "rle"):
        mask, conf, key = engine.undo_click(session_id, obj, frame)
        return _mask_reply(key["object"] if key else obj, frame, mask, conf, key, format)

    @app.get("/v1/sessions/{session_id}/keyframes", tags=["clicks"])
    def list_keyframes(session_id: str):
        return {"keyframes": engine.keyframes(session_id)}

    @app.get("/v1/sessions/{session_id}/objects/{obj}/keyframes/{frame}", tags=["clicks"], responses={200: _PNG})
    def keyframe_mask(session_id: str, obj: ObjectId, frame: int = FrameParam):
        return FileResponse(engine.keyframe_mask_path(session_id, obj, frame), media_type="image/png")

    @app.put("/v1/sessions/{session_id}/objects/{obj}/keyframes/{frame}", tags=["clicks"],
             openapi_extra={"requestBody": {"required": True, **_PNG}})
    async def import_mask(request: Request, session_id: str, obj: ObjectId, frame: int = FrameParam):
        data = await request.body()
        clip = await run_in_threadpool(lambda: engine.store.get(session_id).info())
        wire.check_mask_header(data, clip["width"], clip["height"])  # before decoding: no decompression bomb
        mask = await run_in_threadpool(wire.decode_png_mask, data)
        return await run_in_threadpool(engine.import_mask, session_id, obj, frame, mask)

    @app.delete("/v1/sessions/{session_id}/objects/{obj}/keyframes/{frame}", tags=["clicks"])
    def clear_keyframe(session_id: str, obj: ObjectId, frame: int = FrameParam):
        engine.clear_keyframe(session_id, obj, frame)
        return {"deleted": frame}

    @app.get("/v1/sessions/{session_id}/objects/{obj}/confidence", tags=["results"])
    def confidence(session_id: str, obj: ObjectId, low: float = Query(0.5, ge=0, le=1, allow_inf_nan=False)):
        conf = engine.confidence(session_id, obj)
        return {"object": obj, "frames": {str(f): c for f, c in sorted(conf.items())},
                "low": sorted(f for f, c in conf.items() if c < low)}

    # ---- results --------------------------------------------------------------------------------
    @app.get("/v1/sessions/{session_id}/results", tags=["results"])
    def results(session_id: str):
        return engine.results(session_id)

    @app.get("/v1/sessions/{session_id}/results/masks/{obj}/{frame}", tags=["results"], responses={200: _PNG})
    def mask_result(session_id: str, obj: ObjectId, frame: int = FrameParam):
        return FileResponse(engine.mask_result_path(session_id, obj, frame), media_type="image/png")

    @app.get("/v1/sessions/{session_id}/results/clean/{frame}", tags=["results"], responses={200: _PNG})
    def clean_result(session_id: str, frame: int = FrameParam):
        return FileResponse(engine.clean_result_path(session_id, frame), media_type="image/png")

    @app.get("/v1/sessions/{session_id}/results/archive", tags=["results"],
             responses={200: {"content": {"application/zip": {}}}})
    def archive(session_id: str, kind: Literal["masks", "clean", "all"] = "all",
                objects: str | None = Query(None, max_length=4096, pattern=r"^[0-9,]*$", description="comma-separated object ids"),
                start: int | None = Query(None, ge=0, le=MAX_FRAME_INDEX), end: int | None = Query(None, ge=0, le=MAX_FRAME_INDEX)):
        refs = _unique(int(o) for o in objects.split(",") if o) if objects else None
        files = engine.archive_files(session_id, kind, refs, start, end)
        return StreamingResponse(zip_stream(files), media_type="application/zip",
                                 headers={"content-disposition": f'attachment; filename="{session_id}-{kind}.zip"'})

    # ---- jobs -----------------------------------------------------------------------------------
    @app.post("/v1/sessions/{session_id}/track", tags=["jobs"])
    def track(session_id: str, body: TrackBody):
        return engine.submit_track(session_id, _unique(body.objects), body.start, body.end, body.direction,
                                   body.matte_format, body.matte).to_dict()

    @app.post("/v1/sessions/{session_id}/remove", tags=["jobs"])
    def remove(session_id: str, body: RemoveBody):
        return engine.submit_remove(session_id, _unique(body.objects), body.start, body.end, body.dilate,
                                    body.resize_ratio).to_dict()

    @app.get("/v1/jobs", tags=["jobs"])
    def list_jobs(session: str | None = Query(None, max_length=64)):
        return {"jobs": [j.to_dict() for j in engine.jobs.list(session)]}

    @app.get("/v1/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: str):
        return engine.jobs.get(job_id).to_dict()

    @app.post("/v1/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel_job(job_id: str):
        return engine.jobs.cancel(job_id).to_dict()

    @app.post("/v1/jobs/{job_id}/resume", tags=["jobs"])
    def resume_job(job_id: str):
        return engine.jobs.resume(job_id).to_dict()

    @app.get("/v1/jobs/{job_id}/events", tags=["jobs"], responses={200: {"content": {"application/x-ndjson": {}}}})
    async def job_events(job_id: str, since: int = Query(0, ge=0), follow: bool = True,
                         heartbeat: float = Query(10.0, ge=0.1, le=60, allow_inf_nan=False)):
        """Newline-delimited JSON events after `since`; with follow, the stream stays open until
        the job ends (a `ping` line is sent after `heartbeat` seconds of silence). A stream waits
        on the event loop, not in a request thread, so idle followers cost no thread."""
        job = engine.jobs.get(job_id)
        if follow and streams["open"] >= MAX_EVENT_STREAMS:
            raise Busy(f"too many event streams open ({MAX_EVENT_STREAMS}); poll with follow=false")

        async def lines():
            last = since
            streams["open"] += 1
            try:
                while True:
                    events = job.events_since(last)
                    if follow and not events and job.status not in TERMINAL:
                        await job.wait_async(last, heartbeat)
                        events = job.events_since(last)
                    for event in events:
                        last = event["seq"]
                        yield json.dumps(event) + "\n"
                    if not follow:
                        return
                    if events and events[-1]["event"] in _END_EVENTS and job.status in TERMINAL:
                        return
                    if not events:
                        if job.status in TERMINAL:
                            return
                        yield json.dumps({"event": "ping", "seq": last, "job": job.id}) + "\n"
            finally:
                streams["open"] -= 1

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    return app
