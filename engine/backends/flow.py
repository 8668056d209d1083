"""Dense optical flow between consecutive frames, computed once per frame pair and shared by every
object being tracked, plus the cues derived from it: where the flow can be trusted
(forward-backward consistency), and whether the frame pair is a hard cut (the flow cannot explain
the new frame at all)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


class DisFlow:
    """OpenCV's DIS optical flow whose result depends on its two images only. OpenCV lowers the
    finest pyramid level for good once it meets an image too small for it, so every later flow of
    that object is computed at full resolution: up to 7x slower at 480x270 (3.1 -> 20.7 ms), and
    different from the same flow on a fresh object. Each call puts the preset's level back (a small
    image still gets the lower level, for that call only)."""

    def __init__(self, preset: int) -> None:
        self._dis = cv2.DISOpticalFlow_create(preset)
        self._finest = self._dis.getFinestScale()

    def calc(self, first: np.ndarray, second: np.ndarray, flow: np.ndarray | None = None) -> np.ndarray:
        self._dis.setFinestScale(self._finest)
        return self._dis.calc(first, second, flow)


def dis_flow(preset: str) -> DisFlow:
    """A DIS optical-flow object by preset name; the one place preset names are known."""
    if preset not in DIS_PRESETS:
        raise ValueError(f"unknown flow preset '{preset}' (known: {', '.join(DIS_PRESETS)})")
    return DisFlow(DIS_PRESETS[preset])


@dataclass
class FlowPair:
    """Flow cues for the frame pair (previous → current), at working resolution."""

    backward: np.ndarray  # (h, w, 2): current pixel → where it was in the previous frame
    forward: np.ndarray  # (h, w, 2): previous pixel → where it went in the current frame
    reliability: np.ndarray  # float32 (h, w) in 0..1: 1 where forward and backward flow agree
    residual: np.ndarray  # float32 (h, w): |current - previous warped by the flow| in gray levels
    cut_score: float  # 0..1: how much the pair looks like a hard cut
    # cv2.remap's (x, y) maps that pull the previous frame onto the current one (whole frame only;
    # made once with the pair, for every matte and memory carried to the new frame)
    source: tuple[np.ndarray, np.ndarray] | None = None

    def window(self, win: tuple[slice, slice]) -> FlowPair:
        """The cues over a window (rows, columns) of the frame: views, no copies (no `source`: its
        coordinates are the whole frame's)."""
        return FlowPair(self.backward[win], self.forward[win], self.reliability[win], self.residual[win],
                        self.cut_score)


def warp_map(flow: np.ndarray, grid: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling coordinates for cv2.remap from a displacement field."""
    return grid[0] + flow[..., 0], grid[1] + flow[..., 1]


def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def gray_histogram(gray: np.ndarray) -> np.ndarray:
    hist = cv2.calcHist([gray], [0], None, [32], [0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def cut_score(residual: np.ndarray, reliability: np.ndarray, hist_prev: np.ndarray, hist_cur: np.ndarray) -> float:
    """How much a frame pair looks like a hard cut (pure function, 0..1).

    Within a shot, motion-compensated differences are small for most pixels and the flow is mostly
    self-consistent, even under fast motion. Across a cut, most of the frame is unexplained and the
    brightness distribution usually jumps too. Each cue alone can fire on hard footage (motion blur,
    flashes); the score needs them to agree.
    """
    unexplained = float(np.mean(residual > 30.0))
    inconsistent = 1.0 - float(np.mean(reliability))
    hist_change = 0.5 * float(np.abs(hist_prev - hist_cur).sum())  # total variation, 0..1
    motion_term = np.clip((unexplained - 0.25) / 0.35, 0.0, 1.0) * np.clip((inconsistent - 0.2) / 0.4, 0.2, 1.0)
    hist_term = np.clip((hist_change - 0.15) / 0.3, 0.0, 1.0)
    return float(np.clip(max(motion_term, 0.6 * motion_term + 0.6 * hist_term * (unexplained > 0.2)), 0.0, 1.0))


class FlowEstimator:
    """DIS optical flow both ways between consecutive frames at working resolution."""

    def __init__(self, preset: str = "fast", check_preset: str = "fast", check_scale: float = 1.0) -> None:
        self.check_scale = check_scale
        self.dis = dis_flow(preset)
        # the forward flow only checks the backward one, so it can be cheaper
        self.dis_check = dis_flow(check_preset)
        self.grid: tuple[np.ndarray, np.ndarray] | None = None

    def _forward(self, prev_gray: np.ndarray, gray: np.ndarray) -> np.ndarray:
        """The forward flow only checks the backward one and gives the object's coarse motion, so it
        can be computed at a lower resolution (check_scale) and upsampled."""
        if self.check_scale >= 1.0:
            return self.dis_check.calc(prev_gray, gray, None)
        h, w = gray.shape
        size = (max(8, int(round(w * self.check_scale))), max(8, int(round(h * self.check_scale))))
        small = self.dis_check.calc(cv2.resize(prev_gray, size, interpolation=cv2.INTER_AREA),
                                    cv2.resize(gray, size, interpolation=cv2.INTER_AREA), None)
        up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        up[..., 0] *= w / size[0]
        up[..., 1] *= h / size[1]
        return up

    def pair(self, prev_gray: np.ndarray, gray: np.ndarray, prev_hist: np.ndarray, hist: np.ndarray) -> FlowPair:
        h, w = gray.shape
        if self.grid is None or self.grid[0].shape != (h, w):
            self.grid = pixel_grid(h, w)
        backward = self.dis.calc(gray, prev_gray, None)
        forward = self._forward(prev_gray, gray)
        mx, my = warp_map(backward, self.grid)
        # forward flow sampled where each current pixel came from; consistent flow sums to ~0
        fwd_at_src = cv2.remap(forward, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        total = backward + fwd_at_src
        err = cv2.magnitude(np.ascontiguousarray(total[..., 0]), np.ascontiguousarray(total[..., 1]))
        scale = max(1.0, 0.004 * max(h, w))  # ~2 px at 480 wide: tolerance grows with resolution
        reliability = 1.0 / (1.0 + (err / scale) ** 2)
        prev_warped = cv2.remap(prev_gray, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        residual = cv2.absdiff(gray, prev_warped).astype(np.float32)
        score = cut_score(residual, reliability, prev_hist, hist)
        return FlowPair(backward, forward, reliability.astype(np.float32), residual, score, (mx, my))
