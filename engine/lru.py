"""One small thread-safe LRU cache, bounded by a count of entries, for everything the engine keeps
per frame (decoded frames, a segmenter's per-frame features or embeddings): memory stays bounded
however many frames are visited, and the frames used last stay.

`get_or_compute` computes outside the lock, so a slow computation for one key never blocks reads of
the others, and a second caller asking for a key that is being computed waits for that result
instead of computing it again (a background prefetch and a click on the same frame share one
computation: the engine has two cores, and a duplicate would slow both)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _checked(capacity) -> int:
    if int(capacity) != capacity or capacity < 1:
        raise ValueError(f"an LRU cache holds at least 1 entry, not {capacity!r}")
    return int(capacity)


class LRUCache(Generic[K, V]):
    """At most `capacity` entries; using an entry (get, put, a hit of get_or_compute) makes it the
    newest, and adding one beyond the capacity drops the oldest. `hits` and `misses` count lookups
    through get and get_or_compute (a miss of get_or_compute is one computation)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = _checked(capacity)
        self._items: OrderedDict[K, V] = OrderedDict()
        self._pending: dict[K, threading.Event] = {}  # keys being computed by get_or_compute
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
            return default

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._store(key, value)

    def get_or_compute(self, key: K, compute: Callable[[], V],
                       valid: Callable[[V], bool] | None = None) -> V:
        """The cached value of `key`, else `compute()` stored under it. `valid(value)` can refuse a
        cached value (e.g. a key reused for a different image); it is then computed again."""
        while True:
            with self._lock:
                if key in self._items and (valid is None or valid(self._items[key])):
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key]
                pending = self._pending.get(key)
                if pending is None:
                    done = self._pending[key] = threading.Event()
                    break
            pending.wait()  # another thread computes this key: use its result if it is valid for us
        try:
            value = compute()
            with self._lock:
                self.misses += 1
                self._store(key, value)
        finally:
            with self._lock:
                del self._pending[key]
            done.set()
        return value

    def resize(self, capacity: int) -> None:
        """Hold at most `capacity` entries from now on (the oldest go first)."""
        capacity = _checked(capacity)
        with self._lock:
            self.capacity = capacity
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def discard(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def keys(self) -> list[K]:
        """The keys held, oldest first (a copy: safe to use while other threads add entries)."""
        with self._lock:
            return list(self._items)

    def __contains__(self, key: object) -> bool:
        """Whether `key` is held; does not make it newer."""
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _store(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
