"""Model weights: the registry (what exists, where to get it, which sha256 it must have), the user
folder the files live in, and the record of which files have been checked.

Stdlib only, so `vta-engine info`, /v1/health and tools/fetch_models.py can ask "which weights are
here?" without importing torch. Hashing a 2.5 GB checkpoint takes seconds, so a file is hashed
once and the result is remembered in `verified.json` next to the weights, keyed by size and
modification time (a changed file is hashed again).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from engine.errors import EngineError

REGISTRY_FILE = Path(__file__).with_name("registry.json")
MANIFEST_NAME = "verified.json"
FETCH_TOOL = "tools/fetch_models.py"


class ModelError(EngineError):
    """Weights missing, unverified or corrupt; the message says what to run."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str  # segment | track | inpaint
    family: str  # sam | sam2 | lama
    arch: str
    file: str
    url: str
    sha256: str | None
    size: int | None
    licence: str
    config: str | None = None  # SAM 2: hydra config inside the sam2 package
    md5: str | None = None
    extra: dict = field(default_factory=dict, compare=False)


def registry_path() -> Path:
    """$VTA_MODELS_REGISTRY overrides the packaged registry (tests, private mirrors)."""
    return Path(os.environ.get("VTA_MODELS_REGISTRY") or REGISTRY_FILE)


def load_registry() -> dict[str, ModelEntry]:
    data = json.loads(registry_path().read_text(encoding="utf-8"))
    known = {f for f in ModelEntry.__dataclass_fields__ if f != "extra"}
    out = {}
    for item in data["models"]:
        out[item["name"]] = ModelEntry(**{k: item.get(k) for k in known},
                                       extra={k: v for k, v in item.items() if k not in known})
    return out


def entry(name: str) -> ModelEntry:
    models = load_registry()
    if name not in models:
        raise ModelError(f"unknown model '{name}' (known: {', '.join(models)})")
    return models[name]


def names_for(family: str) -> list[str]:
    """Registry names of one family, in registry order (smallest first)."""
    return [m.name for m in load_registry().values() if m.family == family]


def models_dir(directory: str | os.PathLike | None = None) -> Path:
    if directory:
        return Path(directory).expanduser()
    env = os.environ.get("VTA_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "vse-track-anything" / "models"


def display_path(path: Path) -> str:
    """~-relative path for messages (shorter, and the same on every user's screen)."""
    try:
        return "~/" + str(Path(path).resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)


def weights_path(name: str, directory: str | os.PathLike | None = None) -> Path:
    return models_dir(directory) / entry(name).file


def url_for(model: ModelEntry, base_url: str | None = None) -> str:
    """Download URL; a base URL ($VTA_MODELS_BASE_URL or --base-url) replaces the registry's host
    and folder, for mirrors and for tests serving files on loopback."""
    base = base_url or os.environ.get("VTA_MODELS_BASE_URL")
    if base:
        return base.rstrip("/") + "/" + model.file
    return model.url


def present(names: Iterable[str], directory: str | os.PathLike | None = None) -> list[str]:
    """The names among `names` whose weights file exists (not yet checked)."""
    folder = models_dir(directory)
    models = load_registry()
    return [n for n in names if n in models and (folder / models[n].file).is_file()]


def missing_reason(names: list[str], directory: str | os.PathLike | None = None) -> str:
    """One line saying which weights are missing where and which command fetches them."""
    folder = display_path(models_dir(directory))
    what = names[0] if len(names) == 1 else "any of " + ", ".join(names)
    return f"weights {what} not found in {folder}; run {FETCH_TOOL} {names[0]}"


# ---- verification record ------------------------------------------------------------------------
def _manifest_path(directory: str | os.PathLike | None = None) -> Path:
    return models_dir(directory) / MANIFEST_NAME


def read_manifest(directory: str | os.PathLike | None = None) -> dict:
    try:
        return json.loads(_manifest_path(directory).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_manifest(data: dict, directory: str | os.PathLike | None = None) -> None:
    path = _manifest_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".verified.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


def record(file: str, sha256: str, status: str, directory: str | os.PathLike | None = None) -> None:
    """Remember a file's hash and verdict ("verified", "trusted" or "mismatch")."""
    path = models_dir(directory) / file
    stat = path.stat()
    data = read_manifest(directory)
    data[file] = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "status": status}
    _write_manifest(data, directory)


def recorded_status(name: str, directory: str | os.PathLike | None = None) -> str | None:
    """The remembered verdict for the current file, or None if it was never checked or changed since."""
    model = entry(name)
    path = models_dir(directory) / model.file
    rec = read_manifest(directory).get(model.file)
    if not rec or not path.is_file():
        return None
    stat = path.stat()
    if rec.get("size") != stat.st_size or rec.get("mtime_ns") != stat.st_mtime_ns:
        return None
    if model.sha256 and rec.get("status") == "verified" and rec.get("sha256") != model.sha256:
        return None  # registry changed since
    return rec.get("status")


def file_sha256(path: Path, progress: Callable[[int], None] | None = None, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            if progress:
                progress(len(block))
    return digest.hexdigest()


def check(name: str, directory: str | os.PathLike | None = None, trust_first: bool = False) -> str:
    """Hash the file (unless already recorded) and return its verdict: "verified" (matches the
    registry), "trusted" (no published hash; the user accepted this file's hash), "unverified"
    (no published hash and not trusted) or "mismatch". Raises ModelError if the file is missing."""
    model = entry(name)
    path = models_dir(directory) / model.file
    if not path.is_file():
        raise ModelError(missing_reason([name], directory))
    status = recorded_status(name, directory)
    if status in ("verified", "trusted", "mismatch"):
        return status
    digest = file_sha256(path)
    if model.sha256:
        status = "verified" if digest == model.sha256 else "mismatch"
    elif trust_first:
        status = "trusted"
    else:
        return "unverified"
    record(model.file, digest, status, directory)
    return status


def require_verified(name: str, directory: str | os.PathLike | None = None) -> Path:
    """Path of weights that may be loaded; a clear ModelError otherwise. Backends call this
    before loading, so a corrupt or substituted file is never run."""
    status = check(name, directory)
    path = weights_path(name, directory)
    where = display_path(path)
    if status == "mismatch":
        raise ModelError(f"weights {name} at {where} do not match the registry sha256 (corrupt or a "
                         f"different file); delete it and run {FETCH_TOOL} {name}")
    if status == "unverified":
        raise ModelError(f"weights {name} at {where} have no published sha256; if you trust this file run "
                         f"{FETCH_TOOL} {name} --trust-first-download to record its hash")
    return path
