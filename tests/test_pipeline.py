"""engine.pipeline: items made ahead on a thread (Ahead) and jobs run in order behind (Behind) keep
their order, stay bounded, raise a failure on the calling thread as the original exception, and
stop promptly on cancellation or close."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import Cancelled
from engine.pipeline import Ahead, Behind
from engine.progress import CancelToken


def test_ahead_gives_every_item_in_order():
    with Ahead(iter(range(50)), depth=3) as ahead:
        assert list(ahead) == list(range(50))


def test_ahead_stays_bounded():
    made = []

    def items():
        for i in range(20):
            made.append(i)
            yield i

    with Ahead(items(), depth=2) as ahead:
        for taken in range(20):
            time.sleep(0.02)  # a slow consumer: the maker would run far ahead if it could
            # the queue holds `depth`, and one more waits in the maker's hand
            assert len(made) - taken <= 2 + 1
            assert next(ahead) == taken


def test_ahead_ready_says_whether_taking_would_wait():
    go = threading.Event()

    def items():
        yield 1
        go.wait(5)
        yield 2

    with Ahead(items(), depth=2) as ahead:
        deadline = time.monotonic() + 5
        while not ahead.ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ahead.ready() and next(ahead) == 1
        time.sleep(0.05)
        assert not ahead.ready()  # the maker is held before the second item
        go.set()
        assert next(ahead) == 2


def test_ahead_raises_the_makers_error_on_the_consumer():
    error = ValueError("frame 3 is broken")

    def items():
        yield 1
        yield 2
        raise error

    ahead = Ahead(items())
    assert next(ahead) == 1 and next(ahead) == 2
    with pytest.raises(ValueError) as caught:
        next(ahead)
    assert caught.value is error
    with pytest.raises(StopIteration):
        next(ahead)
    ahead.close()


def test_ahead_close_stops_an_endless_maker_promptly():
    closed = threading.Event()

    def items():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    ahead = Ahead(items(), depth=2)
    assert next(ahead) == 0
    t = time.monotonic()
    ahead.close()
    assert time.monotonic() - t < 1.0
    assert closed.is_set() and not ahead._thread.is_alive()
    with pytest.raises(StopIteration):
        next(ahead)


def test_ahead_checks_cancel_while_waiting_for_a_slow_maker():
    cancel = CancelToken()
    release = threading.Event()

    def items():
        release.wait(5)
        yield 1

    ahead = Ahead(items(), cancel=cancel)
    threading.Timer(0.1, cancel.cancel).start()
    t = time.monotonic()
    with pytest.raises(Cancelled):
        next(ahead)
    assert time.monotonic() - t < 1.0
    release.set()
    ahead.close()


def test_behind_runs_jobs_in_order_and_reports_their_results():
    ran = []
    with Behind(depth=2) as behind:
        for i in range(30):
            behind.submit(lambda i=i: ran.append(i) or i)
    assert ran == list(range(30))


def test_behind_results_in_order_as_they_finish():
    behind = Behind(depth=4)
    for i in range(10):
        behind.submit(lambda i=i: i * 10)
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 10 and time.monotonic() < deadline:
        got += behind.results()
    assert got == [i * 10 for i in range(10)]
    behind.submit(lambda: "last")
    behind.finish()
    assert behind.results() == ["last"] and behind.results() == []


def test_behind_stays_bounded():
    release = threading.Event()
    started = []
    behind = Behind(depth=2)
    behind.submit(lambda: started.append(0) or release.wait(5))  # the worker holds this one
    while not started:
        time.sleep(0.01)
    behind.submit(lambda: None)
    behind.submit(lambda: None)  # two waiting: the queue is full
    blocked = threading.Event()

    def fourth():
        behind.submit(lambda: None)
        blocked.set()

    threading.Thread(target=fourth, daemon=True).start()
    assert not blocked.wait(0.3)  # submit waits while `depth` jobs wait
    release.set()
    assert blocked.wait(5)
    behind.finish()


def test_behind_raises_a_jobs_error_on_the_submitter_and_runs_nothing_after():
    error = OSError(28, "No space left on device")
    ran = []

    def fail():
        raise error

    behind = Behind(depth=2)
    behind.submit(lambda: ran.append(1))
    behind.submit(fail)
    with pytest.raises(OSError) as caught:
        for i in range(100):
            behind.submit(lambda i=i: ran.append(i + 2))
            time.sleep(0.01)
    assert caught.value is error
    behind.abort()
    assert ran == [1]  # nothing after the failed job ran
    assert not behind._thread.is_alive()


def test_behind_finish_raises_the_error_of_the_last_job():
    behind = Behind()
    behind.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        behind.finish()
    assert not behind._thread.is_alive()


def test_behind_cancel_stops_a_submit_waiting_on_a_full_queue():
    cancel = CancelToken()
    release = threading.Event()
    behind = Behind(depth=1, cancel=cancel)
    behind.submit(lambda: release.wait(5))
    behind.submit(lambda: None)
    threading.Timer(0.1, cancel.cancel).start()
    t = time.monotonic()
    with pytest.raises(Cancelled):
        behind.submit(lambda: None)
    assert time.monotonic() - t < 1.0
    release.set()
    behind.abort()


def test_behind_leaving_by_an_exception_drops_waiting_jobs():
    release, started = threading.Event(), threading.Event()
    ran = []
    with pytest.raises(KeyError):
        with Behind(depth=4) as behind:
            behind.submit(lambda: started.set() or (release.wait(5) and ran.append("running")))
            for i in range(3):
                behind.submit(lambda i=i: ran.append(i))
            assert started.wait(5)  # on a loaded machine the worker may not have taken it yet
            threading.Timer(0.2, release.set).start()  # the running job ends while the block is left
            raise KeyError("main loop failed")
    assert ran == ["running"]  # it finished; the jobs waiting behind it never ran
    assert not behind._thread.is_alive()
