"""Pure pieces of the server and client: mask RLE, the streamed zip, loopback and root checks."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.errors import EngineError
from engine.server.archive import zip_stream
from engine.server.masks import rle_decode, rle_encode
from engine.server.security import Forbidden, Roots, check_listen, is_loopback, token_ok
from engine.server.uploads import check_sha, safe_suffix
from tests.conftest_server import load_client


@pytest.mark.parametrize("mask", [np.zeros((3, 4), bool), np.ones((3, 4), bool),
                                  np.eye(5, dtype=bool), np.random.default_rng(0).random((17, 23)) > 0.5])
def test_rle_round_trip_server_and_client(mask):
    rle = rle_encode(mask)
    assert sum(rle["counts"]) == mask.size
    assert np.array_equal(rle_decode(rle), mask)
    assert np.array_equal(load_client().decode_rle(rle), mask)


def test_rle_starts_with_background_run():
    assert rle_encode(np.array([[True, False, False]]))["counts"] == [0, 1, 2]
    with pytest.raises(EngineError):
        rle_decode({"size": [2, 2], "counts": [1, 1]})


def test_zip_stream_is_a_valid_archive(tmp_path):
    files = []
    for i in range(3):
        p = tmp_path / f"{i:05d}.png"
        p.write_bytes(bytes([i]) * (1000 + i))
        files.append((p, f"masks/a/{p.name}"))
    files.append((tmp_path / "gone.png", "masks/a/gone.png"))
    data = b"".join(zip_stream(files))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.namelist() == [f"masks/a/{i:05d}.png" for i in range(3)]
        assert z.read("masks/a/00002.png") == bytes([2]) * 1002


def test_loopback_and_listen_policy():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    check_listen("127.0.0.1", None)
    check_listen("0.0.0.0", "t")
    with pytest.raises(EngineError, match="--token"):
        check_listen("0.0.0.0", None)
    assert token_ok("Bearer abc", "abc") and not token_ok("Bearer abd", "abc") and not token_ok(None, "abc")
    assert token_ok(None, None)


def test_roots_resolve_before_checking(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "ok.mp4").write_bytes(b"x")
    (inside / "esc").symlink_to(outside)
    roots = Roots([inside])
    assert roots.check(str(inside / "ok.mp4")) == (inside / "ok.mp4").resolve()
    for bad in (f"{inside}/../out/a.mp4", str(inside / "esc" / "a.mp4"), "/"):
        with pytest.raises(Forbidden):
            roots.check(bad)
    with pytest.raises(EngineError):
        roots.check("relative.mp4")
    assert roots.check_video(str(inside / "shot.%04d.png")).endswith("shot.%04d.png")
    with pytest.raises(Forbidden):
        roots.check_video(str(inside / "esc" / "shot.%04d.png"))


def test_upload_names_are_safe():
    assert check_sha("A" * 64) == "a" * 64
    with pytest.raises(EngineError):
        check_sha("../" + "a" * 61)
    assert safe_suffix("shot.MOV") == ".mov" and safe_suffix("x.../../etc") == ".bin" and safe_suffix("") == ".bin"


def test_client_mismatch_message_names_the_side_to_update():
    client = load_client()
    assert "update the add-on" in client.mismatch_message(client.PROTOCOL + 1)
    assert "update the engine" in client.mismatch_message(client.PROTOCOL - 1)


def test_client_and_engine_protocols_are_bumped_together():
    import engine

    assert load_client().PROTOCOL == engine.PROTOCOL


def test_neighbour_frames_are_prefetched_for_segmenters_that_encode(synthetic_movie):
    """A learned segmenter's per-frame encoding of frame±1 starts right after a click on frame."""
    import threading

    from engine.backends.base import SegmentResult, Segmenter
    from engine.server.service import LockedSegmenter
    from engine.video_io import open_video

    class EncodingSegmenter(Segmenter):
        name = "encoding"

        def __init__(self):
            self.encoded, self.done = [], threading.Event()

        def segment(self, image, points, labels, prev_mask=None, cache_key=None):
            return SegmentResult(np.ones(image.shape[:2], bool), 1.0)

        def prefetch(self, image, cache_key):
            self.encoded.append(cache_key)
            if len(self.encoded) == 2:
                self.done.set()
            return True

    inner = EncodingSegmenter()
    with open_video(synthetic_movie) as video:
        LockedSegmenter(inner).prefetch_neighbours(video, "clip", 5)
        assert inner.done.wait(10)
    assert inner.encoded == [("clip", 6), ("clip", 4)]


def test_neighbour_guesses_never_push_a_clicked_frame_out_of_a_full_cache(synthetic_movie):
    """With the classical segmenter's cache full, a click queues no neighbour prefetch: the frames
    people are clicking stay cached (16 clients on one engine thrashed it before)."""
    from engine.backends import create
    from engine.server.service import LockedSegmenter
    from engine.video_io import open_video

    inner = create("segmenter", "classical", cache_frames=2)
    locked = LockedSegmenter(inner)
    with open_video(synthetic_movie) as video:
        for frame in (3, 9):
            inner.prefetch(video.read(frame), ("clip", frame))
        assert len(inner.cache) == inner.cache.capacity
        assert locked.prefetch_neighbours(video, "clip", 3) == []
        time.sleep(0.5)
    assert sorted(k[1] for k in inner.cache.keys()) == [3, 9]
    locked.close()


def test_a_thread_safe_segmenter_runs_no_more_clicks_at_once_than_its_slots():
    """Clicks beyond the cores wait their turn instead of sharing the cores with the others (16
    clients at once made every click as slow as all of them together)."""
    from engine.server.service import LockedSegmenter

    class CountingSegmenter:
        name, concurrent_segment = "counting", True

        def __init__(self):
            self.now = self.most = 0
            self.lock = threading.Lock()

        def segment(self, *args, **kwargs):
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            time.sleep(0.05)
            with self.lock:
                self.now -= 1

    inner = CountingSegmenter()
    locked = LockedSegmenter(inner, slots=2)
    threads = [threading.Thread(target=locked.segment) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    locked.close()
    assert inner.most == 2 and inner.now == 0


def test_host_names_parse_without_port_or_brackets():
    from engine.server.security import host_name

    assert host_name("127.0.0.1:8765") == "127.0.0.1"
    assert host_name("[::1]:8765") == "::1" and host_name("[::1]") == "::1"
    assert host_name("LocalHost.:80") == "localhost" and host_name("localhost") == "localhost"
    assert host_name("[::1") is None and host_name("") is None and host_name(None) is None


def test_host_and_origin_policy():
    from engine.server.security import allowed_hosts, host_refusal

    loop = allowed_hosts("127.0.0.1")
    assert {"localhost", "127.0.0.1", "::1"} <= loop and "evil.example" not in loop
    assert host_refusal("127.0.0.1:8765", None, loop) is None
    assert host_refusal("evil.example:8765", None, loop)[0] == 421
    assert host_refusal(None, None, loop)[0] == 421  # HTTP/1.0 without Host: not a name we answer to
    assert host_refusal("127.0.0.1:8765", "http://127.0.0.1:8765", loop) is None
    assert host_refusal("127.0.0.1:8765", "http://localhost:8765", loop) is None
    for origin in ("http://evil.example:8765", "http://127.0.0.1:3000", "null", "file://", "http://127.0.0.1:8765/x"):
        assert host_refusal("127.0.0.1:8765", origin, loop)[0] == 403, origin
    studio = allowed_hosts("10.0.0.5", ["studio.lan"])
    assert host_refusal("studio.lan:8765", "https://studio.lan:8765", studio) is None
    assert host_refusal("studio.lan", "https://studio.lan", studio) is None  # behind a TLS proxy
    assert host_refusal("studio.lan", "https://studio.lan:8443", studio)[0] == 403
    assert host_refusal("10.0.0.5:8765", None, studio) is None
    anywhere = allowed_hosts("0.0.0.0")  # with a token: the token is the defence
    assert anywhere is None and host_refusal("any.name:1", None, anywhere) is None
    assert host_refusal("any.name:1", "http://other.name:1", anywhere)[0] == 403


def test_bearer_scheme_is_case_insensitive():
    assert token_ok("bearer abc", "abc") and token_ok("BEARER  abc ", "abc")
    assert not token_ok("Basic abc", "abc") and not token_ok("Bearer", "abc") and not token_ok("abc", "abc")


def test_image_header_size_without_decoding():
    import cv2

    from engine.server.masks import check_mask_header, image_header_size

    png = cv2.imencode(".png", np.zeros((48, 64), np.uint8))[1].tobytes()
    jpeg = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].tobytes()
    assert image_header_size(png) == (64, 48) and image_header_size(jpeg) == (64, 48)
    assert image_header_size(png[:20]) is None and image_header_size(b"GIF89a") is None
    check_mask_header(png, 64, 48)
    with pytest.raises(EngineError, match="64x48, the video is 32x24"):
        check_mask_header(png, 32, 24)
    with pytest.raises(EngineError, match="not a readable"):
        check_mask_header(b"BM" + b"\0" * 60, 64, 48)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_job_worker_runs_at_lower_cpu_priority(tmp_path):
    """Clicks are served in request threads at normal priority; the tracker must not take their cores."""
    from engine.server.jobs import WORKER_NICE, JobManager

    me = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, me)
    manager = JobManager(tmp_path, lambda job: {})
    manager.start()
    try:
        stat = Path(f"/proc/{os.getpid()}/task/{manager._thread.native_id}/stat")
        deadline = time.monotonic() + 5
        while int(stat.read_text().rsplit(")", 1)[1].split()[16]) != min(19, before + WORKER_NICE):
            assert time.monotonic() < deadline, "the worker thread was not reniced"
            time.sleep(0.01)
        assert manager.worker_alive()
    finally:
        manager.shutdown()
    assert os.getpriority(os.PRIO_PROCESS, me) == before  # only the worker thread


def test_prefetch_serves_the_playhead_frame_before_the_neighbour_guesses():
    import threading

    from engine.server.prefetch import Prefetcher

    gate, started, done, order = threading.Event(), threading.Event(), threading.Event(), []

    def work(reader, key):
        if key == "busy":
            started.set()
            gate.wait(5)
        order.append(key)
        if len(order) == 3:
            done.set()

    p = Prefetcher(work, max_pending=3)  # the frame being worked on counts
    assert p.submit(None, "busy") and started.wait(5)  # the thread is held on this one
    assert p.submit(None, "left guess") and p.submit(None, "right guess")
    assert not p.submit(None, "left guess")  # queued already
    assert not p.submit(None, "third guess")  # full: a guess is refused
    assert p.submit(None, "playhead", urgent=True)  # full: pushes out the newest guess
    gate.set()
    assert done.wait(5)
    p.close()
    assert order == ["busy", "playhead", "left guess"]
