"""The built zip installs through Blender's own extension installer and enables, in a separate
Blender process with its user folders in a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, bpy
import addon_utils
zip_path = sys.argv[-1]
result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
assert result == {"FINISHED"}, result
name = "bl_ext.user_default.vse_track_anything"
assert addon_utils.check(name) == (True, True), addon_utils.check(name)
assert hasattr(bpy.types.Scene, "vta") and hasattr(bpy.ops.vta, "track")
prefs = bpy.context.preferences.addons[name].preferences
assert prefs.address.startswith("http://127.0.0.1")
bpy.ops.vta.object_add()
assert len(bpy.context.scene.vta.objects) == 1
print("INSTALLED-OK")
"""


def test_zip_installs_with_blenders_installer(tmp_path):
    built = subprocess.run([sys.executable, str(REPO / "tools" / "build_addon.py"), "--out", str(tmp_path / "dist")],
                           check=True, capture_output=True, text=True)
    zip_path = built.stdout.strip().splitlines()[-1]
    assert Path(zip_path).name.startswith("vse_track_anything-") and zip_path.endswith(".zip")
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"), HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", "import runpy, sys; sys.argv = ['x', sys.argv[-1]]; "
                          f"exec({SCRIPT!r})", zip_path], env=env, capture_output=True, text=True, timeout=120)
    assert "INSTALLED-OK" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
