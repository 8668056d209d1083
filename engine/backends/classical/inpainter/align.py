"""Aligning frames to each other for the clean-plate inpainter.

Two layers, because footage mixes them: a homography between consecutive frames (from corners
tracked on the background only) captures camera pan/tilt/zoom and chains cheaply over many frames;
a dense flow (DIS) between the target and the homography-warped source then corrects what a plane
cannot explain (parallax, lens distortion, drift of the chain). Inside the hole the flow is
meaningless (it sees the object, not the background), so it is completed from the hole border.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...flow import dis_flow
from .fields import fill_smooth, spread

_MAX_TRACK_SIDE = 640  # corners are tracked at most at this size: plenty for a homography, cheap


def consecutive_homography(prev_gray: np.ndarray, cur_gray: np.ndarray,
                           prev_bad: np.ndarray, cur_bad: np.ndarray) -> tuple[np.ndarray, bool]:
    """3x3 homography mapping `cur` pixel coordinates to `prev` ones, from corners outside the
    bad (hole) regions, tracked with pyramidal Lucas-Kanade and checked forward-backward.
    Returns (H, ok); ok=False means too little trustworthy texture, H is then identity."""
    h, w = cur_gray.shape
    scale = min(1.0, _MAX_TRACK_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        cur_s = cv2.resize(cur_gray, size, interpolation=cv2.INTER_AREA)
        prev_s = cv2.resize(prev_gray, size, interpolation=cv2.INTER_AREA)
        bad = cv2.resize((cur_bad | prev_bad).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    else:
        cur_s, prev_s, bad = cur_gray, prev_gray, (cur_bad | prev_bad).astype(np.uint8)
    allowed = np.where(bad > 0, 0, 255).astype(np.uint8)
    pts = cv2.goodFeaturesToTrack(cur_s, maxCorners=400, qualityLevel=0.005, minDistance=7, mask=allowed, blockSize=7)
    identity = np.eye(3)
    if pts is None or len(pts) < 12:
        return identity, False
    lk = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
    fwd, st1, _ = cv2.calcOpticalFlowPyrLK(cur_s, prev_s, pts, None, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(prev_s, cur_s, fwd, None, **lk)
    good = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((back - pts).reshape(-1, 2), axis=1) < 1.0)
    if good.sum() < 12:
        return identity, False
    src = pts.reshape(-1, 2)[good] / scale
    dst = fwd.reshape(-1, 2)[good] / scale
    H, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 2.0 / scale, maxIters=500, confidence=0.99)
    if H is None or inliers is None or inliers.sum() < 10 or not np.isfinite(H).all():
        return identity, False
    return H / H[2, 2], True


def apply_homography(M: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map pixel coordinates through a 3x3 homography (float32 arrays, same shape in and out)."""
    pts = np.stack([xs, ys], axis=-1).reshape(-1, 1, 2).astype(np.float32, copy=False)
    out = cv2.perspectiveTransform(pts, np.asarray(M, np.float64)).reshape(*xs.shape, 2)
    return out[..., 0], out[..., 1]


def crop_homography(M: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """M applied to crop coordinates: pixel (u, v) of a crop starting at (x0, y0) is (u+x0, v+y0)."""
    shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    return M @ shift


class FlowRefiner:
    """Residual dense flow between the target and a pre-aligned source, completed inside holes.

    The flow is computed at most at `max_side` pixels (it is a small residual after the homography,
    so half resolution loses little) and brought back to crop size."""

    def __init__(self, max_side: int = 480, preset: str = "fast") -> None:
        self.max_side = max_side
        self.dis = dis_flow(preset)

    def residual(self, target_gray: np.ndarray, source_gray: np.ndarray, unreliable: np.ndarray) -> np.ndarray:
        """Flow (h, w, 2) such that target(p) ≈ source(p + flow(p)); where `unreliable` (the target's
        hole, the source's hole) the flow is interpolated from the surrounding reliable flow."""
        h, w = target_gray.shape
        flow, scale = self.coarse(target_gray, source_gray, unreliable)
        if scale < 1.0:
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(1.0 / scale)
        return flow

    def coarse(self, target_gray: np.ndarray, source_gray: np.ndarray, unreliable: np.ndarray) -> tuple[np.ndarray, float]:
        """The same flow at the size it was computed: (flow in pixels of that size, its scale to the
        input). For callers that keep many flows and only sample them."""
        h, w = target_gray.shape
        # show DIS the same content on both sides inside the unreliable region, so the object's own
        # motion does not bleed into the background flow around it
        t = np.where(unreliable, source_gray, target_gray)
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            size = (max(16, round(w * scale)), max(16, round(h * scale)))
            t_s = cv2.resize(t, size, interpolation=cv2.INTER_AREA)
            s_s = cv2.resize(source_gray, size, interpolation=cv2.INTER_AREA)
            bad = cv2.resize(unreliable.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
        else:
            t_s, s_s, bad = t, source_gray, unreliable
        if min(t_s.shape) < 16:
            return np.zeros((*t_s.shape, 2), np.float32), scale
        flow = self.dis.calc(np.ascontiguousarray(t_s), np.ascontiguousarray(s_s), None)
        return complete_flow(flow, bad), scale


def complete_flow(flow: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace the flow at `bad` pixels by a smooth interpolation of the good flow around them.
    Interpolated at half size: the completed field is smooth anyway, and this is the hot loop."""
    if not bad.any():
        return flow
    h, w = bad.shape
    if min(h, w) >= 32:
        size = ((w + 1) // 2, (h + 1) // 2)
        small = cv2.resize(flow, size, interpolation=cv2.INTER_AREA)
        small_bad = cv2.resize(bad.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
        filled = cv2.resize(fill_smooth(small, ~small_bad), (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        filled = fill_smooth(flow, ~bad)
    return np.where(spread(bad, flow.shape[2]), filled, flow)
