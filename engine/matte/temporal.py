"""Steady edges: the alpha of an edge pixel follows its own history instead of boiling.

Each frame's edge is estimated on its own, so small differences in the tracker's boundary and in
image noise make it flicker. The previous frame's finished alpha is carried to this frame along the
optical flow and blended in, per pixel, by how well the carried image agrees with this frame's
image: where the object or the camera moved and the flow followed, the history is kept; where the
flow is wrong or something new appears, the colours disagree and this frame's alpha wins. Only
pixels where either alpha is fractional take part, so the inside and outside stay exactly 0 and 1.
Memory: one frame of alpha and gray per object; frames must come in order (a jump starts afresh)."""

from __future__ import annotations

import cv2
import numpy as np

from ..backends.flow import dis_flow
from .refine import padded_box

AGREE_SIGMA = 12.0  # 8-bit levels: a colour difference of this much keeps e^-1 of the history's weight
_MIN_SIDE = 16  # DIS needs a few pyramid levels


class EdgeSmoother:
    def __init__(self, strength: float) -> None:
        self.strength = strength
        self._prev: tuple[int, np.ndarray, np.ndarray] | None = None  # frame, image, alpha
        self._dis = dis_flow("ultrafast")

    def step(self, frame: int, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """This frame's alpha blended with the carried history (returned, and kept as history)."""
        out = alpha
        if self.strength > 0 and self._prev is not None and abs(frame - self._prev[0]) == 1 \
                and self._prev[1].shape == image.shape:
            out = self._blend(image, alpha, *self._prev[1:])
        self._prev = (frame, image, out)
        return out

    def _blend(self, image, alpha, prev_image, prev_alpha) -> np.ndarray:
        fractional = lambda a: (a > 0.0) & (a < 1.0)  # noqa: E731
        box = padded_box(fractional(alpha) | fractional(prev_alpha), 8)
        if box is None:
            return alpha
        y0, y1, x0, x1 = box
        if y1 - y0 < _MIN_SIDE or x1 - x0 < _MIN_SIDE:
            return alpha
        cur = image[y0:y1, x0:x1]
        before = prev_image[y0:y1, x0:x1]
        flow = self._dis.calc(cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY), cv2.cvtColor(before, cv2.COLOR_RGB2GRAY), None)
        h, w = flow.shape[:2]
        grid = np.indices((h, w), np.float32)
        map_x, map_y = grid[1] + flow[..., 0], grid[0] + flow[..., 1]
        carried = cv2.remap(prev_alpha[y0:y1, x0:x1], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        carried_image = cv2.remap(before, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        diff = np.abs(cur.astype(np.float32) - carried_image.astype(np.float32)).max(axis=2)
        weight = self.strength * np.exp(-(diff * (1.0 / AGREE_SIGMA)) ** 2)
        here = alpha[y0:y1, x0:x1]
        blend = fractional(here) | fractional(carried)
        out = alpha.copy()
        out[y0:y1, x0:x1] = np.where(blend, (1.0 - weight) * here + weight * carried, here)
        return out
