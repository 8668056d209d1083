"""The one line between a usable matte and a weak one: every front end (CLI, server, add-on) and
every `track.jsonl` record ("weak") takes the flag from here, so they agree on which frames an
artist should look at. The tracker's confidence is an estimate of the matte's quality (its IoU
with the truth, roughly); docs/CONFIDENCE.md says how it is built and how this line was chosen."""

from __future__ import annotations

WEAK_BELOW = 0.58  # a tracked frame whose confidence is below this is weak (docs/CONFIDENCE.md)


def is_weak(confidence: float, keyframe: bool = False) -> bool:
    """Whether a frame's matte is weak (pure function). A keyframe's own matte is the artist's, never
    weak."""
    return not keyframe and float(confidence) < WEAK_BELOW
