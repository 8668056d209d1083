"""Classical mask propagation: optical-flow warping checked against a colour model and a shape memory.

Modules by stage: params (the tuning numbers), frame (per-frame preparation and flow), prior (shape
prior and the carried keyframe shape), motion (the object's own motion), segment (fusion, edge
snapping, graph cut), recover (finding a lost object), guard (a matte stuck to the background after
an occlusion), object_track (one object's state and step), confidence, appearance (colour model),
memory (shape memory), tracker (the driver)."""

from .params import TrackerParams
from .tracker import ClassicalTracker, ClassicalTrackState

__all__ = ["ClassicalTracker", "ClassicalTrackState", "TrackerParams"]
