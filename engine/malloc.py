"""The C allocator, set once at process start-up (Linux, glibc): how many arenas, and from which
size a block comes straight from the kernel.

glibc gives each thread that allocates its own arena, up to 8 per core, and memory freed into one
arena is not reused by another: with frames decoded on one thread, inpainted on others and written
on a third, the engine's peak resident memory ran about 90 MiB (10 %) above what it held at 1080p.
Two arenas measured the same speed (docs/BENCHMARKS.md).

glibc also raises its mmap threshold to the size of each large block freed (up to 32 MiB), so the
many frame-sized arrays of a run end up in the arenas' heaps, where freed memory is seldom given
back: with two frames' clean plates estimated at once the 1080p peak rose by 40-80 MiB. A fixed
threshold of 4 MiB keeps blocks that large mapped on their own and returned when freed, at the same
speed (docs/BENCHMARKS.md). MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ in the environment win.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

ARENAS = 2
MMAP_THRESHOLD = 4 << 20  # bytes
_M_ARENA_MAX = -8  # mallopt parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3

log = logging.getLogger("vta")


def tune_allocator() -> None:
    """Both settings, for the engine's processes (the CLI and the server call this first)."""
    limit_arenas()
    fix_mmap_threshold()


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap the allocator's arenas at `count` for this process; call before threads start. True if
    set; False elsewhere than glibc, or when MALLOC_ARENA_MAX already says how many."""
    return _mallopt(_M_ARENA_MAX, count, "MALLOC_ARENA_MAX")


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Blocks of `size` bytes or more mapped on their own (returned to the system when freed),
    whatever was freed before. True if set; False elsewhere than glibc, or when
    MALLOC_MMAP_THRESHOLD_ already says."""
    return _mallopt(_M_MMAP_THRESHOLD, size, "MALLOC_MMAP_THRESHOLD_")


def _mallopt(param: int, value: int, env: str) -> bool:
    if not sys.platform.startswith("linux") or env in os.environ:
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(param, int(value)))  # the C library already loaded
    except (OSError, AttributeError) as exc:  # musl and others have no mallopt
        log.debug("cannot set malloc option %d: %s", param, exc)
        return False
