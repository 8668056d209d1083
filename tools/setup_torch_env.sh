#!/usr/bin/env bash
# Creates (or updates) .venv-torch: the environment for the learned backends and tests/learned.
#
# Why a second venv: torch is ~5 GB, and the engine, the add-on and most tests must work without
# it. torch/torchvision are pinned (an unpinned torch makes pip fetch multi-GB CUDA wheels).
# SAM 2 is an optional extra; the PyPI "sam2" package is a third-party upload of Meta's code, used
# here without its CUDA extension (users should install SAM 2 from Meta's repository, see
# docs/LEARNED.md). Idempotent: re-running only installs what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VTA_TORCH_VENV:-$ROOT/.venv-torch}"
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
"$PY" -m pip install --quiet --upgrade pip setuptools wheel

# The project itself with the learned (CPU onnxruntime) and test extras; pins live in pyproject.toml.
"$PY" -m pip install --quiet -e "$ROOT[learned,test]"

# SAM 2 (optional tracker). Its own dependencies first, then the package without its CUDA build.
"$PY" -m pip install --quiet "hydra-core>=1.3.2" "iopath>=0.1.10" "tqdm>=4.66" "pillow>=9.4"
if ! "$PY" -c "import sam2" 2>/dev/null; then
    SAM2_BUILD_CUDA=0 SAM2_BUILD_ALLOW_ERRORS=1 "$PY" -m pip install --quiet --no-build-isolation --no-deps "sam2==1.1.0"
fi

"$PY" - <<'PY'
import torch, torchvision, segment_anything, onnx, onnxruntime
try:
    import sam2  # noqa: F401
    sam2_state = "sam2 ok"
except Exception as exc:  # optional extra
    sam2_state = f"sam2 missing ({exc})"
print(f"torch {torch.__version__} torchvision {torchvision.__version__} onnxruntime {onnxruntime.__version__}; {sam2_state}")
PY
