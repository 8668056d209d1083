"""The foreground objects of the matting clips, each with the three kinds of soft edge a matte must
get right: strands thinner than a pixel (fur, whiskers, antennae), motion blur (fast paths, spin,
flapping), and a see-through part (a surface mixed with a Transparent BSDF, alpha = its opacity).

Every shape, colour, opacity, path and speed is drawn from one numpy generator seeded by --seed, so
a clip is a function of (object, seed). Objects move in the plane y = 0 in front of the camera, kept
inside the frame by a margin of their own size; times are in frames, so a longer clip goes on moving.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field

import numpy as np

from .scene import material


@dataclass
class Creature:
    body: object  # the Blender object everything else is parented to
    info: dict = field(default_factory=dict)  # the drawn parameters, for meta.json


def _colour(rng, hue=None, sat=(0.4, 0.8), val=(0.35, 0.8)):
    h = rng.uniform(0, 1) if hue is None else hue % 1.0
    return tuple(colorsys.hsv_to_rgb(h, rng.uniform(*sat), rng.uniform(*val)))


def _link(obj, parent=None):
    import bpy

    bpy.context.scene.collection.objects.link(obj)
    if parent is not None:
        obj.parent = parent  # parent inverse stays identity: the child's transform is in the parent's space
    return obj


def ellipsoid(name, radii, mat, parent=None):
    import bmesh
    import bpy

    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=48, v_segments=24, radius=1.0)
    bm.to_mesh(mesh)
    bm.free()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    mesh.vertices.foreach_set("co", (co.reshape(-1, 3) * np.asarray(radii, np.float32)).ravel())
    mesh.shade_smooth()
    mesh.materials.append(mat)
    return _link(bpy.data.objects.new(name, mesh), parent)


def empty(name, parent=None):
    """An empty: a hinge that a part turns about."""
    import bpy

    return _link(bpy.data.objects.new(name, None), parent)


def flat_shape(name, outline_xz, mat, parent=None):
    """A flat polygon in the object's x-z plane (facing the camera), from its outline."""
    import bpy

    pts = np.asarray(outline_xz, float)
    verts = [(float(x), 0.0, float(z)) for x, z in pts]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], [list(range(len(verts)))])
    mesh.materials.append(mat)
    return _link(bpy.data.objects.new(name, mesh), parent)


def ellipse_outline(a, b, centre=(0.0, 0.0), tilt=0.0, n=40):
    u = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, z = a * np.cos(u), b * np.sin(u)
    c, s = math.cos(tilt), math.sin(tilt)
    return np.stack([centre[0] + c * x - s * z, centre[1] + s * x + c * z], axis=1)


def surface_points(rng, radii, n, keep=None):
    """n (point, outward normal) pairs on an ellipsoid, optionally only where keep(unit_dir) holds."""
    radii = np.asarray(radii, float)
    out = []
    while sum(len(p) for p in out) < n:
        v = rng.normal(size=(4 * n, 3))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        if keep is not None:
            v = v[keep(v)]
        out.append(v)
    v = np.concatenate(out)[:n]
    normal = v / radii
    return v * radii, normal / np.linalg.norm(normal, axis=1, keepdims=True)


def strands(name, roots, dirs, lengths, rng, mat, parent=None, points=5, radius=(0.006, 0.0015),
            bend=0.35, pull=(0.0, 0.0, 0.0)):
    """Hair curves: each strand leaves its root along `dirs`, bends sideways by `bend` × its length and
    towards `pull` (a direction × length) with the square of the distance along it, and tapers from
    radius[0] to radius[1]. The radii are below a pixel, so strands give partial coverage."""
    import bpy

    n = len(roots)
    side = rng.normal(size=(n, 3))
    side -= (side * dirs).sum(axis=1, keepdims=True) * dirs
    side /= np.linalg.norm(side, axis=1, keepdims=True) + 1e-9
    s = np.linspace(0.0, 1.0, points)[None, :, None]
    bend_each = bend * rng.uniform(0.3, 1.0, (n, 1, 1))
    pos = roots[:, None] + lengths[:, None, None] * (
        s * dirs[:, None] + s ** 2 * (bend_each * side[:, None] + np.asarray(pull)[None, None]))
    curves = bpy.data.hair_curves.new(name)
    curves.add_curves([points] * n)
    curves.position_data.foreach_set("vector", pos.astype(np.float32).ravel())
    r = np.interp(s.ravel(), [0, 1], radius)
    attr = curves.attributes.get("radius") or curves.attributes.new("radius", "FLOAT", "POINT")
    attr.data.foreach_set("value", np.tile(r, n).astype(np.float32))
    curves.materials.append(mat)
    return _link(bpy.data.objects.new(name, curves), parent)


def _tilted(normals, rng, spread):
    d = normals + spread * rng.normal(size=normals.shape)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def animate(obj, frames, location=None, rotation=None):
    """One key per Blender frame from -1 to frames + 2. The shutter around frame f reads the curves
    between f - 1 and f + 1, whose Bezier handles depend on the keys at f - 2 and f + 2: with those
    there, a frame does not depend on --frames, and a resumed longer run continues the same motion."""
    for f in range(-1, frames + 3):
        if location is not None:
            obj.location = [float(v) for v in location(f)]
            obj.keyframe_insert("location", frame=f)
        if rotation is not None:
            obj.rotation_euler = [float(v) for v in rotation(f)]
            obj.keyframe_insert("rotation_euler", frame=f)


def _sway(rng, amp, period):
    """A smooth random signal: two sines with random phases, peak about `amp`, main period `period` frames."""
    p1, p2 = rng.uniform(0, 2 * math.pi, 2)
    k = rng.uniform(1.7, 2.6)
    w = 2 * math.pi / period
    return lambda t: amp * (0.75 * math.sin(w * t + p1) + 0.25 * math.sin(w * k * t + p2))


def furball(rng, frames, hx, hz):
    """A fur-covered ball with two translucent ears, bouncing along a curved path and spinning in the
    image plane (so its fur tips smear tangentially and its edge smears along the path)."""
    size = rng.uniform(1.0, 1.2)
    radius, fur_len = 0.5 * size, 0.45 * size
    hue = rng.uniform(0, 1)
    body_col = _colour(rng, hue, val=(0.25, 0.5))
    fur_col = _colour(rng, hue + rng.uniform(-0.05, 0.05), val=(0.5, 0.85))
    ear_col = _colour(rng, hue + 0.5, sat=(0.3, 0.6), val=(0.7, 0.95))
    opacity = float(rng.uniform(0.35, 0.55))
    body = ellipsoid("furball", (radius,) * 3, material("skin", body_col, 0.6))
    n = 7000
    roots, normals = surface_points(rng, (radius,) * 3, n)
    strands("fur", roots, _tilted(normals, rng, 0.45), fur_len * rng.uniform(0.45, 1.0, n), rng,
            material("fur", fur_col, 0.45), body, radius=(0.006, 0.0012), bend=0.5)
    ear_mat = material("ears", ear_col, 0.4, opacity)
    for side in (-1, 1):  # ears stand out of the silhouette: their see-through part lies over the background
        tilt = math.radians(90 - side * rng.uniform(25, 40))
        outline = ellipse_outline(0.22 * size, 0.42 * size, (0, 0), 0.0)
        ear = flat_shape(f"ear{side:+d}", outline, ear_mat, body)
        ear.location = (math.cos(tilt) * (radius + 0.25 * size), -0.05, math.sin(tilt) * (radius + 0.25 * size))
        ear.rotation_euler = (0.0, -(tilt - math.pi / 2), 0.0)
    margin = radius + fur_len + 0.25 * size
    ax, period = rng.uniform(0.75, 0.9) * (hx - margin), rng.uniform(30, 44)
    phase, bounce = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 0.8) * (hz - margin)
    bounce_period, bphase = rng.uniform(14, 22), rng.uniform(0, math.pi)
    spin = rng.choice([-1, 1]) * rng.uniform(0.2, 0.32)  # radians per frame
    depth = _sway(rng, 0.8, 40)
    animate(body, frames,
            location=lambda t: (ax * math.sin(2 * math.pi * t / period + phase), depth(t),
                                -bounce + 2 * bounce * abs(math.sin(math.pi * t / bounce_period + bphase))),
            rotation=lambda t: (0.25 * math.sin(t / 7.0), spin * t, 0.3 * math.sin(t / 9.0 + 1)))
    return Creature(body, dict(size=size, fur_strands=n, ear_opacity=opacity, spin_rad_per_frame=spin,
                               path="sine sweep with bounce", period_frames=period))


def fish(rng, frames, hx, hz):
    """A fish swimming a loop: body, a translucent tail fin that wags and a translucent dorsal fin, a
    mane of fine filaments along its back and long barbels drooping from its mouth."""
    size = rng.uniform(1.1, 1.3)
    rx, ry, rz = 0.95 * size, 0.28 * size, 0.38 * size
    hue = rng.uniform(0, 1)
    body = ellipsoid("fish", (rx, ry, rz), material("scales", _colour(rng, hue, val=(0.45, 0.8)), 0.3))
    opacity = float(rng.uniform(0.3, 0.5))
    fin_col = _colour(rng, hue + rng.uniform(0.1, 0.3), sat=(0.5, 0.9), val=(0.7, 1.0))
    fin_mat = material("fins", fin_col, 0.3, opacity)
    tail_pivot = empty("tail_hinge", body)
    tail_pivot.location = (-0.85 * rx, 0.0, 0.0)
    u = np.linspace(-1, 1, 24)
    fan_edge = np.stack([-0.75 * size - 0.12 * size * np.cos(u * 2.2), 0.55 * size * u], 1)
    fan = np.concatenate([[[0.0, 0.0]], fan_edge])
    flat_shape("tail", fan, fin_mat, tail_pivot)
    x = np.linspace(-0.55, 0.35, 20) * rx
    crest = np.stack([x, 0.85 * rz + 0.45 * size * np.sin(np.linspace(0.2, 2.6, 20))], 1)
    dorsal = np.concatenate([[[x[0], 0.8 * rz]], crest, [[x[-1], 0.8 * rz]]])
    flat_shape("dorsal", dorsal, fin_mat, body)
    fil_col = _colour(rng, hue + 0.5, val=(0.7, 0.95))
    n_mane = 1500
    roots, normals = surface_points(rng, (rx, ry, rz), n_mane,
                                    keep=lambda v: (v[:, 2] > 0.45) & (np.abs(v[:, 0]) < 0.8))
    strands("mane", roots, _tilted(normals, rng, 0.5), 0.3 * size * rng.uniform(0.5, 1.0, n_mane), rng,
            material("filaments", fil_col, 0.4), body, radius=(0.005, 0.0012), bend=0.5, pull=(-0.4, 0, 0))
    n_barbels = 80
    mouth = np.array([rx * 0.9, 0.0, -0.1 * rz]) + rng.normal(scale=0.04 * size, size=(n_barbels, 3))
    dirs = _tilted(np.tile([[0.6, 0.0, -0.8]], (n_barbels, 1)), rng, 0.35)
    strands("barbels", mouth, dirs, 0.75 * size * rng.uniform(0.5, 1.0, n_barbels), rng,
            material("barbels", fil_col, 0.4), body, points=8, radius=(0.008, 0.002), bend=0.6,
            pull=(-0.5, 0, -0.3))
    margin = rx + 0.8 * size
    ax, az = rng.uniform(0.8, 0.95) * (hx - margin), rng.uniform(0.3, 0.5) * (hz - 0.6 * size)
    period, phase, turn = rng.uniform(40, 56), rng.uniform(0, 2 * math.pi), rng.choice([-1, 1])
    wobble = _sway(rng, 0.15, 15)

    def where(t):
        a = turn * 2 * math.pi * t / period + phase
        return np.array([ax * math.cos(a), 0.0, az * math.sin(a) + wobble(t)])

    def pose(t):  # head along the path, back up: turning round is a yaw (seen head-on mid-turn)
        v = where(t + 0.5) - where(t - 0.5)
        speed = float(np.hypot(v[0], v[2])) + 1e-9
        facing = math.tanh(3.0 * v[0] / speed)  # +1 swimming right, -1 left
        pitch = math.asin(max(-0.45, min(0.45, v[2] / speed)))
        return (0.0, -pitch, math.pi * (1 - facing) / 2)

    animate(body, frames, location=where, rotation=pose)
    wag_period = rng.uniform(7, 11)
    animate(tail_pivot, frames, rotation=lambda t: (0.0, 0.0, 0.6 * math.sin(2 * math.pi * t / wag_period)))
    return Creature(body, dict(size=size, fin_opacity=opacity, mane_strands=n_mane, barbels=n_barbels,
                               path="loop, turning round at the ends", period_frames=period,
                               wag_period=wag_period))


def moth(rng, frames, hx, hz):
    """A hairy moth flapping two pairs of translucent wings on an erratic flight, with feathery antennae."""
    size = rng.uniform(1.1, 1.3)
    hue = rng.uniform(0, 1)
    body_r = (0.16 * size, 0.16 * size, 0.5 * size)
    body = ellipsoid("moth", body_r, material("thorax", _colour(rng, hue, val=(0.2, 0.45)), 0.7))
    n = 3000
    roots, normals = surface_points(rng, body_r, n)
    hair_mat = material("hair", _colour(rng, hue, sat=(0.2, 0.5), val=(0.55, 0.85)), 0.5)
    strands("body_hair", roots, _tilted(normals, rng, 0.4), 0.16 * size * rng.uniform(0.5, 1.0, n), rng, hair_mat,
            body, radius=(0.005, 0.0012))
    opacity = float(rng.uniform(0.35, 0.55))
    wing_col = _colour(rng, hue + rng.uniform(0.2, 0.8), sat=(0.3, 0.7), val=(0.6, 0.95))
    wing_mat = material("wings", wing_col, 0.35, opacity)
    wings = []
    for side in (-1, 1):
        hinge = empty(f"hinge{side:+d}", body)
        hinge.location = (side * 0.1 * size, 0.0, 0.1 * size)
        fore = ellipse_outline(0.62 * size, 0.3 * size, (0.6 * size, 0.2 * size), math.radians(25))
        hind = ellipse_outline(0.45 * size, 0.27 * size, (0.42 * size, -0.3 * size), math.radians(-35))
        for part, outline in (("fore", fore), ("hind", hind)):
            flat_shape(f"{part}{side:+d}", outline * [side, 1], wing_mat, hinge)
        wings.append((side, hinge))
    ant_roots = np.array([[s * 0.05 * size, 0.0, body_r[2] * 0.95] for s in (-1, 1)])
    ant_dirs = np.array([[s * 0.45, 0.0, 0.9] for s in (-1, 1)])
    ant_dirs /= np.linalg.norm(ant_dirs, axis=1, keepdims=True)
    strands("antennae", ant_roots, ant_dirs, np.full(2, 0.55 * size), rng, hair_mat, body, points=8,
            radius=(0.012, 0.006), bend=0.3)
    k = 70  # feathery side hairs along each antenna
    along = rng.uniform(0.15, 1.0, (2, k))
    side_roots = (ant_roots[:, None] + 0.55 * size * along[..., None] * ant_dirs[:, None]).reshape(-1, 3)
    side_dirs = _tilted(np.tile([[1.0, 0.0, 0.3], [-1.0, 0.0, 0.3]], (k, 1)), rng, 0.5)
    strands("feathers", side_roots, side_dirs, 0.09 * size * rng.uniform(0.5, 1.0, 2 * k), rng, hair_mat, body,
            points=3, radius=(0.003, 0.001), bend=0.2)
    margin = 1.3 * size
    fx = _sway(rng, 0.8 * (hx - margin), rng.uniform(26, 36))
    fz = _sway(rng, 0.65 * (hz - 0.8 * size), rng.uniform(18, 26))
    jitter_x, jitter_z = _sway(rng, 0.15, 5.0), _sway(rng, 0.15, 4.0)
    roll = _sway(rng, 0.45, 30)
    flap_period, flap = rng.uniform(5.5, 7.5), math.radians(rng.uniform(55, 70))
    animate(body, frames, location=lambda t: (fx(t) + jitter_x(t), 0.0, fz(t) + jitter_z(t)),
            rotation=lambda t: (0.0, roll(t), 0.0))
    def wing(side):  # from flat (0) to raised by `flap`, mirrored
        return lambda t: (0.0, 0.0, -side * flap * 0.5 * (1 + math.sin(2 * math.pi * t / flap_period)))

    for side, hinge in wings:
        animate(hinge, frames, rotation=wing(side))
    return Creature(body, dict(size=size, wing_opacity=opacity, hair_strands=n, flap_period=flap_period,
                               flap_deg=math.degrees(flap), path="erratic flight"))


OBJECTS = {"furball": furball, "fish": fish, "moth": moth}


def build(name: str, seed: int, frames: int, hx: float, hz: float) -> Creature:
    rng = np.random.default_rng([seed, sorted(OBJECTS).index(name)])
    creature = OBJECTS[name](rng, frames, hx, hz)
    drawn = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in creature.info.items()}
    creature.info = {"object": name, **drawn}
    return creature
