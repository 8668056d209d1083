"""Clicks before jobs on a shared engine: the job worker gives way to clicks in flight, click
slots are handed out first come first served, and a session's reader keeps the frames clicked."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import Cancelled
from engine.progress import CancelToken
from engine.server.priority import FairSlots, InFlight


def test_a_cancel_check_gives_way_unless_the_job_is_cancelled():
    calls = []
    token = CancelToken(give_way=lambda: calls.append(1))
    token.check()
    assert calls == [1]
    token.cancel()
    with pytest.raises(Cancelled):
        token.check()
    assert calls == [1]  # a cancelled job stops at once, it does not wait for the clicks first


def test_in_flight_wait_ends_with_the_last_request_or_at_the_limit():
    clicks = InFlight()
    assert clicks.wait_until_none(5.0) is True  # none in flight: no wait
    with clicks:
        t0 = time.monotonic()
        assert clicks.wait_until_none(0.2) is False
        assert time.monotonic() - t0 >= 0.19
    clicks.__enter__()

    def end_click():
        time.sleep(0.1)
        clicks.__exit__(None, None, None)

    ender = threading.Thread(target=end_click)
    t0 = time.monotonic()
    ender.start()
    assert clicks.wait_until_none(5.0) is True
    assert time.monotonic() - t0 < 2.0  # woken by the end of the click, not by the limit
    ender.join()
    assert clicks.count == 0


def _queue_up(slots: FairSlots, name: str, order: list) -> threading.Thread:
    """A thread that takes a slot, records its name and gives the slot back; returns once it waits."""
    def run():
        with slots:
            order.append(name)

    thread = threading.Thread(target=run)
    before = len(slots._waiting)
    thread.start()
    deadline = time.monotonic() + 5
    while len(slots._waiting) == before:
        assert time.monotonic() < deadline, f"{name} never queued"
        time.sleep(0.005)
    return thread


def test_click_slots_go_to_the_longest_waiter_first_and_no_newcomer_jumps_the_queue():
    slots, order = FairSlots(1), []
    slots.__enter__()  # a click holds the only slot
    waiters = [_queue_up(slots, name, order) for name in ("a", "b", "c")]
    slots.__exit__(None, None, None)
    with slots:  # a newcomer asking right after the release waits behind all three
        order.append("newcomer")
    for thread in waiters:
        thread.join(5)
    assert order == ["a", "b", "c", "newcomer"]


def test_click_slots_run_no_more_than_their_count_at_once():
    slots, lock, now, most = FairSlots(2), threading.Lock(), [0], [0]

    def click():
        with slots:
            with lock:
                now[0] += 1
                most[0] = max(most[0], now[0])
            time.sleep(0.03)
            with lock:
                now[0] -= 1

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most[0] == 2 and now[0] == 0
    with pytest.raises(ValueError):
        FairSlots(0)


def test_the_engine_holds_its_job_between_frames_while_a_click_is_answered(tmp_path):
    """The wiring: a job's cancel token waits on the engine's clicks in flight, for at most the
    configured time (clicks on a 2-core machine waited behind the tracker's frames)."""
    from engine.server.service import Engine, ServerConfig

    engine = Engine(ServerConfig(state_dir=tmp_path / "state", roots=[tmp_path], job_gives_way_s=0.3))
    try:
        token = CancelToken(engine.jobs.give_way)
        t0 = time.monotonic()
        token.check()
        assert time.monotonic() - t0 < 0.2  # no click in flight: no wait
        with engine.clicks:
            t0 = time.monotonic()
            token.check()
            assert time.monotonic() - t0 >= 0.29
    finally:
        engine.close()


def test_a_session_reader_keeps_as_many_decoded_frames_as_clients_click_on(synthetic_movie):
    """16 clients clicking 16 frames of one movie made every click decode from a keyframe again."""
    from engine.video_io import open_video

    with open_video(synthetic_movie) as video:
        frame_bytes = video.width * video.height * 3
        assert video.keep(32, 1 << 40) == 32
        for frame in range(20):
            video.read(frame)
        hits = video._cache.hits
        video.read(0)
        assert video._cache.hits == hits + 1  # still held, not decoded again
        assert video.keep(32, 12 * frame_bytes) == 12  # the memory bound wins
        assert video.keep(2, 1 << 40) == 8  # never fewer than a reader keeps anyway
