"""EXRs the engine writes, in Blender: the multi-layer EXR of --layers opens in Blender's own image
loader with a layer per object under the name the user gave it and the clean plate as `clean`; an
EXR matte masks by its values. The files are written by the engine's writer in the engine venv (no
engine process needed)."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import ENGINE_PY, REPO
from .test_workflow import scene  # noqa: F401 - a fixture

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


WRITE_MATTES = """
import sys
import numpy as np
from engine.fileio import write_matte
from engine.media.images import write_image
ramp = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (16, 1))
write_matte(sys.argv[1] + "/matte.1001.exr", ramp, "exr")
write_image(sys.argv[1] + "/alpha_only.1001.exr", ramp, "half", channels=["A"])  # as older engines wrote them
"""


def test_an_exr_matte_masks_by_its_values_and_shows_in_the_overlay(addon, scene, tmp_path):
    """An EXR matte strip fed to a Mask modifier gives the picture the matte's values as alpha (with
    channel A alone, Blender's sequencer saw black and masked everything out); the overlay reads
    both the current files and the older alpha-only ones."""
    import numpy as np

    from blender_addon import overlay, strips

    from .test_matte import rendered_alpha

    if not ENGINE_PY.exists():
        pytest.skip(f"engine venv not found at {ENGINE_PY}")
    run = subprocess.run([str(ENGINE_PY), "-c", WRITE_MATTES, str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    ramp = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (16, 1))
    path = tmp_path / "matte.1001.exr"
    for name in ("matte.1001.exr", "alpha_only.1001.exr"):
        shown = overlay.load_png_mask(str(tmp_path / name), soft=True)
        assert shown is not None and np.abs(shown - ramp).max() < 1e-3, (name, shown[0])

    scene.render.resolution_x, scene.render.resolution_y = 32, 16
    coll = scene.sequence_editor_create().strips
    white = coll.new_effect("white", "COLOR", channel=1, frame_start=1, length=1)
    white.color = (1.0, 1.0, 1.0)
    matte = coll.new_image("matte", str(path), channel=2, frame_start=1)
    matte.mute = True
    matte.colorspace_settings.name = strips.matte_colorspace(scene, str(path))  # as the add-on tags it
    white.modifiers.new("matte", "MASK").input_mask_strip = matte
    scene.frame_set(1)
    alpha = rendered_alpha(scene, tmp_path / "masked.png")
    assert alpha.shape == ramp.shape
    assert np.abs(alpha - ramp).max() < 3 / 255, alpha[0]
