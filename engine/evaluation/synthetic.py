"""A generated clip with exact ground truth: a textured object moving over a textured, panning
background. Used by `vta-engine demo`, the tests and the benchmarks; frames are made on demand, so a
3000-frame clip costs no more memory than a 30-frame one."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from ..fileio import atomic_write_png, mask_to_png_array


def _texture(h: int, w: int, rng: np.random.Generator, base: tuple[int, int, int], contrast: float) -> np.ndarray:
    """Multi-scale smooth noise plus some edges: enough structure for optical flow to lock onto."""
    acc = np.zeros((h, w), np.float32)
    for scale, weight in ((64, 0.45), (16, 0.3), (4, 0.25)):
        small = rng.standard_normal((max(2, h // scale), max(2, w // scale))).astype(np.float32)
        acc += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.empty((h, w, 3), np.float32)
    tint = rng.uniform(-1, 1, 3).astype(np.float32)
    for c in range(3):
        img[:, :, c] = base[c] + contrast * (acc * (1.0 + 0.3 * tint[c]))
    for _ in range(max(4, h * w // 20000)):  # lines and blobs give corners and edges
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        color = tuple(float(v) for v in rng.uniform(0, 255, 3))
        if rng.random() < 0.5:
            p2 = (int(p1[0] + rng.integers(-80, 80)), int(p1[1] + rng.integers(-80, 80)))
            cv2.line(img, p1, p2, color, int(rng.integers(1, 4)), cv2.LINE_AA)
        else:
            cv2.circle(img, p1, int(rng.integers(3, 18)), color, -1, cv2.LINE_AA)
    return np.clip(img, 0, 255).astype(np.uint8)


class SyntheticClip:
    """Frame i: a window of a wide background panning right, with a textured blob moving on a
    Lissajous path and slowly turning. `mask(i)` and `background(i)` are the exact ground truth."""

    def __init__(self, width: int = 320, height: int = 180, frames: int = 48, seed: int = 7,
                 pan_px_per_frame: float = 1.5, object_scale: float = 0.22) -> None:
        self.width, self.height, self.frames, self.fps = width, height, frames, 24.0
        rng = np.random.default_rng(seed)
        self.pan = pan_px_per_frame
        # the background canvas wraps around, so any length of clip pans smoothly
        self.canvas_w = width * 3
        self.canvas = _texture(height, self.canvas_w, rng, (110, 120, 100), 70.0)
        r = int(min(width, height) * object_scale)
        self.radius = r
        angles = np.linspace(0, 2 * math.pi, 14, endpoint=False)
        radii = r * (0.75 + 0.25 * rng.random(14))
        self.shape = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1).astype(np.float32)
        self.object_tex = _texture(2 * r + 1, 2 * r + 1, rng, (200, 80, 60), 60.0)

    def __len__(self) -> int:
        return self.frames

    def _pose(self, i: int) -> tuple[float, float, float]:
        t = i / 24.0
        cx = self.width * (0.5 + 0.3 * math.sin(0.9 * t))
        cy = self.height * (0.5 + 0.22 * math.sin(1.4 * t + 0.5))
        return cx, cy, 0.25 * math.sin(0.6 * t)

    def background(self, i: int) -> np.ndarray:
        # columns taken modulo the canvas width: past its end the pan goes on from its start (a
        # rigid seam that moves with everything else), never a jump back, which would be a cut
        x0 = int(round(i * self.pan)) % self.canvas_w
        return self.canvas.take(np.arange(x0, x0 + self.width), axis=1, mode="wrap")

    def _object_layer(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        cx, cy, angle = self._pose(i)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], np.float32)
        poly = (self.shape @ rot.T + [cx, cy]).astype(np.float32)
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        r = self.radius
        m = cv2.getRotationMatrix2D((r, r), -math.degrees(angle), 1.0)
        m[:, 2] += [cx - r, cy - r]
        tex = cv2.warpAffine(self.object_tex, m, (self.width, self.height), borderMode=cv2.BORDER_REFLECT)
        return mask, tex

    def mask(self, i: int) -> np.ndarray:
        return self._object_layer(i)[0] >= 128

    def frame(self, i: int) -> np.ndarray:
        bg = self.background(i).astype(np.float32)
        alpha, tex = self._object_layer(i)
        a = (alpha.astype(np.float32) / 255.0)[:, :, None]
        return np.clip(bg * (1 - a) + tex.astype(np.float32) * a + 0.5, 0, 255).astype(np.uint8)

    def click(self, i: int = 0) -> tuple[int, int]:
        """The interior point farthest from the object's boundary: where a user would click."""
        dist = cv2.distanceTransform(self.mask(i).astype(np.uint8), cv2.DIST_L2, 5)
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        return int(x), int(y)

    def write_frames(self, folder: str | Path, masks_folder: str | Path | None = None) -> Path:
        folder = Path(folder)
        for i in range(self.frames):
            atomic_write_png(folder / f"{i:05d}.png", self.frame(i))
            if masks_folder is not None:
                atomic_write_png(Path(masks_folder) / f"{i:05d}.png", mask_to_png_array(self.mask(i)))
        return folder

    def write_movie(self, path: str | Path, codec: str = "libx264", crf: int = 12) -> Path:
        """Encode through FFmpeg (PyAV). libx264 at low CRF for realistic lossy input, ffv1 for lossless."""
        import av

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=int(self.fps))
            stream.width, stream.height = self.width, self.height
            if codec == "libx264":
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast", "g": "12"}
            elif codec == "ffv1":
                stream.pix_fmt = "bgr0"
            for i in range(self.frames):
                for packet in stream.encode(av.VideoFrame.from_ndarray(self.frame(i), format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return path
