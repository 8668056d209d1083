"""Occlusion clips with exact ground truth, for measuring leaks on footage the tracker was not tuned on.

Each clip composites an object cut by its ground-truth mask from one shared clip's frames (its own
articulation kept, moved along a path) over the frames of ANOTHER shared clip (its camera motion
kept), with an occluder passing in front of the object: vertical poles textured from a third clip,
or foliage-like blobs cut from a third clip. Variants: the occluder hides the object completely for
some frames, the object leaves the frame and comes back, the background is tinted towards the
object's colours. Ground truth = the object's pasted mask minus the occluder.

Frames and masks are written in the layout of ../shared/clips (frames/NNNNN.jpg, masks/NNNNN.png) to
a folder OUTSIDE the repository (the footage's licences forbid copying it in); the random seed is
fixed, so the clips are the same on every run. Half the clips are for tuning, half held out:

    python tools/make_occlusion_clips.py --out /tmp/occl_clips
    python tools/eval_tracking.py --no-decode-timing --clips /tmp/occl_clips --only occl-t1 occl-t2 ...

(`--list tune` / `--list held` prints the names of one half.)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.evaluation.truth import read_labels  # noqa: E402

SIZE = (480, 270)  # output width, height
FRAMES = 45


@dataclass(frozen=True)
class Spec:
    name: str
    obj: str  # clip the object is cut from
    obj_id: int  # its label in that clip's masks
    bg: str  # clip whose frames are the background
    occ: str  # clip the occluder's texture comes from
    occluder: str  # "poles" or "foliage"
    width: float  # occluder width × object width (> 1: hides the object completely)
    leave: bool = False  # the object leaves the frame and comes back
    similar: bool = False  # background tinted towards the object's colours
    area: float = 0.05  # object area × frame area (first frame)


SPECS = [
    # tuning half
    Spec("occl-t1", "davis16-dog", 1, "sam2-bedroom", "propainter-bmx-trees-432x240", "poles", 0.45),
    Spec("occl-t2", "davis16-car-roundabout", 1, "propainter-tennis-432x240", "propainter-bmx-trees-432x240",
         "foliage", 1.2),
    Spec("occl-t3", "davis16-blackswan", 1, "davis16-dog", "davis16-libby", "poles", 1.4, similar=True),
    Spec("occl-t4", "e2fgvi-schoolgirls-432x240", 3, "davis16-car-roundabout", "davis16-blackswan", "poles", 0.6,
         leave=True, area=0.03),
    # held-out half
    Spec("occl-h1", "davis16-libby", 1, "sam2-bedroom", "davis16-dog", "foliage", 1.3, similar=True),
    Spec("occl-h2", "propainter-bmx-trees-432x240", 1, "davis16-blackswan", "davis16-car-roundabout", "poles", 1.3),
    Spec("occl-h3", "davis16-dog", 1, "propainter-tennis-432x240", "propainter-bmx-trees-432x240", "foliage", 1.0,
         leave=True),
    Spec("occl-h4", "davis16-car-roundabout", 1, "sam2-bedroom", "davis16-libby", "poles", 0.5, similar=True),
]


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return image[:, :, ::-1]


def frame_files(root: Path, clip: str) -> list[Path]:
    folder = root / clip / "frames"
    return sorted(folder.glob("*.jpg")) or sorted(folder.glob("*.png"))


def pingpong(i: int, n: int) -> int:
    """Frame i of a sequence played forwards then backwards (no jump where it wraps)."""
    if n <= 1:
        return 0
    period = 2 * (n - 1)
    k = i % period
    return k if k < n else period - k


def cut_object(root: Path, spec: Spec, t: int, scale: float | None):
    """The object on source frame t: (rgb crop, bool mask crop, scale used), scaled so that its
    area on the first frame is spec.area of the output frame."""
    files = frame_files(root, spec.obj)
    masks = sorted((root / spec.obj / "masks").glob("*.png"))
    k = pingpong(t, min(len(files), len(masks)))
    rgb, mask = read_rgb(files[k]), read_labels(masks[k]) == spec.obj_id
    if not mask.any():
        return None, None, scale
    if scale is None:
        scale = float(np.sqrt(spec.area * SIZE[0] * SIZE[1] / mask.sum()))
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    crop = cv2.resize(np.ascontiguousarray(rgb[y:y + h, x:x + w]), size, interpolation=cv2.INTER_AREA)
    m = cv2.resize(mask[y:y + h, x:x + w].astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5
    return crop, m, scale


def path(spec: Spec, t: int, rng_phase: float) -> tuple[float, float]:
    """Where the object's centre is on frame t (pixels)."""
    w, h = SIZE
    s = t / (FRAMES - 1)
    if spec.leave:  # right across and out, then back in from the right
        x = w * (0.35 + 1.6 * s) if s < 0.5 else w * (1.15 - 1.3 * (s - 0.5))
    else:
        x = w * (0.2 + 0.6 * s)
    y = h * (0.55 + 0.08 * np.sin(2 * np.pi * s + rng_phase))
    return x, y


def paste(canvas: np.ndarray, label: np.ndarray, crop: np.ndarray, mask: np.ndarray, cx: float, cy: float) -> None:
    """Paste the masked crop with its mask centroid at (cx, cy), clipped to the frame."""
    ys, xs = np.nonzero(mask)
    ox, oy = int(round(cx - xs.mean())), int(round(cy - ys.mean()))
    h, w = mask.shape
    H, W = label.shape
    x0, y0, x1, y1 = max(0, ox), max(0, oy), min(W, ox + w), min(H, oy + h)
    if x0 >= x1 or y0 >= y1:
        return
    sub = mask[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    canvas[y0:y1, x0:x1][sub] = crop[y0 - oy:y1 - oy, x0 - ox:x1 - ox][sub]
    label[y0:y1, x0:x1] |= sub


def occluder_layer(root: Path, spec: Spec, obj_w: int, obj_h: int, rng: np.random.Generator):
    """(rgb texture, bool mask) of the occluder at output size, standing in the middle of the object's path."""
    w, h = SIZE
    tex_files = frame_files(root, spec.occ)
    tex = cv2.resize(read_rgb(tex_files[len(tex_files) // 2]), SIZE, interpolation=cv2.INTER_AREA)
    mask = np.zeros((h, w), np.uint8)
    cx = int(w * 0.5)
    if spec.occluder == "poles":
        width = max(3, int(spec.width * obj_w))
        mask[:, cx - width // 2:cx - width // 2 + width] = 1
        if spec.width < 1.0:  # a second, thinner pole
            x2 = cx + int(1.6 * obj_w)
            mask[:, x2:x2 + max(2, width // 2)] = 1
        # a pole's texture: the third clip's pixels there, shaded across each pole like a cylinder
        xs = np.arange(w)
        shade = 0.7 + 0.3 * np.cos(np.pi * ((xs - cx) % max(width, 1) / max(width, 1) - 0.5))
        texture = np.clip(tex.astype(np.float32) * shade[None, :, None], 0, 255).astype(np.uint8)
    else:  # foliage: a cloud of ellipses (leaves) with gaps, textured from the third clip
        cy = int(h * 0.55)
        rw, rh = int(spec.width * obj_w * 0.6), int(max(obj_h, obj_w * 0.5) * 0.9)
        for _ in range(60):
            ex = int(cx + rng.normal(0, rw / 2))
            ey = int(cy + rng.normal(0, rh / 2))
            axes = (int(rng.integers(3, max(4, obj_w // 6))), int(rng.integers(3, max(4, obj_h // 6))))
            cv2.ellipse(mask, (ex, ey), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        texture = tex
    return texture, mask > 0


def tint(bg: np.ndarray, target: np.ndarray, amount: float = 0.7) -> np.ndarray:
    """Shift the background's mean colour towards `target` (its texture stays)."""
    shift = amount * (target - bg.reshape(-1, 3).mean(0))
    return np.clip(bg.astype(np.float32) + shift, 0, 255).astype(np.uint8)


def make_clip(root: Path, spec: Spec, out: Path, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    phase = float(rng.uniform(0, 2 * np.pi))
    bg_files = frame_files(root, spec.bg)
    crop0, mask0, scale = cut_object(root, spec, 0, None)
    obj_colour = crop0[mask0].astype(np.float32).mean(0)
    texture, occ = occluder_layer(root, spec, mask0.shape[1], mask0.shape[0], rng)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    hidden, areas = 0, []
    for t in range(FRAMES):
        bg = cv2.resize(read_rgb(bg_files[pingpong(t, len(bg_files))]), SIZE, interpolation=cv2.INTER_AREA)
        if spec.similar:
            bg = tint(bg, obj_colour)
        canvas = bg.copy()
        label = np.zeros((SIZE[1], SIZE[0]), bool)
        crop, mask, _ = cut_object(root, spec, t, scale)
        if crop is not None:
            paste(canvas, label, crop, mask, *path(spec, t, phase))
        full = label.sum()
        canvas[occ] = texture[occ]
        label &= ~occ
        if full and label.sum() < 0.05 * full:
            hidden += 1
        areas.append(int(label.sum()))
        cv2.imwrite(str(out / "frames" / f"{t:05d}.jpg"), canvas[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(out / "masks" / f"{t:05d}.png"), label.astype(np.uint8) * 255)
    (out / "SOURCE.txt").write_text(f"generated by tools/make_occlusion_clips.py from {root}: {spec}\n")
    return {"name": spec.name, "hidden_frames": hidden, "min_area": min(areas), "max_area": max(areas)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", default=str(Path(__file__).resolve().parents[2] / "shared" / "clips"),
                    help="the shared clips (sources)")
    ap.add_argument("--out", default="/tmp/occl_clips", help="where to write (outside the repository)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--list", choices=("tune", "held"), help="print the clip names of one half and exit")
    args = ap.parse_args(argv)
    if args.list:
        print(" ".join(s.name for s in SPECS if s.name.startswith("occl-t" if args.list == "tune" else "occl-h")))
        return 0
    root = Path(args.clips)
    needed = {c for s in SPECS for c in (s.obj, s.bg, s.occ)}
    missing = [c for c in sorted(needed) if not (root / c / "frames").is_dir()]
    if missing:
        print(f"source clips missing in {root}: {', '.join(missing)}: skipping")
        return 0
    for i, spec in enumerate(SPECS):
        info = make_clip(root, spec, Path(args.out) / spec.name, args.seed + i)
        print(info, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
