"""Words the panel shows, as pure functions (no bpy; unit-tested in tests/test_addon_mapping.py):
the short first line of an error, the object list's counts, the progress line with its ETA."""

from __future__ import annotations

PANEL_ERROR_CHARS = 120


def short_line(message: str, limit: int = PANEL_ERROR_CHARS) -> str:
    """The first line of a message, cut at `limit` characters with an ellipsis: what the panel
    shows next to the step that failed (the full text goes to the Info log and the status bar)."""
    first = (message.strip().splitlines() or [""])[0]
    return first if len(first) <= limit else first[:limit - 1].rstrip() + "…"


def wrap(text: str, width: int, max_lines: int = 6) -> list[str]:
    """Words into lines of at most `width` characters (a longer word stands alone)."""
    lines, line = [], ""
    for w in text.split():
        if len(line) + len(w) + 1 > width and line:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    if line:
        lines.append(line)
    return lines[:max_lines]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def count_label(keyframes: int, clicks: int) -> str:
    """"2 keyframes · 4 clicks"."""
    return f"{plural(keyframes, 'keyframe')} · {plural(clicks, 'click')}"


def duration(seconds: float) -> str:
    seconds = int(round(max(seconds, 0.0)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def progress_line(done: int, total: int, elapsed: float, done_at_start: int = 0) -> str:
    """"12/60 · 0m 40s left": the ETA from the rate since this job started (frames that were
    already done when it started — a resumed job — do not count towards the rate)."""
    line = f"{done}/{total}"
    fresh = done - done_at_start
    if total and 0 < fresh and done < total and elapsed > 0:
        line += f" · {duration(elapsed / fresh * (total - done))} left"
    return line
