"""Classical mask propagation: optical-flow warping checked against a colour model and a shape memory."""

from .tracker import ClassicalTracker

__all__ = ["ClassicalTracker"]
