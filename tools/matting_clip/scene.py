"""The Blender scene around the object: Cycles on the CPU, transparent film, motion blur, a camera,
light, and the one way a frame comes out of Blender (a float EXR read back as premultiplied linear RGBA).

Only the foreground is rendered: the background clip is composited afterwards in numpy, so the
alpha written to disk is exactly the coverage Cycles computed, not something recovered from a
composite. Denoising and adaptive sampling are off: both would make a frame depend on more than the
seed and the sample count, and the denoiser does not touch alpha anyway.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

CAMERA_DISTANCE = 10.0
LENS_MM, SENSOR_MM = 50.0, 36.0


def half_extent(width: int, height: int) -> tuple[float, float]:
    """Half the visible width and height (scene units) in the plane y = 0, where objects move."""
    hx = CAMERA_DISTANCE * SENSOR_MM / 2 / LENS_MM
    return hx, hx * height / width


def reset_scene(width: int, height: int, samples: int, seed: int, frames: int):
    """Empty factory scene set up for the clip; returns it."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    # Per-frame keys with local Bezier handles: Blender 5's default smoothing (continuous acceleration)
    # solves for all handles at once, which makes frame 1 depend on how many frames the clip has.
    bpy.context.preferences.edit.fcurve_new_auto_smoothing = "NONE"
    scene = bpy.context.scene
    render = scene.render
    render.engine = "CYCLES"
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    render.film_transparent = True
    render.use_motion_blur = True
    render.motion_blur_shutter = 0.5  # half a frame open, centred on the frame (Cycles' default position)
    render.fps = 24
    render.use_persistent_data = True
    scene.frame_start, scene.frame_end = 1, frames
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.samples = samples
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False
    cycles.seed = seed
    cycles.use_animated_seed = True  # fresh noise per frame, still a function of (seed, frame)
    cycles.max_bounces = 4
    cycles.transparent_max_bounces = 16  # stacked strands and fins stay see-through
    cycles.caustics_reflective = cycles.caustics_refractive = False
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure, scene.view_settings.gamma = 0.0, 1.0
    settings = render.image_settings
    settings.file_format = "OPEN_EXR"
    settings.color_mode = "RGBA"
    settings.color_depth = "32"
    settings.exr_codec = "ZIP"
    _camera_and_light(scene, seed)
    return scene


def _camera_and_light(scene, seed: int) -> None:
    import bpy

    cam_data = bpy.data.cameras.new("camera")
    cam_data.lens, cam_data.sensor_width, cam_data.sensor_fit = LENS_MM, SENSOR_MM, "HORIZONTAL"
    cam = bpy.data.objects.new("camera", cam_data)
    cam.location = (0.0, -CAMERA_DISTANCE, 0.0)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)  # looks along +y; x right, z up in the image
    scene.collection.objects.link(cam)
    scene.camera = cam
    rng = np.random.default_rng([seed, 99])
    sun_data = bpy.data.lights.new("sun", "SUN")
    sun_data.energy = float(rng.uniform(2.5, 4.0))
    sun_data.angle = math.radians(10)
    sun = bpy.data.objects.new("sun", sun_data)
    sun.rotation_euler = (math.radians(rng.uniform(40, 65)), 0.0, math.radians(rng.uniform(-50, 50)))
    scene.collection.objects.link(sun)
    world = bpy.data.worlds.new("world")
    if world.node_tree is None:
        world.use_nodes = True
    background = world.node_tree.nodes.get("Background")
    if background is None:
        background = world.node_tree.nodes.new("ShaderNodeBackground")
        world.node_tree.links.new(background.outputs[0], world.node_tree.nodes.new("ShaderNodeOutputWorld").inputs[0])
    background.inputs["Color"].default_value = (0.35, 0.37, 0.42, 1.0)
    background.inputs["Strength"].default_value = 1.0
    scene.world = world


def material(name: str, colour, roughness: float = 0.5, opacity: float = 1.0):
    """A Principled BSDF material; below opacity 1 mixed with a Transparent BSDF, so a single layer of
    it lets (1 - opacity) of the background through: its alpha is `opacity`."""
    import bpy

    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:  # Blender < 5 makes node-less materials; 5.0 always has the tree
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes.get("Principled BSDF") or nodes.new("ShaderNodeBsdfPrincipled")
    out = nodes.get("Material Output") or nodes.new("ShaderNodeOutputMaterial")
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    if opacity < 1.0:
        clear = nodes.new("ShaderNodeBsdfTransparent")
        mix = nodes.new("ShaderNodeMixShader")
        mix.inputs["Fac"].default_value = opacity
        links.new(clear.outputs[0], mix.inputs[1])
        links.new(bsdf.outputs[0], mix.inputs[2])
        links.new(mix.outputs[0], out.inputs["Surface"])
    else:
        links.new(bsdf.outputs[0], out.inputs["Surface"])
    return mat


def render_rgba(scene, frame: int, exr_path: Path) -> np.ndarray:
    """(H, W, 4) float32 linear premultiplied RGBA of `frame`, top row first.

    Rendered to a 32-bit float EXR and loaded back with Blender's own loader: float images keep the
    file's values (linear, premultiplied as EXR stores them), which
    tests/blender/test_matting_clip.py checks on a flat half-transparent card."""
    import bpy

    scene.frame_set(frame)
    scene.render.filepath = str(exr_path)
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(str(exr_path), check_existing=False)
    try:
        w, h = image.size
        buf = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(buf)
    finally:
        bpy.data.images.remove(image)
        os.unlink(exr_path)
    return buf.reshape(h, w, 4)[::-1].copy()
