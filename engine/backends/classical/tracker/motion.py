"""The object's own motion, as evidence beside the per-pixel flow warp.

Three cues: the object's whole-body shift found by matching its own pixels (when the flow is
dominated by something in front of it: a fence, branches), one affine motion fitted to the flow
inside the mask (robust to flow bleeding across the boundary), and per pixel whether the flow moves
like the object or like its surroundings (separates the object from look-alike background whenever
the two move differently)."""

from __future__ import annotations

import cv2
import numpy as np

from .appearance import background_ring
from .frame import Frame, grid
from .memory import fit_motion, match_shift, pixels, region_points
from .params import TrackerParams


def object_motion(prob: np.ndarray, prev_rgb: np.ndarray | None, f: Frame, p: TrackerParams, long_side: int
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The object's whole-body motion for this frame pair, and, when the flow has lost the object
    (its flow disagrees with where the object's own pixels match), the previous matte moved by
    the matched shift: the shape memory then follows the match, and the prior takes both."""
    mask = prob > 0.5
    motion = fit_motion(mask, f.flow.forward, p)
    if p.match_radius <= 0 or prev_rgb is None:
        return motion, None
    match = match_shift(prev_rgb, mask, f.rgb, max(2, int(p.match_radius * long_side)), p.match_min_pixels)
    if match is None:
        return motion, None
    dx, dy, _ = match
    ys, xs = pixels(mask)
    cx, cy = float(xs.mean()), float(ys.mean())
    if motion is not None:
        fx, fy = motion @ [cx, cy, 1.0]
        if np.hypot(fx - cx - dx, fy - cy - dy) <= p.match_override:
            return motion, None
    shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    h, w = mask.shape
    moved = cv2.warpAffine(prob, shift.astype(np.float32), (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    return shift, moved


def affine_warp(prob: np.ndarray, f: Frame, p: TrackerParams) -> np.ndarray | None:
    """The previous matte moved by one affine motion fitted to the flow inside it: robust to the
    flow bleeding across the object's boundary, which drags boundary pixels with the background."""
    ys, xs = pixels(prob > 0.5)
    if len(xs) < p.affine_min_pixels:
        return None
    step = max(1, len(xs) // p.affine_samples)
    xs, ys = xs[::step], ys[::step]
    fwd = f.flow.forward[ys, xs]
    src = np.stack([xs, ys], 1).astype(np.float32)
    matrix, _ = cv2.estimateAffine2D(src, src + fwd, method=cv2.RANSAC, ransacReprojThreshold=p.affine_threshold,
                                     maxIters=p.affine_iterations)
    if matrix is None:
        return None
    h, w = prob.shape
    return cv2.warpAffine(prob, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)


def motion_evidence(f: Frame, mask: np.ndarray, p: TrackerParams, long_side: int) -> np.ndarray | None:
    """Per pixel in -1..1: +1 where the flow follows the object's own motion, -1 where it follows
    the motion of the background around it, 0 where the two motions are alike or neither fits.
    Separates the object from look-alike surroundings whenever it moves differently from them
    (a followed car, a running dog, a panning camera)."""
    core = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ring = surroundings(mask, p, long_side)
    back = f.flow.backward
    fg = fit_affine(core, back, p)
    bg = fit_affine(ring, back, p)
    if fg is None or bg is None:
        return None
    xs, ys = grid(f)
    pred_fg = apply_affine(fg, xs, ys)
    pred_bg = apply_affine(bg, xs, ys)
    r_fg = length(back - pred_fg)
    r_bg = length(back - pred_bg)
    sep = length(pred_fg - pred_bg)
    evidence = (r_bg - r_fg) / (r_bg + r_fg + p.motion_residual_floor)
    ramp = np.clip((sep - p.motion_min_separation) / p.motion_separation_ramp, 0.0, 1.0)
    return (evidence * ramp).astype(np.float32)


def surroundings(mask: np.ndarray, p: TrackerParams, long_side: int) -> np.ndarray:
    """The ring of background whose motion competes with the matte's (`motion_ring*`)."""
    return background_ring(mask, p.motion_ring_inner, max(p.motion_ring_inner + 1, int(p.motion_ring * long_side)))


def fit_affine(region: np.ndarray, flow: np.ndarray, p: TrackerParams) -> np.ndarray | None:
    """Affine displacement model (2×3, maps x, y, 1 → dx, dy) fitted robustly to the flow in a region."""
    points = region_points(region, p.motion_min_pixels, p.motion_samples)
    if points is None:
        return None
    xs, ys, src = points
    matrix, _ = cv2.estimateAffine2D(src, src + flow[ys, xs], method=cv2.RANSAC,
                                     ransacReprojThreshold=p.motion_threshold, maxIters=p.motion_iterations)
    if matrix is None:
        return None
    matrix = matrix.astype(np.float32)
    matrix[0, 0] -= 1.0
    matrix[1, 1] -= 1.0
    return matrix


def apply_affine(m: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.stack([m[0, 0] * xs + m[0, 1] * ys + m[0, 2], m[1, 0] * xs + m[1, 1] * ys + m[1, 2]], axis=2)


def length(v: np.ndarray) -> np.ndarray:
    """Per-pixel length of a (h, w, 2) vector field (cv2.magnitude: several times faster than numpy)."""
    return cv2.magnitude(np.ascontiguousarray(v[..., 0]), np.ascontiguousarray(v[..., 1]))
