#!/usr/bin/env bash
# Creates .venv-blender: real Blender as a Python module (bpy 5.0.1, Python 3.11) for the add-on tests.
# bpy needs numpy<2, so it cannot share the engine's .venv. Idempotent: re-running only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-blender
PY=${PYTHON311:-python3.11}
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "bpy 5.0.1 needs Python 3.11 (set PYTHON311=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import bpy, numpy, pytest" >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "bpy==5.0.1" "numpy<2" "pytest>=8"
fi
"$VENV/bin/python" -c "import bpy; print('bpy', bpy.app.version_string)"
