"""A shot's matte in the shots file: its format (`matte_format`, else the older `matte_bits`) and its
finish (`matte`: grow, feather, edges, temporal), checked before any work like the rest of the file,
and the `vta-engine track` flags that ask for them (commands.py)."""

from __future__ import annotations

import json

from ..errors import EngineError
from .checker import Checker

MATTE_KEYS = {"grow", "feather", "edges", "temporal"}  # what a shot may set of engine.matte.MatteParams
FLAGS = (("grow", "--matte-grow"), ("feather", "--matte-feather"), ("edges", "--matte-edges"),
         ("temporal", "--matte-steady"))


def matte_formats() -> tuple[str, ...]:
    from ..fileio import MATTE_FORMATS
    return MATTE_FORMATS


def matte_format_of(matte_format: str | None, matte_bits: int | None) -> str | None:
    """The format a shot's track commands ask for (None: the session's, png8 at first)."""
    return matte_format or {8: "png8", 16: "png16"}.get(matte_bits)


def matte_finish(chk: Checker, value, field: str) -> dict | None:
    """A matte finish {grow, feather, edges, temporal}: names and types checked here, ranges by the
    engine's own MatteParams (one truth for the bounds the CLI applies too)."""
    from ..matte.params import EDGE_MODES, MatteParams

    if not isinstance(value, dict):
        chk.error(field, f"must be an object {{{', '.join(sorted(MATTE_KEYS))}}}, got {json.dumps(value)}")
        return None
    before = len(chk.errors)
    chk.keys(value, MATTE_KEYS, field)
    for key in sorted(set(value) & MATTE_KEYS):
        if key == "edges":
            chk.choice(value[key], f"{field}.{key}", EDGE_MODES)
        else:
            chk.number(value[key], f"{field}.{key}")
    if len(chk.errors) > before:
        return None
    try:
        MatteParams.from_options("matte", value)
    except EngineError as exc:
        chk.error(field, str(exc).removeprefix("matte: "))
        return None
    return dict(value)


def check_matte(chk: Checker, finish: dict | None, matte_format: str | None, matte_bits: int | None) -> bool:
    """Soft-edge options on a hard matte would fail at the shot's first track: refuse them now."""
    from ..matte.params import MatteParams

    soft_only = sorted(set(MatteParams.from_options("matte", finish).changed()) - {"grow"})
    if soft_only and matte_format_of(matte_format, matte_bits) in (None, "png8"):
        verb = "applies" if len(soft_only) == 1 else "apply"
        chk.error("matte", f"{', '.join(soft_only)} {verb} to soft mattes only: set matte_format to png16 or exr "
                           f"(or matte_bits to 16)")
        return False
    return True


def track_flags(finish: dict | None, matte_format: str | None, matte_bits: int | None) -> list[str]:
    """The `track` flags for a shot's matte. A finish that is set is passed whole, grow always
    included: the CLI's finish then replaces the session's, so a shot whose finish was changed
    back to the defaults gets them on the next run, not the finish of the run before."""
    argv = []
    if matte_format:
        argv += ["--matte-format", matte_format]
    elif matte_bits:
        argv += ["--matte-bits", str(matte_bits)]
    if finish is not None:
        values = {"grow": 0, **finish}
        argv += [f"{flag}={values[key]:.10g}" if key != "edges" else f"{flag}={values[key]}"
                 for key, flag in FLAGS if key in values]
    return argv
