"""The background as it looked where it was last seen, carried along the flow: evidence against a
matte that spreads onto it.

A matte leaks where the background has the object's colours (clay under an orange dog, a wall the
colour of its fur), most often while the object is partly hidden and the shape prior is weak. The
colour model cannot tell the two apart, but the background itself was often in view before the
object came near: every frame, the pixels well away from every matte are remembered (blurred a
little), and the memory is carried to the next frame by the same backward flow that carries the
mattes. Where the current frame still looks like the remembered background, that is evidence for
background. Inside an object the memory is carried along the object's own motion, from where no
background was seen, so the object does not erode; a revealed strip behind a moving object has no
memory either. Whole-frame work at the working resolution, about 5 ms a frame (docs/TRACKING.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from .frame import Frame
from .params import TrackerParams


class BackgroundMemory:
    """The remembered background colours (uint8) and how far each pixel's memory can be trusted
    (0..1: 1 where seen, lowered wherever the flow that carried it disagrees with itself)."""

    def __init__(self, f: Frame, p: TrackerParams, long_side: int) -> None:
        """`f`: the run's first frame, whose background is remembered at the first `learn`."""
        self.p = p
        size = 2 * max(1, int(round(p.background_margin * long_side))) + 1
        self.kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
        # colour difference (largest channel, 0..255) → how alike: 1 up to `low`, 0 from `high`
        diff = np.arange(256, dtype=np.float32)
        self.alike = np.clip((p.background_high - diff) / (p.background_high - p.background_low), 0, 1
                             ).astype(np.float32)
        self.current = self._smooth(f.rgb)
        self.colours = self.current.copy()
        self.trust = np.zeros(self.current.shape[:2], np.float32)

    def _smooth(self, rgb: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(rgb, (0, 0), self.p.background_blur)

    def evidence(self, f: Frame) -> np.ndarray | None:
        """Per pixel 0..1 of the new frame: how surely it shows the background remembered there
        (None after a cut or without flow: the memory is dropped)."""
        self.current = self._smooth(f.rgb)
        if f.flow is None or f.cut:
            self.trust[:] = 0
            return None
        mx, my = f.flow.source
        self.colours = cv2.remap(self.colours, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        trust = cv2.remap(self.trust, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        self.trust = cv2.multiply(trust, f.flow.reliability)
        b, g, r = cv2.split(cv2.absdiff(self.current, self.colours))
        return cv2.multiply(self.alike[cv2.max(cv2.max(b, g), r)], self.trust)

    def learn(self, objects: np.ndarray) -> None:
        """Once the last frame's mattes are final: remember its pixels at least `background_margin`
        away from every one of them (what lies nearer may be a part the matte missed)."""
        free = (cv2.dilate(objects.astype(np.uint8), self.kernel) == 0).astype(np.uint8)
        cv2.copyTo(self.current, free, self.colours)
        np.maximum(self.trust, free, out=self.trust)
