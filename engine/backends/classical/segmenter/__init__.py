"""Classical interactive segmentation: superpixel features, a graph over them, one solve per click."""

from .segmenter import ClassicalSegmenter

__all__ = ["ClassicalSegmenter"]
