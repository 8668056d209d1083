#!/usr/bin/env python3
"""Build dist/vse_track_anything-<version>.zip from blender_addon/.

The files go under one top-level folder, `vse_track_anything/`, so the same zip installs both ways:
Blender 4.2+'s extension installer (it finds blender_manifest.toml in the single sub-folder) and the
legacy add-on installer of older Blenders (it needs the package folder). The version comes from the
manifest, which must agree with bl_info."""

from __future__ import annotations

import argparse
import ast
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "blender_addon"
PACKAGE = "vse_track_anything"
SKIP_DIRS = {"__pycache__", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".blend1", ".tmp"}


def manifest_version() -> str:
    text = (SOURCE / "blender_manifest.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        sys.exit("blender_manifest.toml has no version")
    return match.group(1)


def bl_info_version() -> str:
    tree = ast.parse((SOURCE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "bl_info" for t in node.targets):
            info = ast.literal_eval(node.value)
            return ".".join(str(v) for v in info["version"])
    sys.exit("__init__.py has no bl_info")


def files() -> list[Path]:
    out = []
    for path in sorted(SOURCE.rglob("*")):
        if path.is_dir() or SKIP_DIRS.intersection(path.relative_to(SOURCE).parts) or path.suffix in SKIP_SUFFIXES:
            continue
        out.append(path)
    return out


def build(out_dir: Path) -> Path:
    version = manifest_version()
    if bl_info_version() != version:
        sys.exit(f"version mismatch: manifest {version}, bl_info {bl_info_version()}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PACKAGE}-{version}.zip"
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files():
            archive.write(path, f"{PACKAGE}/{path.relative_to(SOURCE).as_posix()}")
    tmp.replace(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "dist"), help="output folder (default: dist/)")
    path = build(Path(parser.parse_args().out))
    print(path)


if __name__ == "__main__":
    main()
