"""The multi-layer EXR the engine writes with --layers opens in Blender's own image loader, with a
layer per object under the name the user gave it, and the clean plate as `clean`. The file is
written by the engine's writer in the engine venv (no engine process needed)."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import ENGINE_PY, REPO

WRITE_LAYERS = """
import sys
from pathlib import Path
import numpy as np
from engine.evaluation.synthetic import SyntheticClip
from engine.fileio import atomic_write_png, write_matte
from engine.layout import Layout
from engine.media.numbering import Numbering
from engine.outputs import write_layers

out = Path(sys.argv[1])
clip = SyntheticClip(96, 64, 2)
layout = Layout(out, Numbering((1001, 1002), 4))
mattes = {"Boom Mic": clip.mask(1), "car": np.roll(clip.mask(1), 30, axis=1)}
objects = []
for name, mask in mattes.items():
    path = out / "m" / f"{name}.png"
    write_matte(path, mask.astype(np.float32), "png16")
    objects.append((name, {1: path}))
atomic_write_png(layout.clean_path(1), clip.frame(1))
write_layers(layout, objects, [1], {1: layout.clean_path(1)}, "zip")
print(layout.layers_path(1))
"""


def test_blender_loads_the_layers_by_object_name(tmp_path):
    import bpy

    if not ENGINE_PY.exists():
        pytest.skip(f"engine venv not found at {ENGINE_PY}")
    run = subprocess.run([str(ENGINE_PY), "-c", WRITE_LAYERS, str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    path = run.stdout.strip()
    assert path.endswith("layers.1002.exr")
    image = bpy.data.images.load(path)
    image.size[:]  # reading the size makes Blender decode the file (and learn its layers)
    assert image.type == "MULTILAYER"
    tree = bpy.data.node_groups.new("vta layers", "CompositorNodeTree")
    node = tree.nodes.new("CompositorNodeImage")
    node.image = image
    outputs = {o.name for o in node.outputs}
    assert {"Boom Mic", "car", "clean"} <= outputs, outputs
