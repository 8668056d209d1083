"""engine.lru.LRUCache: bounded by count, least recently used out first, one computation per key
even when several threads ask for it at once."""

from __future__ import annotations

import threading

import pytest

from engine.lru import LRUCache


def test_bounded_and_oldest_out_first():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert len(cache) == 2 and "a" not in cache and cache.keys() == ["b", "c"]


def test_use_makes_an_entry_newest():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now newer than b
    cache.put("c", 3)
    assert cache.keys() == ["a", "c"]
    cache.put("a", 10)  # overwriting also refreshes
    cache.put("d", 4)
    assert cache.keys() == ["a", "d"] and cache.get("a") == 10


def test_contains_does_not_refresh():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert "a" in cache
    cache.put("c", 3)
    assert "a" not in cache


def test_get_counts_hits_and_misses_and_gives_default():
    cache = LRUCache(3)
    cache.put(1, "x")
    assert cache.get(1) == "x" and cache.get(2) is None and cache.get(2, "dflt") == "dflt"
    assert (cache.hits, cache.misses) == (1, 2)


def test_get_or_compute_computes_once_per_key():
    cache = LRUCache(4)
    calls = []

    def compute():
        calls.append(1)
        return object()

    first = cache.get_or_compute("k", compute)
    assert cache.get_or_compute("k", compute) is first
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)


def test_an_invalid_cached_value_is_computed_again():
    cache = LRUCache(4)
    cache.put("k", 1)
    assert cache.get_or_compute("k", lambda: 2, valid=lambda v: v == 2) == 2
    assert cache.get("k") == 2


def test_clear_and_discard():
    cache = LRUCache(4)
    for k in range(3):
        cache.put(k, k)
    cache.discard(1)
    cache.discard(99)  # absent: nothing happens
    assert cache.keys() == [0, 2]
    cache.clear()
    assert len(cache) == 0 and 0 not in cache


@pytest.mark.parametrize("capacity", [0, -1, 1.5])
def test_capacity_must_be_a_positive_count(capacity):
    with pytest.raises(ValueError):
        LRUCache(capacity)


def test_concurrent_askers_of_one_key_share_one_computation():
    cache = LRUCache(4)
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow():
        calls.append(1)
        started.set()
        release.wait(5)
        return "value"

    results = []
    first = threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the first computation, not computing its own
    release.set()
    first.join(5)
    second.join(5)
    assert results == ["value", "value"] and len(calls) == 1


def test_a_failed_computation_is_not_cached_and_can_be_retried():
    cache = LRUCache(4)

    def boom():
        raise RuntimeError("decoder failed")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", boom)
    assert "k" not in cache
    assert cache.get_or_compute("k", lambda: 7) == 7


def test_other_keys_are_served_while_one_is_computed():
    cache = LRUCache(4)
    cache.put("ready", 1)
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(5)
        return 2

    worker = threading.Thread(target=lambda: cache.get_or_compute("slow", slow))
    worker.start()
    assert started.wait(5)
    assert cache.get("ready") == 1 and len(cache) == 1  # the lock is not held during compute
    release.set()
    worker.join(5)
    assert cache.get("slow") == 2


def test_stays_bounded_under_many_threads():
    cache = LRUCache(8)
    sizes = []

    def hammer(offset):
        for i in range(500):
            cache.put((offset, i % 20), i)
            cache.get((offset, (i * 7) % 20))
            cache.get_or_compute((offset, i % 11), lambda: i)
            sizes.append(len(cache))

    threads = [threading.Thread(target=hammer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sizes) == 2000 and max(sizes) == 8 and len(cache.keys()) == 8


def test_resize_keeps_the_newest_entries():
    cache = LRUCache(4)
    for key in range(4):
        cache.put(key, key)
    cache.get(0)  # now the newest
    cache.resize(2)
    assert cache.keys() == [3, 0] and cache.capacity == 2
    cache.resize(3)
    cache.put(9, 9)
    assert cache.keys() == [3, 0, 9]
    with pytest.raises(ValueError):
        cache.resize(0)
