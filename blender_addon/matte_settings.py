"""The matte finish the artist sets in the Track panel (Soft Edges, Grow/Choke, Feather, Steady),
as the engine's track request and the batch's shots file name it. No bpy: the operators pass the
panel's values in.

Only what differs from the engine's defaults is sent, and nothing at all while the panel and the
engine session are both at the defaults: an engine older than the matte finish refuses fields it
does not know, and a hard matte with no grow must keep working with it. The engine's `matte`
replaces the session's finish, so going back to the defaults after a soft track does send `{}`
and `png8`."""

from __future__ import annotations

from dataclasses import dataclass, field

HARD, SOFT = "png8", "png16"
DEFAULTS = {"grow": 0.0, "feather": 0.0, "temporal": 0.6}  # engine.matte.MatteParams' defaults
MATTE_FILE_KEYS = ("matte_bits", "matte_format", "matte")  # a shots file's settings of the matte


@dataclass(frozen=True)
class Finish:
    matte_format: str = HARD
    options: dict = field(default_factory=dict)  # only the options that differ from DEFAULTS

    @property
    def is_default(self) -> bool:
        return self.matte_format == HARD and not self.options


def finish(soft: bool, grow: float, feather: float, steady: float) -> Finish:
    """The panel's values as the engine takes them: a soft matte is a 16-bit PNG; Feather and
    Steady belong to soft edges only (the engine refuses them on a hard matte), so they are left
    out when Soft Edges is off, whatever the greyed-out fields still hold."""
    values = {"grow": round(float(grow), 3)}
    if soft:
        values.update(feather=round(float(feather), 3), temporal=round(float(steady), 3))
    return Finish(SOFT if soft else HARD, {k: v for k, v in values.items() if v != DEFAULTS[k]})


def request_fields(wanted: Finish, session_view: dict) -> dict:
    """The track body's matte fields, given the engine session as it is now (its view says
    `matte_format`, and `matte` from engines that finish mattes): a field is sent when the panel
    asks for something other than the defaults, or the session holds something else to be undone."""
    fields = {}
    if wanted.matte_format != HARD or (session_view.get("matte_format") or HARD) != HARD:
        fields["matte_format"] = wanted.matte_format
    if wanted.options or session_view.get("matte"):
        fields["matte"] = dict(wanted.options)
    return fields


def refusal(status: int, message: str, fields: dict) -> str | None:
    """The line to show when the engine refused a track request over its matte fields (400: the
    options do not fit the format; 422: out of bounds, or an engine that has no such field), the
    actionable part first and the engine's own words after; None when it is not about them."""
    if not fields or status not in (400, 422) or "matte" not in message:
        return None
    if "extra" in message.lower() or "not permitted" in message.lower():
        return ("this engine has no matte settings: update it, or turn Soft Edges off and set Grow/Choke to 0 "
                f"(engine: {message})")
    return f"the engine refused the matte settings: {message}"


def shot_fields(wanted: Finish, file_defaults: dict | None) -> dict:
    """What a shots-file entry says of its matte: the artist's format and finish when they are not
    the defaults, or when the file's defaults set a matte of their own (which would otherwise apply
    to this shot instead of what the artist saw)."""
    if wanted.is_default and not any(k in (file_defaults or {}) for k in MATTE_FILE_KEYS):
        return {}
    return {"matte_format": wanted.matte_format, "matte": dict(wanted.options)}
