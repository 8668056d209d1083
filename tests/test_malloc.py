"""The allocator settings that keep the 1080p clean plate's peak memory down: the arena cap and the
fixed mmap threshold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# eight threads each allocate (glibc gives a thread its own arena on its first allocation, up to
# 8 per core); malloc_stats() then lists one "Arena N:" block per arena on stderr
_PROGRAM = """
import ctypes, sys, threading
from engine.malloc import limit_arenas
print(limit_arenas() if sys.argv[1] == "limit" else "unlimited")
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
gate = threading.Barrier(8)
def work():
    gate.wait()
    blocks = [libc.malloc(4096) for _ in range(64)]
    gate.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
sys.stdout.flush()
libc.malloc_stats()
"""


def _run(program: str, mode: str) -> subprocess.CompletedProcess:
    """`program` in a fresh interpreter, without the MALLOC_* settings of this environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    return subprocess.run([sys.executable, "-c", program, mode], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=True)


def _arenas(mode: str) -> tuple[str, int]:
    run = _run(_PROGRAM, mode)
    return run.stdout.strip(), sum(line.startswith("Arena ") for line in run.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_threads_share_at_most_two_malloc_arenas_once_limited():
    said, limited = _arenas("limit")
    _, unlimited = _arenas("none")
    assert said == "True"
    assert unlimited > 2  # the check can see more arenas than the cap...
    assert limited <= 2  # ...and the cap holds them to two


# an 8 MiB block is mapped and freed (glibc's dynamic threshold then rises to 8 MiB), then a 6 MiB
# one is asked for: mallinfo2().hblks counts the blocks mapped on their own
_MMAP_PROGRAM = """
import ctypes, sys
from engine.malloc import fix_mmap_threshold
print(fix_mmap_threshold() if sys.argv[1] == "fix" else "dynamic")
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Info
before = libc.mallinfo2().hblks
libc.free(libc.malloc(8 << 20))
block = libc.malloc(6 << 20)
print(libc.mallinfo2().hblks - before)
"""


def _mapped_after_a_larger_free(mode: str) -> tuple[str, int]:
    said, mapped = _run(_MMAP_PROGRAM, mode).stdout.split()
    return said, int(mapped)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_blocks_stay_mapped_on_their_own_once_the_threshold_is_fixed():
    said, fixed = _mapped_after_a_larger_free("fix")
    _, dynamic = _mapped_after_a_larger_free("dynamic")
    assert said == "True"
    assert dynamic == 0  # glibc's default: the freed 8 MiB raised the threshold, the 6 MiB block came from the heap
    assert fixed == 1  # fixed at 4 MiB: it is mapped on its own, and given back when freed
