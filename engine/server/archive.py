"""A zip of result frames, streamed as it is written: memory stays at one PNG whatever the clip length.

zipfile writes to a non-seekable sink using data descriptors, so each member can be sent as soon as
it is added. PNGs are already compressed, so members are stored, not deflated."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterable, Iterator


class _Sink:
    """A write-only, non-seekable file object that hands over what was written so far."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def zip_stream(files: Iterable[tuple[Path, str]]) -> Iterator[bytes]:
    """Yield the bytes of a zip holding each (file, name in archive); files that vanished are skipped."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for path, name in files:
            try:
                archive.write(path, name)
            except FileNotFoundError:
                continue
            data = sink.take()
            if data:
                yield data
    yield sink.take()
