"""The matte finish's settings: one frozen object, built by name (unknown names are refused), kept
in the session so that a re-track finishes its frames the same way."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from ..backends.params import BackendParams
from ..errors import EngineError
from ..fileio import MATTE_FORMATS

EDGE_MODES = ("refined", "tracker")


@dataclass(frozen=True)
class MatteParams(BackendParams):
    grow: float = 0.0  # px at full resolution: the edge moves out by this much (negative: chokes in)
    feather: float = 0.0  # px: Gaussian softening of the finished edge (soft formats only)
    edges: str = "refined"  # soft formats: "refined" alpha from the image near the edge, "tracker" its probability
    band: float = 0.016  # × long side: half-width of the band around the boundary where alpha is estimated
    eps: float = 0.01  # regularisation of the edge-aware filter (larger: smoother, less edge-following)
    temporal: float = 0.6  # 0..1: how much an edge pixel keeps its motion-compensated previous alpha where the image agrees

    def __post_init__(self) -> None:
        for name in ("grow", "feather", "band", "eps", "temporal"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, not {value!r}")
        if self.edges not in EDGE_MODES:
            raise ValueError(f"edges must be one of {', '.join(EDGE_MODES)}, not {self.edges!r}")
        if not -500 <= self.grow <= 500:
            raise ValueError(f"grow must be between -500 and 500 px, not {self.grow}")
        if not 0 <= self.feather <= 200:
            raise ValueError(f"feather must be between 0 and 200 px, not {self.feather}")
        if not 0 < self.band <= 0.1:
            raise ValueError(f"band must be above 0 and at most 0.1 (× long side), not {self.band}")
        if not 0 < self.eps <= 1:
            raise ValueError(f"eps must be above 0 and at most 1, not {self.eps}")
        if not 0 <= self.temporal < 1:
            raise ValueError(f"temporal must be at least 0 and below 1, not {self.temporal}")

    def changed(self) -> dict:
        """The settings that differ from the defaults (what a session stores)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}

    def tag(self, matte_format: str) -> str | None:
        """What names this finish in a frame's signature: None for the default hard PNG (so frames
        written before finishing existed stay current), else the format and the changed settings."""
        changed = self.changed()
        if matte_format == "png8":  # a hard matte: only the edge's position counts
            changed = {k: v for k, v in changed.items() if k == "grow"}
            if not changed:
                return None
        return matte_format + (json.dumps(changed, sort_keys=True, separators=(",", ":")) if changed else "")


def checked_request(matte_format: str | None, options: dict | None) -> dict | None:
    """A track request's matte format and finish, checked by name and range: the finish as the
    settings that differ from the defaults, or None (keep the session's)."""
    if matte_format is not None and matte_format not in MATTE_FORMATS:
        raise EngineError(f"matte format must be one of: {', '.join(MATTE_FORMATS)}")
    return None if options is None else MatteParams.from_options("matte", options).changed()


def check_soft_only(options: dict | None, matte_format: str) -> None:
    """Only `grow` applies to a hard (png8) matte: anything else asked of one is refused, not ignored."""
    soft_only = sorted(set(options or {}) - {"grow"})
    if soft_only and matte_format == "png8":
        raise EngineError(f"the matte options {', '.join(soft_only)} apply to soft mattes only: "
                          "choose the png16 or exr matte format")
