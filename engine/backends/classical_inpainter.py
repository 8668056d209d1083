"""Classical inpainter (placeholder: per-frame Telea). To be replaced by temporal propagation."""

from __future__ import annotations

import cv2
import numpy as np

from .base import Inpainter


class ClassicalInpainter(Inpainter):
    name = "classical"

    def __init__(self, **_):
        pass

    def inpaint(self, video, masks, frames, dilate=8, resize_ratio=1.0, cancel=None):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1)) if dilate > 0 else None
        for frame in frames:
            if cancel:
                cancel.check()
            image = video.read(frame)
            hole = masks(frame).astype(np.uint8)
            if kernel is not None:
                hole = cv2.dilate(hole, kernel)
            yield frame, cv2.inpaint(image, hole * 255, 5, cv2.INPAINT_TELEA)
