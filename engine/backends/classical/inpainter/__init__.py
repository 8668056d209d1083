"""Classical video inpainting: the hole filled from aligned nearby frames, blended across tiers."""

from .inpainter import ClassicalInpainter

__all__ = ["ClassicalInpainter"]
