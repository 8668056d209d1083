"""Classical video inpainting: the hole filled from aligned nearby frames, blended across tiers
(docs/INPAINTING.md)."""

from .inpainter import ClassicalInpainter, TemporalInpainting
from .params import InpainterParams
from .spatial import SpatialFill, clone_fill

__all__ = ["ClassicalInpainter", "InpainterParams", "SpatialFill", "TemporalInpainting", "clone_fill"]
