"""Which learned weights a backend uses, and why it cannot run when it cannot: the checks every
learned backend shares (packages installed, weights present and verified, a forced choice)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import models

from ... import config
from ...errors import EngineError


def missing_packages(*names: str) -> str | None:
    """One line naming the Python packages that are not installed, or None."""
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if not missing:
        return None
    pretty = {"segment_anything": "segment-anything", "sam2": "sam2"}
    what = ", ".join(pretty.get(n, n) for n in missing)
    return f"{what} not installed (run tools/setup_torch_env.sh, or pip install '.[learned]')"


def pick_weights(preference: tuple[str, ...], setting: str, requested: str | None = None) -> tuple[str | None, str | None]:
    """(name, None) for the weights to use, or (None, reason). `requested`, else the engine setting
    named `setting` (sam_weights, sam2_weights, lama_weights: $VTA_*_WEIGHTS), forces one."""
    forced = requested or getattr(config.current(), setting)
    if forced:
        if forced not in models.load_registry():
            return None, f"unknown weights '{forced}' (see tools/fetch_models.py --list)"
        if not models.present([forced]):
            return None, models.missing_reason([forced])
        candidates = [forced]
    else:
        candidates = models.present(preference)
        if not candidates:
            return None, models.missing_reason(list(reversed(preference)))
    name = candidates[0]
    if models.recorded_status(name) == "mismatch":
        return None, (f"weights {name} failed the sha256 check; delete {models.display_path(models.weights_path(name))} "
                      f"and run tools/fetch_models.py {name}")
    return name, None


def weights_reason(packages: tuple[str, ...], preference: tuple[str, ...], setting: str,
                   requested: str | None = None) -> str | None:
    """None when the packages are installed and usable weights are present, else why not."""
    return missing_packages(*packages) or pick_weights(preference, setting, requested)[1]


def require_weights(label: str, packages: tuple[str, ...], preference: tuple[str, ...], setting: str,
                    requested: str | None = None) -> tuple[str, Path]:
    """(weights name, verified path) for backend `label` ("segmenter 'sam'"), or an EngineError
    that says in one line why it cannot run."""
    reason = missing_packages(*packages)
    name, reason = (None, reason) if reason else pick_weights(preference, setting, requested)
    if reason:
        raise EngineError(f"{label} cannot run: {reason}")
    return name, models.require_verified(name)
