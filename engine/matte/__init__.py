"""Finishing a tracked matte before it is written: grow or choke, soft edges estimated from the
image in a band around the boundary, temporal steadiness, feather. Runs on whatever probability a
tracker gives (classical or learned), at full resolution; docs/MATTING.md describes the method."""

from .finish import MatteFinisher
from .params import MatteParams

__all__ = ["MatteFinisher", "MatteParams"]
