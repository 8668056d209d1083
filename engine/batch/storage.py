"""Every shot's `out` must be writable, and on a cluster be the same storage for the driver and
every worker. A probe file is how both are checked: the driver writes it before any work starts,
and each Ray task reads it back before running its shot."""

from __future__ import annotations

import uuid

from ..errors import EngineError
from .shots import Shot

PROBE = ".vta-batch-probe"


def write_probes(shots: list[Shot]) -> str:
    """Create every shot's `out` and write a probe in it (proves it writable now; lets each task
    prove it sees the same storage). Returns the probe's token."""
    token = uuid.uuid4().hex
    problems = []
    for shot in shots:
        try:
            shot.out.mkdir(parents=True, exist_ok=True)
            (shot.out / PROBE).write_text(token)
        except OSError as exc:
            problems.append(f"shot '{shot.name}': out '{shot.out}' is not writable: {exc.strerror or exc}")
    if problems:
        remove_probes(shots)
        raise EngineError("; ".join(problems))
    return token


def remove_probes(shots: list[Shot]) -> None:
    for shot in shots:
        try:
            (shot.out / PROBE).unlink()
        except OSError:
            pass
