"""Classical tracker (placeholder: plain DIS flow warping). To be replaced by the tuned version."""

from __future__ import annotations

import cv2
import numpy as np

from .base import Tracker


class ClassicalTracker(Tracker):
    name = "classical"

    def __init__(self, **_):
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def propagate(self, video, init_frame, init_masks, frames, cancel=None):
        prev_gray = cv2.cvtColor(video.read(init_frame), cv2.COLOR_RGB2GRAY)
        masks = {k: v.astype(np.float32) for k, v in init_masks.items()}
        h, w = prev_gray.shape
        grid = np.mgrid[0:h, 0:w].astype(np.float32)
        for frame in frames:
            if cancel:
                cancel.check()
            gray = cv2.cvtColor(video.read(frame), cv2.COLOR_RGB2GRAY)
            flow = self.dis.calc(gray, prev_gray, None)  # current → previous
            mx, my = grid[1] + flow[..., 0], grid[0] + flow[..., 1]
            masks = {k: cv2.remap(m, mx, my, cv2.INTER_LINEAR) for k, m in masks.items()}
            yield frame, masks, {k: 0.5 for k in masks}
            prev_gray = gray
