"""The finish each matte gets before it is written, one `MatteFinisher` per tracking run (it
keeps each object's previous frame for temporal steadiness). A hard PNG gets only its edge moved;
soft formats get the whole finish."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .params import MatteParams
from .refine import feather, grown_probability, hard_edge, refined_alpha
from .temporal import EdgeSmoother


class MatteFinisher:
    def __init__(self, params: MatteParams, matte_format: str) -> None:
        self.params = params
        self.soft = matte_format != "png8"
        self._smoothers: dict[int, EdgeSmoother] = {}

    def __call__(self, oid: int, frame: int, prob: np.ndarray, image: Callable[[], np.ndarray]) -> np.ndarray:
        """Object `oid`'s coverage 0..1 on `frame` from the tracker's probability; `image` gives the
        frame (RGB uint8, full resolution) when the finish needs it."""
        p = self.params
        if not self.soft:
            return hard_edge(prob, p.grow).astype(np.float32)
        moved = np.clip(grown_probability(prob, p.grow), 0.0, 1.0)
        if p.edges == "tracker":
            alpha = moved
            rgb = image() if p.temporal > 0 else None
        else:
            rgb = image()
            alpha = refined_alpha(rgb, moved >= 0.5, max(1.0, p.band * max(prob.shape)), p.eps, target=moved)
        if p.temporal > 0:
            alpha = self._smoothers.setdefault(oid, EdgeSmoother(p.temporal)).step(frame, rgb, alpha)
        return feather(alpha, p.feather)
