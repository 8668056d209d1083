"""The server's safeguards of issue #15, each against a real engine process on loopback: DNS
rebinding and cross-origin pages, symlinked frames escaping the roots (also after a restart with a
narrower root), names that shadow ids, a full disk (a real tmpfs), idle event streams, a
decompression bomb, and the smaller input checks."""

from __future__ import annotations

import errno
import http.client
import json
import os
import random
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.evaluation.synthetic import SyntheticClip
from engine.fileio import encode_png, mask_to_png_array
from tests.conftest_server import EngineProcess, load_client, session_with_keyframe


def raw(engine, method, path, body=None, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=timeout)
    headers = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def wait_job(client, job_id: str, timeout: float = 60.0) -> dict:
    """Poll until the job ends; a job stuck `queued` (a dead worker) fails the test instead of hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.job(job_id)
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s")


def write_frames(folder: Path, clip: SyntheticClip) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(clip.frames):
        cv2.imwrite(str(folder / f"f{i:04d}.png"), np.ascontiguousarray(clip.frame(i)[:, :, ::-1]))


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    base = tmp_path_factory.mktemp("security")
    allowed, outside = base / "allowed", base / "outside"
    clip = SyntheticClip(64, 48, 4)
    write_frames(allowed / "seq", clip)
    write_frames(allowed / "leaky", clip)
    write_frames(outside / "secret", clip)
    (allowed / "leaky" / "f0002.png").unlink()
    (allowed / "leaky" / "f0002.png").symlink_to(outside / "secret" / "f0002.png")
    movie = clip.write_movie(allowed / "in.mp4")
    proc = EngineProcess(base, roots=[allowed]).start()
    proc.allowed, proc.outside, proc.movie, proc.clip = allowed, outside, movie, clip
    yield proc
    proc.stop()


# ---- 1. DNS rebinding and cross-origin pages -------------------------------------------------------------
def test_foreign_host_is_refused_loopback_names_pass(engine):
    s = engine.client().open_session(str(engine.movie))
    evil = {"Host": f"evil.example:{engine.port}", "Origin": f"http://evil.example:{engine.port}"}
    for method, path, body in [("GET", "/v1/health", None), ("POST", "/v1/sessions", {"path": str(engine.movie)}),
                               ("GET", f"/v1/sessions/{s['id']}/frames/0/preview", None)]:
        status, data = raw(engine, method, path, body, evil)
        assert status == 421 and "--allow-host" in json.loads(data)["error"], (path, status, data)
        status, _ = raw(engine, method, path, body, {"Host": f"evil.example:{engine.port}"})
        assert status == 421, path
    for host in ("127.0.0.1", "localhost", "[::1]", "LOCALHOST"):
        assert raw(engine, "GET", "/v1/health", headers={"Host": f"{host}:{engine.port}"})[0] == 200, host


def test_cross_origin_requests_are_refused(engine):
    own = f"http://127.0.0.1:{engine.port}"
    body = {"path": str(engine.movie)}
    for origin in ("http://evil.example", f"http://evil.example:{engine.port}", "http://localhost:3000", "null"):
        status, data = raw(engine, "POST", "/v1/sessions", body, {"Origin": origin})
        assert status == 403 and "cross-origin" in json.loads(data)["error"], (origin, status)
    assert raw(engine, "POST", "/v1/sessions", body, {"Origin": own})[0] == 200
    assert raw(engine, "POST", "/v1/sessions", body)[0] == 200  # no Origin: not a browser page


def test_allow_host_admits_a_named_host(tmp_path):
    proc = EngineProcess(tmp_path, args=("--allow-host", "studio.lan")).start()
    try:
        assert raw(proc, "GET", "/v1/health", headers={"Host": f"studio.lan:{proc.port}"})[0] == 200
        assert raw(proc, "GET", "/v1/health", headers={"Host": f"other.lan:{proc.port}"})[0] == 421
    finally:
        proc.stop()


# ---- 2. symlinked frames and restored sessions ---------------------------------------------------
def test_symlinked_frame_in_a_sequence_is_refused(engine):
    client, Err = engine.client(), load_client().EngineHTTPError
    assert client.open_session(str(engine.allowed / "seq"))["frame_count"] == 4
    assert client.open_session(str(engine.allowed / "seq" / "f%04d.png"))["frame_count"] == 4
    for path in (engine.allowed / "leaky", engine.allowed / "leaky" / "f%04d.png"):
        with pytest.raises(Err) as err:
            client.open_session(str(path))
        assert err.value.status == 403 and "f0002.png" in str(err.value) and "outside" in str(err.value), path


def test_restored_session_outside_the_new_roots_is_unavailable(tmp_path):
    wide, narrow = tmp_path / "wide", tmp_path / "wide" / "narrow"
    narrow.mkdir(parents=True)
    clip = SyntheticClip(64, 48, 3)
    kept, dropped = clip.write_movie(narrow / "kept.mp4"), clip.write_movie(wide / "dropped.mp4")
    proc = EngineProcess(tmp_path, roots=[wide]).start()
    try:
        client = proc.client()
        s_kept, s_dropped = client.open_session(str(kept)), client.open_session(str(dropped))
    finally:
        proc.stop()
    proc.roots = [narrow]
    proc.start()
    try:
        client = proc.client()
        assert client.session(s_kept["id"])["id"] == s_kept["id"]
        for path in (f"/v1/sessions/{s_dropped['id']}", f"/v1/sessions/{s_dropped['id']}/frames/0/preview"):
            status, data = raw(proc, "GET", path)
            assert status == 403 and "unavailable" in json.loads(data)["error"] \
                and "outside the folders" in json.loads(data)["error"], (path, status, data)
        assert s_dropped["id"] not in [s["id"] for s in client.sessions()]
    finally:
        proc.stop()


# ---- 3. ids, not names, in paths ---------------------------------------------------------------------------
def test_a_name_cannot_shadow_an_id(engine):
    client = engine.client()
    s = client.open_session(str(engine.movie), reuse=False)
    named_two = client.add_object(s["id"], "2")
    car = client.add_object(s["id"], "car")
    assert (named_two["id"], car["id"]) == (1, 2)
    client.remove_object(s["id"], 2)
    assert [(o["id"], o["name"]) for o in client.session(s["id"])["objects"]] == [(1, "2")]
    status, data = raw(engine, "DELETE", f"/v1/sessions/{s['id']}/objects/car")
    assert status == 422 and "integer" in json.loads(data)["error"]


# ---- 4. a full disk ------------------------------------------------------------------------------
@pytest.fixture
def tiny_disk(tmp_path):
    """A real 4 MiB tmpfs; skipped where mounting is not permitted (not root, no CAP_SYS_ADMIN)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(disk: Path, leave_pages: int = 0) -> Path:
    """Write a filler file until the disk is full, then give back `leave_pages` 4 KiB pages."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave_pages * 4096 - (size % 4096)))
    return filler


def test_full_disk_does_not_kill_the_job_worker(tmp_path, tiny_disk):
    proc = EngineProcess(tmp_path)
    proc.state = tiny_disk / "state"
    clip = SyntheticClip(64, 48, 30)
    movie = clip.write_movie(proc.home / "clip.mp4")
    proc.start()
    try:
        client = proc.client()
        s, obj = session_with_keyframe(client, movie, clip)
        filler = fill(tiny_disk, leave_pages=2)
        job = client.track(s["id"], direction="forward")
        failed = wait_job(client, job["id"])
        assert failed["status"] == "error", failed
        filler.unlink()
        client.resume(job["id"])  # a dead worker leaves it `queued` for ever
        assert wait_job(client, job["id"])["status"] == "done"
        assert "disk is full" in failed["message"], failed
        assert client.health()["job_worker"] == "alive"
        # outside jobs: 507 naming where, and no phantom object left behind
        filler = fill(tiny_disk)
        status, data = raw(proc, "POST", f"/v1/sessions/{s['id']}/objects", {"name": "ghost"})
        assert status == 507 and "disk is full" in json.loads(data)["error"], (status, data)
        folders = sorted(p.name for p in (proc.state / "sessions").iterdir())
        status, data = raw(proc, "POST", "/v1/sessions", {"path": str(movie), "reuse": False})
        assert status == 507 and "disk is full" in json.loads(data)["error"], (status, data)
        assert sorted(p.name for p in (proc.state / "sessions").iterdir()) == folders  # no empty session folder
        filler.unlink()
        assert [o["name"] for o in client.session(s["id"])["objects"]] == [obj["name"]]
    finally:
        proc.stop()


# ---- 5. idle event streams ------------------------------------------------------------------------------
def test_idle_event_streams_do_not_stall_other_requests(tmp_path):
    proc = EngineProcess(tmp_path)
    clip = SyntheticClip(320, 180, 120)
    movie = clip.write_movie(proc.home / "long.mp4")
    proc.start()
    sockets = []
    try:
        client = proc.client()
        jobs = []
        for _ in range(3):  # the last job waits in the queue behind two busy ones: its followers idle
            s = client.open_session(str(movie), reuse=False)
            obj = client.add_object(s["id"], "blob")
            client.import_mask(s["id"], obj["id"], 0, encode_png(mask_to_png_array(clip.mask(0))))
            jobs.append(client.track(s["id"], direction="forward"))
        request = (f"GET /v1/jobs/{jobs[-1]['id']}/events?heartbeat=60 HTTP/1.1\r\n"
                   f"Host: 127.0.0.1:{proc.port}\r\n\r\n").encode()
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", proc.port), timeout=30)
            sock.sendall(request)
            sockets.append(sock)
        time.sleep(0.5)
        t0 = time.perf_counter()
        status, data = raw(proc, "GET", "/v1/health", timeout=20)
        elapsed = time.perf_counter() - t0
        print(f"\n/v1/health with 200 idle event streams: {elapsed * 1000:.1f} ms "
              f"({json.loads(data).get('event_streams')} streams open)")
        assert status == 200 and elapsed < 1.0
        assert client.job(jobs[-1]["id"])["status"] in ("queued", "running"), "the streams were not idle"
    finally:
        for sock in sockets:
            sock.close()
        proc.stop()


# ---- 6. decompression bomb ------------------------------------------------------------------------------
def png_bomb(side: int) -> bytes:
    """A valid 8-bit grey PNG of side x side zero pixels, a few hundred KB on the wire."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor, row, parts = zlib.compressobj(9), b"\0" * (side + 1), []
    block = row * 500
    for _ in range(side // 500):
        parts.append(compressor.compress(block))
    parts.append(compressor.flush())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_oversized_mask_refused_before_decoding(engine):
    client = engine.client()
    s = client.open_session(str(engine.movie))
    obj = client.add_object(s["id"], f"bomb{random.randrange(10**6)}")
    bomb = png_bomb(20000)
    assert len(bomb) < 2_000_000
    before = peak_rss_mb(engine.proc.pid)
    status, data = raw(engine, "PUT", f"/v1/sessions/{s['id']}/objects/{obj['id']}/keyframes/0", bomb,
                       {"Content-Type": "image/png"})
    grown = peak_rss_mb(engine.proc.pid) - before
    assert status == 400 and "20000x20000" in json.loads(data)["error"]
    assert grown < 100, f"peak memory grew by {grown:.0f} MB: the PNG was decoded"


# ---- 7. the smaller ones ----------------------------------------------------------------------------------
def test_repeated_object_ids_are_tracked_once(engine):
    client = engine.client()
    s, obj = session_with_keyframe(client, engine.movie, engine.clip, name=f"dup{random.randrange(10**6)}")
    job = client._request("POST", f"/v1/sessions/{s['id']}/track",
                          {"objects": [str(obj["id"])] * 256, "direction": "forward"})
    assert job["params"]["objects"] == [obj["id"]]
    assert wait_job(client, job["id"])["total"] <= engine.clip.frames


def test_clip_below_the_minimum_size_is_refused_when_opened(engine):
    tiny = engine.allowed / "tiny"
    tiny.mkdir()
    for i in range(3):
        cv2.imwrite(str(tiny / f"t{i}.png"), np.full((2, 2, 3), 40 * i, np.uint8))
    with pytest.raises(load_client().EngineHTTPError) as err:
        engine.client().open_session(str(tiny))
    assert err.value.status == 400 and "2x2" in str(err.value) and "16x16" in str(err.value)
    assert not any(s["video"] == str(tiny) for s in engine.client().sessions())


def test_lower_case_bearer_is_accepted(tmp_path):
    proc = EngineProcess(tmp_path, token="tok").start()
    try:
        assert raw(proc, "GET", "/v1/health", headers={"Authorization": "bearer tok"})[0] == 200
        assert raw(proc, "GET", "/v1/health", headers={"Authorization": "BEARER tok"})[0] == 200
        assert raw(proc, "GET", "/v1/health", headers={"Authorization": "bearer nope"})[0] == 401
    finally:
        proc.stop()


def test_corrupt_movie_is_reported_as_corrupt(engine):
    """Bytes of the index (moov) flipped: FFmpeg's generic error -1 must not read as a permission problem."""
    good = bytearray(engine.movie.read_bytes())
    moov = good.find(b"moov")
    messages = []
    for seed in range(24):
        rng = random.Random(seed)
        bad = bytearray(good)
        for _ in range(3):
            bad[rng.randrange(moov, len(bad))] = rng.randrange(256)
        path = engine.allowed / f"corrupt{seed}.mp4"
        path.write_bytes(bytes(bad))
        status, data = raw(engine, "POST", "/v1/sessions", {"path": str(path), "reuse": False})
        if status != 200:
            messages.append(json.loads(data)["error"])
    assert messages and not [m for m in messages if "not permitted" in m], messages
