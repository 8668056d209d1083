"""Pieces of tools/make_matting_clip.py: PNG files, colour and compositing, the Blender scene, the
objects. Only the standard library, numpy and bpy, so it runs in .venv-blender."""
