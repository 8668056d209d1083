"""Backend registry: name → class, imported lazily so torch is only loaded when a learned backend
is actually chosen. "auto" takes the first available backend of each kind in preference order."""

from __future__ import annotations

import importlib

from ..errors import EngineError

# kind → ordered {name: "module:Class"}; "auto" prefers earlier entries that are available.
REGISTRY: dict[str, dict[str, str]] = {
    "segmenter": {
        "sam": "engine.backends.learned.sam:SamSegmenter",
        "classical": "engine.backends.classical.segmenter:ClassicalSegmenter",
    },
    "tracker": {
        "sam2": "engine.backends.learned.sam2:Sam2Tracker",
        "sam-flow": "engine.backends.learned.sam_flow:SamFlowTracker",
        "classical": "engine.backends.classical.tracker:ClassicalTracker",
    },
    "inpainter": {
        "lama": "engine.backends.learned.lama:LamaInpainter",
        "classical": "engine.backends.classical.inpainter:ClassicalInpainter",
    },
}


def backend_class(kind: str, name: str):
    try:
        target = REGISTRY[kind][name]
    except KeyError:
        known = ", ".join(["auto", *REGISTRY.get(kind, {})])
        raise EngineError(f"unknown {kind} '{name}' (known: {known})") from None
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineError(f"{kind} '{name}' cannot be loaded: {exc}") from None
    return getattr(module, class_name)


def availability(kind: str, name: str) -> str | None:
    """None if the backend can run here, else why not (never raises)."""
    try:
        return backend_class(kind, name).availability()
    except EngineError as exc:
        return str(exc)


def resolve(kind: str, name: str = "auto") -> str:
    """The concrete backend name "auto" stands for (first available), or `name` itself if it can run."""
    if name == "auto":
        for candidate in REGISTRY[kind]:
            if availability(kind, candidate) is None:
                return candidate
        raise EngineError(f"no {kind} backend can run here")
    reason = availability(kind, name)
    if reason is not None:
        raise EngineError(f"{kind} '{name}' is not available: {reason}")
    return name


def create(kind: str, name: str = "auto", device: str | None = None, **options):
    """Instantiate a backend by name ("auto" picks the best available) through its `with_options`:
    `options` go through the backend's Params (an unknown name is an EngineError that names the
    backend and lists the names it knows; None means "the backend's default"), and `device` only
    reaches learned backends."""
    return backend_class(kind, resolve(kind, name)).with_options(options, device)


def report() -> dict:
    """For `vta-engine info` and /v1/health: what each kind resolves to and why others can't run."""
    out = {}
    for kind, names in REGISTRY.items():
        out[kind] = {
            "auto": _safe_resolve(kind),
            "available": {n: availability(kind, n) is None for n in names},
            "reasons": {n: r for n in names if (r := availability(kind, n))},
        }
    return out


def _safe_resolve(kind: str) -> str | None:
    try:
        return resolve(kind)
    except EngineError:
        return None
