#!/usr/bin/env python3
"""Download model weights for the learned backends into the user's models folder.

    tools/fetch_models.py --list
    tools/fetch_models.py sam_vit_b sam2.1_hiera_small big_lama
    tools/fetch_models.py --all --dir /data/vta-models

Why it is careful: these files are hundreds of MB to GB, so an interrupted download resumes where
it stopped (HTTP Range on a `.part` file), nothing half-written is ever visible under the real
name (verified first, then renamed atomically), and a file whose sha256 differs from the registry
is deleted rather than loaded. Stdlib only: it runs from the engine's venv before torch exists.
Exit status: 0 all fine, 1 a download failed (offline, HTTP error, checksum mismatch),
2 downloaded but unverifiable (no published hash; see --trust-first-download).
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models  # noqa: E402

CHUNK = 1 << 20


class FetchError(Exception):
    """One model could not be fetched; str() is the full explanation for the user."""


def human(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class Progress:
    """A one-line progress bar on stderr (rewritten in place on a terminal, every 10% otherwise)."""

    def __init__(self, label: str, total: int | None, done: int = 0, quiet: bool = False) -> None:
        self.label, self.total, self.done, self.quiet = label, total, done, quiet
        self.start_done, self.start = done, time.monotonic()
        self.tty = sys.stderr.isatty()
        self.last_draw, self.last_decile = 0.0, -1

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.quiet:
            return
        if self.tty and now - self.last_draw < 0.1:
            return
        if not self.tty:
            decile = int(10 * self.done / self.total) if self.total else -1
            if decile == self.last_decile:
                return
            self.last_decile = decile
        self.last_draw = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        speed = (self.done - self.start_done) / max(now - self.start, 1e-6)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
            text = f"{self.label} [{bar}] {frac:6.1%} {human(self.done)}/{human(self.total)} {human(speed)}/s"
        else:
            text = f"{self.label} {human(self.done)} {human(speed)}/s"
        sys.stderr.write(("\r" if self.tty else "") + text + ("" if self.tty else "\n"))
        sys.stderr.flush()

    def close(self) -> None:
        if not self.quiet:
            self._draw(time.monotonic())
            if self.tty:
                sys.stderr.write("\n")


def offline_help(model: models.ModelEntry, url: str, folder: Path, reason: str) -> str:
    target = folder / model.file
    lines = [
        f"cannot download {model.name}: {reason}",
        "  You may be offline or behind a proxy. To install it by hand:",
        f"    1. download {url}",
        f"    2. save it as {target}",
        f"    3. run: python {models.FETCH_TOOL} {model.name} --dir {folder}   (checks its sha256)",
    ]
    if model.sha256:
        lines.append(f"  expected sha256: {model.sha256}")
    return "\n".join(lines)


def download(model: models.ModelEntry, url: str, folder: Path, timeout: float, quiet: bool) -> Path:
    """Fetch `url` into folder/.file.part, resuming a previous partial download. Returns the part."""
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{model.file}.part"
    have = part.stat().st_size if part.exists() else 0
    if model.size and have > model.size:
        part.unlink()
        have = 0
    if model.size and have == model.size:
        return part  # complete from an earlier run; verified by the caller
    request = urllib.request.Request(url, headers={"User-Agent": "vse-track-anything-fetch/1"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part is already whole
            return part
        raise FetchError(offline_help(model, url, folder, f"HTTP {exc.code} {exc.reason}")) from None
    except (urllib.error.URLError, socket.timeout, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(offline_help(model, url, folder, f"{url} is unreachable ({reason})")) from None
    with response:
        status = getattr(response, "status", 200)
        resumed = have > 0 and status == 206
        if have and not resumed:
            have = 0  # server ignored Range: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else model.size
        if not quiet:
            print(f"{'resuming' if resumed else 'downloading'} {model.name} from {url}", file=sys.stderr)
        bar = Progress(model.name, total, have, quiet)
        try:
            with open(part, "ab" if resumed else "wb") as out:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    bar.update(len(block))
                out.flush()
                os.fsync(out.fileno())
        except (urllib.error.URLError, socket.timeout, OSError, http.client.HTTPException) as exc:
            raise FetchError(offline_help(model, url, folder, f"connection lost after {human(bar.done)} ({exc}); "
                                          "run the same command again to resume")) from None
        finally:
            bar.close()
    got = part.stat().st_size
    if total and got < total:
        raise FetchError(offline_help(model, url, folder, f"download stopped at {human(got)} of {human(total)}; "
                                      "run the same command again to resume"))
    return part


def install(part: Path, model: models.ModelEntry, folder: Path, trust_first: bool) -> str:
    """Verify the finished part and rename it into place. Returns the verdict."""
    digest = models.file_sha256(part)
    target = folder / model.file
    if model.sha256:
        if digest != model.sha256:
            part.unlink()
            raise FetchError(f"checksum mismatch for {model.name}: expected sha256 {model.sha256}, got {digest}; "
                             f"the download was deleted. Run the command again; if it persists the file at "
                             f"{model.url} has changed, report it.")
        status = "verified"
    else:
        status = "trusted" if trust_first else "unverified"
    os.replace(part, target)
    if status != "unverified":
        models.record(model.file, digest, status, folder)
    return status


def fetch_one(name: str, folder: Path, base_url: str | None, timeout: float, trust_first: bool,
              quiet: bool) -> str:
    model = models.entry(name)
    target = folder / model.file
    if target.is_file():
        status = models.check(name, folder, trust_first=trust_first)
        if status in ("verified", "trusted"):
            return status
        if status == "mismatch":
            print(f"{name}: {target} does not match the registry sha256; downloading it again", file=sys.stderr)
            target.unlink()
        else:
            return status  # unverified, already reported by the caller
    part = download(model, models.url_for(model, base_url), folder, timeout, quiet)
    return install(part, model, folder, trust_first)


def list_models(folder: Path) -> None:
    print(f"models folder: {folder}")
    print(f"{'name':24} {'task':8} {'size':>9}  {'state':11} licence")
    for model in models.load_registry().values():
        path = folder / model.file
        if not path.is_file():
            state = "missing"
        else:
            state = models.recorded_status(model.name, folder) or "present"
        hash_note = "" if model.sha256 else "  (no published sha256)"
        print(f"{model.name:24} {model.task:8} {human(model.size):>9}  {state:11} {model.licence}{hash_note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download and verify model weights for the learned backends.")
    parser.add_argument("names", nargs="*", help="registry names (see --list)")
    parser.add_argument("--all", action="store_true", help="every model in the registry")
    parser.add_argument("--dir", help="models folder (default $VTA_MODELS_DIR or ~/.cache/vse-track-anything/models)")
    parser.add_argument("--list", action="store_true", help="show the registry and what is installed")
    parser.add_argument("--base-url", help="download from this folder URL instead of the registry URLs "
                                           "(mirrors; also $VTA_MODELS_BASE_URL)")
    parser.add_argument("--trust-first-download", action="store_true",
                        help="for models without a published sha256, record the hash of this download as trusted")
    parser.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    folder = models.models_dir(args.dir)
    if args.list:
        list_models(folder)
        return 0
    registry = models.load_registry()
    names = list(registry) if args.all else args.names
    if not names:
        parser.error("name at least one model, or --all, or --list")
    unknown = [n for n in names if n not in registry]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(registry)}")
    code = 0
    for name in names:
        try:
            status = fetch_one(name, folder, args.base_url, args.timeout, args.trust_first_download, args.quiet)
        except FetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 1
            continue
        path = folder / registry[name].file
        if status == "verified":
            print(f"{name}: ok, sha256 verified ({path})")
        elif status == "trusted":
            print(f"{name}: ok, no published sha256; recorded this file's hash as trusted ({path})")
        else:
            print(f"{name}: downloaded to {path} but it has no published sha256, so it is NOT verified and the "
                  f"engine will refuse it; re-run with --trust-first-download if you trust the source", file=sys.stderr)
            code = max(code, 2)
    return code


if __name__ == "__main__":
    sys.exit(main())
