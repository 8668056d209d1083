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

MiB = 1024 * 1024


class Forbidden(EngineError):
    status = 403


class TooLarge(EngineError):
    status = 413


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
    """Constant-time check of an 'Authorization: Bearer T' header against the server token."""
    if not token:
        return True
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode())


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
        """Like check() but keeps a printf pattern (shot.%04d.exr): its folder is what is checked."""
        if "%" in Path(path).name:
            folder = self.check(str(Path(path).parent), "video folder")
            return str(folder / Path(path).name)
        return str(self.check(path, "video"))


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()
