"""Atomic file writes: a result on disk is either complete or absent, never truncated.

Every writer goes to a temporary file in the same folder and renames it over the target, so a
cancelled run, a crash or kill -9 leaves either the old file or the new one. The file gets the
mode a plain open() would give (0666 less the umask: 0644 under 022), not mkstemp's private 0600,
so another user or a render farm can read the results. Imports nothing of the engine, so every
writer (fileio, media) can build on it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _read_umask() -> int:
    """The process umask, read without changing it where the system says it (/proc on Linux);
    elsewhere set and restored at once, here at import, before any writer thread runs."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK


def publish_file(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """A finished temporary file: flushed to disk, given the umask's mode, renamed over `path`."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), FILE_MODE)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def sweep_partial_files(folder: str | os.PathLike) -> int:
    """Delete the temporary files a killed writer left in `folder` (`.<name>.<random>.tmp`, see
    atomic_write_bytes); call it only where no other writer is at work. Returns how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    gone = 0
    for path in folder.glob(".*.tmp"):
        path.unlink(missing_ok=True)
        gone += 1
    return gone
