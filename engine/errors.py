"""Typed errors: every failure a user can cause maps to one of these, so the CLI and the server
can print a one-line message (or a 4xx) instead of a traceback."""


class EngineError(Exception):
    """A user-facing error; str(e) is the one-line message shown to the artist."""

    status = 400


class VideoError(EngineError):
    """The video is missing, unreadable, corrupt or empty."""


class NotFound(EngineError):
    status = 404


class Cancelled(Exception):
    """Raised by CancelToken.check() when the user cancelled; not an error."""
