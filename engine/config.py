"""Settings from the environment, read in one place, and the limits and command-line flags that
more than one front end shares.

Every `VTA_*` variable the engine honours is read here into a frozen `Settings`. A front end (the
CLI, the server) reads them once at start-up with `load()`, which pins them for the process, and
passes what it needs down (a device, a token, a state folder); nothing else reads os.environ.
Library code with no front end (a test, a notebook) gets a fresh read on each `current()`, so
setting a variable there still takes effect.

    VTA_DEBUG          any non-empty value: internal errors show their traceback
    VTA_TOKEN          bearer token the server requires (default of `serve --token`)
    VTA_STATE_DIR      where the server keeps sessions and jobs
    VTA_DEVICE         cuda, cuda:N, mps or cpu for learned backends (default: the best present)
    VTA_DTYPE          float32, float16 or bfloat16 for the learned encoders on CUDA
    VTA_SAM_WEIGHTS, VTA_SAM2_WEIGHTS, VTA_LAMA_WEIGHTS   force one registry entry of weights
    VTA_SAM2_WINDOW    frames of memory the SAM 2 tracker keeps
    VTA_BATCH_CRASH_AFTER  tests only: SHOT:FRAMES:MARKER kills a batch worker mid-shot
(VTA_MODELS_DIR / VTA_MODELS_REGISTRY / VTA_MODELS_BASE_URL belong to the models/ package and
tools/fetch_models.py; VTA_CLIPS only to tests and tools.)
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import EngineError

#: the largest frame index the HTTP API accepts (a bound on request numbers, not on clips)
MAX_FRAME_INDEX = 10_000_000
BACKEND_KINDS = ("segmenter", "tracker", "inpainter")
BATCH_CRASH_ENV = "VTA_BATCH_CRASH_AFTER"


@dataclass(frozen=True)
class Settings:
    debug: bool = False
    token: str | None = None
    state_dir: Path | None = None  # None: the platform's data folder (default_state_dir)
    device: str | None = None
    dtype: str | None = None
    sam_weights: str | None = None
    sam2_weights: str | None = None
    lama_weights: str | None = None
    sam2_window: int | None = None
    batch_crash_after: str | None = None  # the batch tests' fault injection (engine/batch/run_local.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731
        window = get("VTA_SAM2_WINDOW")
        if window is not None:
            try:
                window = int(window)
            except ValueError:
                raise EngineError(f"VTA_SAM2_WINDOW must be a whole number of frames, got '{window}'") from None
        state = get("VTA_STATE_DIR")
        return cls(debug=bool(get("VTA_DEBUG")), token=get("VTA_TOKEN"),
                   state_dir=Path(state).expanduser() if state else None, device=get("VTA_DEVICE"),
                   dtype=get("VTA_DTYPE"), sam_weights=get("VTA_SAM_WEIGHTS"), sam2_weights=get("VTA_SAM2_WEIGHTS"),
                   lama_weights=get("VTA_LAMA_WEIGHTS"), sam2_window=window,
                   batch_crash_after=get(BATCH_CRASH_ENV))

    def default_state_dir(self) -> Path:
        """$VTA_STATE_DIR, else $XDG_DATA_HOME/vse-track-anything (~/.local/share/...)."""
        if self.state_dir is not None:
            return self.state_dir
        data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(data_home) / "vse-track-anything"


_pinned: Settings | None = None


def load() -> Settings:
    """Read the environment once for this process (front ends call this at start-up)."""
    global _pinned
    if _pinned is None:
        _pinned = Settings.from_env()
    return _pinned


def current() -> Settings:
    """The pinned settings, or a fresh read when no front end pinned them."""
    return _pinned if _pinned is not None else Settings.from_env()


def add_backend_arguments(parser: argparse.ArgumentParser, kinds=BACKEND_KINDS) -> None:
    """--segmenter/--tracker/--inpainter and --device, the same on every command line."""
    for kind in kinds:
        parser.add_argument(f"--{kind}", default="auto", metavar="NAME",
                            help=f"{kind} backend (default: auto = best available)")
    if not any(a.dest == "device" for a in parser._actions):
        parser.add_argument("--device", metavar="DEVICE",
                            help="cuda, cuda:N, mps or cpu for learned backends (default: $VTA_DEVICE, else the best present)")
