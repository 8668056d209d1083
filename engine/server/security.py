"""Who may talk to the engine and which files it may touch.

The engine reads clips and writes mattes on the user's disks on behalf of whoever connects, so:
it listens on loopback unless a token is given, requires that token on every request when set,
only opens paths under the allowed roots (resolved first, so neither `..` nor a symlink escapes),
and bounds the size of every request body.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import socket
import tempfile
from pathlib import Path

from ..errors import EngineError
from ..video_io import list_sequence

MiB = 1024 * 1024


class Forbidden(EngineError):
    status = 403


class TooLarge(EngineError):
    status = 413


class Busy(EngineError):
    status = 503


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine ('localhost', 127.x, ::1)."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:  # a host name: every address it resolves to must be loopback
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            return False
        return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def check_listen(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise EngineError(f"refusing to listen on '{host}' without --token: anyone on the network could "
                          f"read and write your files; pass --token SECRET (or VTA_TOKEN) or use 127.0.0.1")


def token_ok(header: str | None, token: str | None) -> bool:
    """Constant-time check of an 'Authorization: Bearer T' header against the server token (the
    scheme name is case-insensitive, RFC 7235, so 'bearer T' is accepted too)."""
    if not token:
        return True
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


# ---- DNS rebinding: which names the server answers to ------------------------------------------------
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "ip6-localhost")
_WILDCARDS = ("0.0.0.0", "::", "")


def host_name(value: str | None) -> str | None:
    """The host part of a Host header or an Origin's netloc, lower case, without port or brackets
    ('[::1]:8765' → '::1', 'Localhost.:80' → 'localhost'); None when it cannot be parsed."""
    if value is None:
        return None
    text = value.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (text[end + 1:] and not text[end + 1:].startswith(":")):
            return None
        return text[1:end] or None
    name = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    name = name.rstrip(".")
    return name or None


def allowed_hosts(listen_host: str, extra: list[str] | tuple[str, ...] = ()) -> frozenset[str] | None:
    """The Host names the server answers to: loopback, the address it listens on and each
    --allow-host. None (any name) only when listening on every address with a token and no
    --allow-host: the token, which a web page cannot know, is then the defence."""
    names = {host_name(h) for h in extra if host_name(h)}
    listen = host_name(listen_host) if listen_host not in _WILDCARDS else None
    if listen_host in _WILDCARDS and not names:
        return None
    return frozenset({*LOOPBACK_NAMES, *names, *([listen] if listen else [])})


def host_refusal(host_header: str | None, origin: str | None, allowed: frozenset[str] | None) -> tuple[int, str] | None:
    """(status, message) when a request must be refused, else None. A Host not in the allow-list
    is what a DNS-rebinding page sends (421); an Origin other than the server's own is a web page
    of another site (403). Requests without Origin (the add-on, curl) are not browsers' and pass."""
    name = host_name(host_header)
    if allowed is not None and name not in allowed:
        return 421, (f"this engine does not answer to host '{host_header}': use 127.0.0.1 or localhost, "
                     f"or start it with --allow-host NAME")
    if origin is None:
        return None
    scheme, sep, netloc = origin.strip().lower().partition("://")
    if not sep or scheme not in ("http", "https") or "/" in netloc:
        return 403, f"cross-origin requests are refused (Origin: {origin})"
    origin_name = host_name(netloc)
    same_port = _port(netloc) == _port((host_header or "").strip().lower())  # None: the scheme's default
    if origin_name is None or not same_port or (allowed is not None and origin_name not in allowed) \
            or (allowed is None and origin_name != name):
        return 403, f"cross-origin requests are refused (Origin: {origin}); a web page may not drive the engine"
    return None


def _port(netloc: str) -> int | None:
    """The explicit port of a host[:port] (None when absent: the scheme's default, which a Host
    header behind a TLS proxy leaves out as the browser's Origin does)."""
    tail = netloc.rsplit("]", 1)[-1] if netloc.startswith("[") else netloc
    if ":" in tail:
        digits = tail.rsplit(":", 1)[1]
        return int(digits) if digits.isdigit() else -1
    return None


def default_roots() -> list[Path]:
    """The user's home and the system temp folder: where artists keep footage and renders."""
    return [Path.home(), Path(tempfile.gettempdir())]


class Roots:
    """The folders the engine may read clips from and write results to."""

    def __init__(self, roots: list[str | os.PathLike]) -> None:
        resolved = []
        for r in roots:
            p = Path(r).expanduser()
            if not p.is_dir():
                raise EngineError(f"allowed root '{r}' is not a folder")
            resolved.append(p.resolve())
        self.roots = resolved

    def check(self, path: str | os.PathLike, what: str = "path") -> Path:
        """The resolved path if it lies under an allowed root, else Forbidden. Resolving follows
        every symlink and '..' first, so what is checked is where the file really is."""
        text = str(path)
        if not text or "\x00" in text:
            raise EngineError(f"{what} is empty or contains a NUL byte")
        p = Path(text).expanduser()
        if not p.is_absolute():
            raise EngineError(f"{what} '{text}' must be an absolute path")
        try:
            real = p.resolve()
        except (OSError, RuntimeError) as exc:  # symlink loops
            raise EngineError(f"{what} '{text}' cannot be resolved: {exc}") from None
        for root in self.roots:
            if real == root or real.is_relative_to(root):
                return real
        raise Forbidden(f"{what} '{text}' is outside the folders this engine may use "
                        f"({', '.join(map(str, self.roots))}); start it with --root to allow more")

    def check_video(self, path: str) -> str:
        """Like check() but keeps a printf pattern (shot.%04d.exr), and for an image sequence (a
        folder or a pattern) checks every frame file too: the reader follows a frame that is a
        symlink, so a folder inside a root could otherwise serve pixels from anywhere."""
        if "%" in Path(path).name:
            folder = self.check(str(Path(path).parent), "video folder")
            checked = str(folder / Path(path).name)
        else:
            checked = str(self.check(path, "video"))
        if "%" in Path(checked).name or Path(checked).is_dir():
            try:
                files = list_sequence(checked)
            except OSError as exc:
                raise EngineError(f"cannot list the frames of '{path}': {exc.strerror or exc}") from None
            for file in files:
                self.check(str(file), "frame")
        return checked


def recheck_sessions(store, roots: Roots, also_allowed: list[Path]) -> dict[str, str]:
    """Sessions restored from disk whose clip is no longer allowed (the engine was restarted with a
    narrower --root): taken out of `store` and returned as {session id: reason}. Their folders stay,
    so a restart with the wider root brings them back."""
    refused = {}
    for sid, handle in list(store.sessions.items()):
        video = str(handle.session.video)
        if any(Path(video).resolve().is_relative_to(d.resolve()) for d in also_allowed):
            continue
        try:
            roots.check_video(video)
        except EngineError as exc:
            refused[sid] = f"session '{sid}' is unavailable: {exc}"
            del store.sessions[sid]
    return refused


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()
