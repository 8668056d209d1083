"""Ground truth for soft mattes: a short clip of a rendered object with soft edges over real footage,
with the exact alpha of every frame.

The object (fur/whiskers thinner than a pixel, motion blur, a see-through part; see
tools/matting_clip/objects.py) is rendered alone by Cycles on the CPU with a transparent film, as
linear premultiplied RGBA. The frames of a real clip play behind it: each is converted sRGB -> linear,
resized, and composited in numpy (comp = fg + (1 - a) * bg) before going back to 8-bit sRGB. So the
alpha written is exactly the coverage Cycles rendered and the composite is exactly that alpha over
that background. Runs in the bpy venv (stdlib, numpy, bpy only):

    .venv-blender/bin/python tools/make_matting_clip.py --background ../shared/clips/davis16-dog \\
        --out /work/data/matting/tune-furball-dog --object furball --seed 1 [--frames 30] \\
        [--size 480x270] [--samples 16] [--sheet PATH]

DIR/frames/NNNNN.png (8-bit sRGB composite), DIR/alpha/NNNNN.png (16-bit gray, alpha × 65535),
DIR/masks/NNNNN.png (0/255: alpha >= 0.5), DIR/meta.json, DIR/SOURCE.txt. Each frame's files are
written atomically as it is made; a second run with the same settings renders only missing frames.
Write clips outside the repository: the backgrounds' licences are research-only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from matting_clip import images, objects, pngio, scene  # noqa: E402

RECIPE_KEYS = ("object", "seed", "size", "samples", "background", "shutter", "recipe_version")
RECIPE_VERSION = 2  # bump when a change to the scene changes the pixels


class Refused(Exception):
    """Bad input: one line on stderr, exit status 2."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--background", required=True, type=Path, help="clip folder with frames/*.jpg|png")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--size", default="480x270", help="WIDTHxHEIGHT")
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--object", default="furball", choices=sorted(objects.OBJECTS))
    p.add_argument("--threads", type=int, default=0, help="Cycles CPU threads (0: all cores)")
    p.add_argument("--sheet", type=Path, help="also write a contact sheet PNG (composite | alpha, 3 frames)")
    args = p.parse_args(argv)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        p.error(f"--size {args.size!r}: expected WIDTHxHEIGHT")
    if w < 16 or h < 16 or args.frames < 1 or args.samples < 1:
        p.error("--size must be at least 16x16, --frames and --samples at least 1")
    args.width, args.height = w, h
    return args


def background_index(i: int, n: int) -> int:
    """Frame i of the background: the clip plays forward, then backward (ping-pong) if it is too short."""
    if n == 1:
        return 0
    k = i % (2 * n - 2)
    return k if k < n else 2 * n - 2 - k


def licence_note(clip: Path) -> str:
    source = clip / "SOURCE.txt"
    if source.is_file():
        for line in source.read_text(errors="replace").splitlines():
            if line.lower().startswith("licence:") or line.lower().startswith("license:"):
                return line.split(":", 1)[1].strip()
    return "unknown (no SOURCE.txt next to the frames)"


def source_text(args, recipe: dict) -> str:
    clip = args.background.resolve()
    return f"""clip: {args.out.name}
what: a rendered {args.object} (seed {args.seed}) with soft edges -- sub-pixel strands, motion blur, a
  see-through part -- composited over the frames of a real clip; ground truth for soft mattes.
made by: tools/make_matting_clip.py (VSE Track Anything), Blender {recipe['blender']} Cycles on the CPU,
  {args.samples} samples, no denoising, film transparent, motion blur shutter {recipe['shutter']} frame.
  The object alone is rendered as linear premultiplied RGBA; the background frames (sRGB) are
  converted to linear light, resized to {args.width}x{args.height}, and comp = fg + (1 - alpha) * bg is
  encoded back to 8-bit sRGB. alpha/ is exactly the alpha Cycles rendered (16-bit); masks/ is alpha >= 0.5.
background: {clip.name} ({clip}), frames played in order (ping-pong if the clip is shorter).
background licence: {licence_note(clip)}
  Research / non-commercial use only. Never copy these frames into the repository or its releases.
files: frames/NNNNN.png (8-bit sRGB RGB), alpha/NNNNN.png (16-bit gray, 0..65535),
  masks/NNNNN.png (8-bit, 0/255), meta.json (settings and per-frame render times)
"""


def frame_paths(out: Path, i: int) -> dict:
    return {kind: out / kind / f"{i:05d}.png" for kind in ("frames", "alpha", "masks")}


def load_meta(out: Path, recipe: dict) -> dict:
    path = out / "meta.json"
    if not path.is_file():
        return {}
    meta = json.loads(path.read_text())
    old = {k: meta.get("recipe", {}).get(k) for k in RECIPE_KEYS}
    new = {k: recipe[k] for k in RECIPE_KEYS}
    if old != new:
        changed = ", ".join(f"{k} {old[k]!r} -> {new[k]!r}" for k in RECIPE_KEYS if old[k] != new[k])
        raise Refused(f"{out} holds a clip made with other settings ({changed}); use another --out")
    return meta


def frame_stats(a16: np.ndarray) -> dict:
    a = a16 / 65535.0
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    return {"coverage_pct": round(100 * float(a.mean()), 3),
            "nonzero_pct": round(100 * float((a16 > 0).mean()), 3),
            "partial_pct": round(100 * float(((a16 > 0) & (a16 < 65535)).mean()), 3),
            "soft_pct": round(100 * float(((a > 0.02) & (a < 0.98)).mean()), 3),
            "touches_border": bool((border > 0.02).any())}


def render_clip(args) -> dict:
    import bpy

    bg_files = images.background_files(args.background)
    recipe = {"object": args.object, "seed": args.seed, "size": [args.width, args.height], "samples": args.samples,
              "background": args.background.resolve().name, "shutter": 0.5, "recipe_version": RECIPE_VERSION,
              "blender": bpy.app.version_string}
    out = args.out
    meta = load_meta(out, recipe)
    sc = scene.reset_scene(args.width, args.height, args.samples, args.seed, args.frames)
    if args.threads:
        sc.render.threads_mode, sc.render.threads = "FIXED", args.threads
    hx, hz = scene.half_extent(args.width, args.height)
    creature = objects.build(args.object, args.seed, args.frames, hx, hz)
    out.mkdir(parents=True, exist_ok=True)
    pngio.atomic_write(out / "SOURCE.txt", source_text(args, recipe).encode())
    frames_meta = meta.get("frames", {})
    meta = {"recipe": recipe, "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "object_params": creature.info, "frame_count": args.frames, "background_frames": len(bg_files),
            "frames": frames_meta}
    exr = out / f".render-{os.getpid()}.exr"
    for i in range(args.frames):
        paths = frame_paths(out, i)
        if all(p.is_file() for p in paths.values()):
            print(f"frame {i + 1}/{args.frames}: already there", flush=True)
            continue
        t0 = time.perf_counter()
        rgba = scene.render_rgba(sc, i + 1, exr)  # Blender frame i + 1 is clip frame i
        seconds = time.perf_counter() - t0
        bg_file = bg_files[background_index(i, len(bg_files))]
        bg = images.background_linear(bg_file, args.width, args.height)
        a16 = images.to_uint16(rgba[:, :, 3])
        pngio.write_png(paths["alpha"], a16)
        pngio.write_png(paths["masks"], np.where(a16 >= 32768, 255, 0).astype(np.uint8))
        pngio.write_png(paths["frames"], images.composite(rgba[:, :, :3].astype(np.float64), rgba[:, :, 3], bg))
        frames_meta[f"{i:05d}"] = {"render_s": round(seconds, 3), "background": bg_file.name, **frame_stats(a16)}
        pngio.atomic_write(out / "meta.json", json.dumps(meta, indent=1).encode())
        s = frames_meta[f"{i:05d}"]
        print(f"frame {i + 1}/{args.frames}: {seconds:.2f} s, coverage {s['coverage_pct']:.1f} %, "
              f"0<alpha<1 on {s['partial_pct']:.1f} % of pixels", flush=True)
    times = [f["render_s"] for f in frames_meta.values()]
    meta["render_s_mean"] = round(float(np.mean(times)), 3) if times else None
    pngio.atomic_write(out / "meta.json", json.dumps(meta, indent=1).encode())
    return meta


def contact_sheet(out: Path, frames: int, path: Path) -> None:
    """First, middle and last frame, each as composite | alpha, stacked top to bottom."""
    rows = []
    for i in sorted({0, frames // 2, frames - 1}):
        p = frame_paths(out, i)
        comp = pngio.read_png(p["frames"])
        alpha = (pngio.read_png(p["alpha"]) >> 8).astype(np.uint8)
        gap = np.full((comp.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([comp, gap, np.repeat(alpha[:, :, None], 3, axis=2)], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    pngio.write_png(path, np.concatenate(rows[:-1], axis=0))


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if not args.background.is_dir():
            raise Refused(f"--background {args.background}: not a folder")
        meta = render_clip(args)
    except (Refused, FileNotFoundError) as exc:
        print(f"make_matting_clip: {exc}", file=sys.stderr)
        return 2
    if args.sheet:
        contact_sheet(args.out, args.frames, args.sheet)
    print(f"done: {args.out} (mean render {meta['render_s_mean']} s/frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
