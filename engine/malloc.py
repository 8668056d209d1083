"""The C allocator's arenas, limited once at process start-up (Linux, glibc).

glibc gives each thread that allocates its own arena, up to 8 per core, and memory freed into one
arena is not reused by another: with frames decoded on one thread, inpainted on another and written
on a third, the engine's peak resident memory ran about 90 MiB (10 %) above what it held at 1080p.
Two arenas measured the same speed (docs/BENCHMARKS.md). MALLOC_ARENA_MAX in the environment wins.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h

log = logging.getLogger("vta")


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap the allocator's arenas at `count` for this process; call before threads start. True if
    set; False elsewhere than glibc, or when MALLOC_ARENA_MAX already says how many."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, int(count)))  # the C library already loaded
    except (OSError, AttributeError) as exc:  # musl and others have no mallopt
        log.debug("cannot limit malloc arenas: %s", exc)
        return False
