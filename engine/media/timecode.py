"""SMPTE timecode as sources carry it ("01:00:00:12"; ";" before the frames for drop-frame) and
as the outputs write it: each output frame gets its own timecode, the clip's first timecode plus
the frame's offset, so a clean plate or a matte lines up with the source in an editor.

Pure functions (tested in tests/test_media_stamps.py). Timecode counts frames at the nominal rate
(24 for 23.976, 30 for 29.97); drop-frame (29.97 and 59.94 only) skips the first 2 (4) frame
labels of every minute but each tenth, so its labels keep pace with the clock.
"""

from __future__ import annotations

import re

from ..errors import VideoError

_TEXT = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2})$")
_DAY_SECONDS = 24 * 3600


def nominal_rate(fps: float) -> int:
    """The whole frame rate timecode counts at (30 for 29.97)."""
    rate = int(round(fps))
    if rate <= 0:
        raise VideoError(f"no timecode at {fps:g} fps")
    return rate


def _drop_per_minute(fps: float) -> int:
    """Frame labels a drop-frame timecode skips each minute: 2 at 29.97, 4 at 59.94; refused at
    other rates, where drop-frame has no meaning."""
    rate = nominal_rate(fps)
    if rate not in (30, 60) or abs(fps - rate * 1000 / 1001) > 0.01:
        raise VideoError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {fps:g}")
    return rate // 15


def parse(text: str) -> tuple[int, int, int, int, bool]:
    """(hours, minutes, seconds, frames, drop) of "HH:MM:SS:FF" or "HH:MM:SS;FF" (also "." and ","
    before the frames, as some tools write drop-frame)."""
    match = _TEXT.match(text.strip())
    if not match:
        raise VideoError(f"'{text}' is not a timecode (HH:MM:SS:FF)")
    h, m, s, sep, f = match.groups()
    h, m, s, f = int(h), int(m), int(s), int(f)
    if h > 23 or m > 59 or s > 59:
        raise VideoError(f"'{text}' is not a timecode (hours 0-23, minutes and seconds 0-59)")
    return h, m, s, f, sep != ":"


def to_frames(text: str, fps: float) -> int:
    """Frames since 00:00:00:00 of a timecode at `fps`."""
    h, m, s, f, drop = parse(text)
    rate = nominal_rate(fps)
    if f >= rate:
        raise VideoError(f"'{text}' has frame {f}, past the {rate} a second of {fps:g} fps")
    frames = ((h * 60 + m) * 60 + s) * rate + f
    if drop:
        skip, minutes = _drop_per_minute(fps), h * 60 + m
        if s == 0 and f < skip and m % 10:
            raise VideoError(f"'{text}' is a label drop-frame timecode skips")
        frames -= skip * (minutes - minutes // 10)
    return frames


def format_timecode(h: int, m: int, s: int, f: int, drop: bool) -> str:
    return f"{h:02d}:{m:02d}:{s:02d}{';' if drop else ':'}{f:02d}"


def from_frames(frames: int, fps: float, drop: bool = False) -> str:
    """The timecode `frames` after 00:00:00:00 at `fps`, wrapping at 24 hours."""
    rate = nominal_rate(fps)
    if drop:
        skip = _drop_per_minute(fps)
        per_ten = rate * 600 - 9 * skip  # real frames in ten minutes
        per_minute = rate * 60 - skip
        frames %= per_ten * 6 * 24  # a day
        tens, rest = divmod(frames, per_ten)
        frames += 9 * skip * tens + (skip * ((rest - skip) // per_minute) if rest > skip else 0)
    frames %= rate * _DAY_SECONDS
    seconds, f = divmod(frames, rate)
    return format_timecode(seconds // 3600, seconds // 60 % 60, seconds % 60, f, drop)


def offset(text: str, frames: int, fps: float) -> str:
    """The timecode `frames` after `text` at `fps`, in the same (drop or not) counting."""
    return from_frames(to_frames(text, fps) + frames, fps, parse(text)[4])


def usable(text: str | None, fps: float) -> str | None:
    """A source's timecode in the form outputs write, or None when there is none or it cannot be
    counted at the clip's rate (better no timecode on the outputs than a wrong one)."""
    if not text:
        return None
    try:
        return from_frames(to_frames(text, fps), fps, parse(text)[4])
    except VideoError:
        return None


def pack_smpte(text: str) -> tuple[int, int]:
    """The SMPTE 12M packed form OpenImageIO's `smpte:TimeCode` takes (EXR timeCode, DPX header):
    binary-coded decimal digits, the drop-frame flag in bit 6, no user bits."""
    h, m, s, f, drop = parse(text)
    bcd = [(f, 0), (s, 8), (m, 16), (h, 24)]
    packed = sum(((v // 10) << (shift + 4)) | ((v % 10) << shift) for v, shift in bcd)
    return packed | (0x40 if drop else 0), 0


def unpack_smpte(value) -> str | None:
    """The timecode text of OpenImageIO's `smpte:TimeCode` (a pair of ints); None for anything else,
    such as the all-ones word a DPX writer leaves when it has no timecode."""
    if not isinstance(value, (tuple, list)) or not value or not isinstance(value[0], int):
        return None
    packed = value[0]
    pairs = [((packed >> (shift + 4)) & tens, (packed >> shift) & 0xF)
             for shift, tens in ((24, 0x3), (16, 0x7), (8, 0x7), (0, 0x3))]
    if any(units > 9 for _, units in pairs):
        return None
    text = format_timecode(*(t * 10 + u for t, u in pairs), bool(packed & 0x40))
    try:
        parse(text)
    except VideoError:
        return None
    return text
