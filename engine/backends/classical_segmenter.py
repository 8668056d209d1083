"""Classical click segmenter (placeholder: GrabCut seeded from clicks). To be replaced by the tuned version."""

from __future__ import annotations

import cv2
import numpy as np

from .base import SegmentResult, Segmenter


class ClassicalSegmenter(Segmenter):
    name = "classical"

    def __init__(self, **_):
        pass

    def segment(self, image, points, labels, prev_mask=None, cache_key=None):
        h, w = image.shape[:2]
        mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
        pos = points[labels == 1]
        if len(pos):
            x0, y0 = np.maximum(pos.min(0) - 60, 0).astype(int)
            x1, y1 = np.minimum(pos.max(0) + 60, [w - 1, h - 1]).astype(int)
            mask[:] = cv2.GC_BGD
            mask[y0:y1 + 1, x0:x1 + 1] = cv2.GC_PR_BGD
        for (x, y), lab in zip(points.astype(int), labels):
            cv2.circle(mask, (int(x), int(y)), 5, int(cv2.GC_FGD if lab else cv2.GC_BGD), -1)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(np.ascontiguousarray(image[:, :, ::-1]), mask, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
        out = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        return SegmentResult(out, 0.5)
