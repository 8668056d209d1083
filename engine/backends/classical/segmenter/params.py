"""Tuning of the classical click segmenter, by name. Defaults were tuned on the synthetic clip and a
spread of real footage (tools/eval_clicks.py); they are choices for footage in general, not for one
clip. Changing a feature field (work_side .. slic_iterations) changes the per-frame features, so
the frame cache belongs to one segmenter instance with one Params."""

from __future__ import annotations

from dataclasses import dataclass

from ...params import BackendParams


@dataclass(frozen=True)
class ClassicalSegmenterParams(BackendParams):
    cache_frames: int = 6  # frames whose features are kept (the server asks for more: several views)

    # per-frame features (features.py)
    work_side: int = 432  # long side of the working image: 854x480 → 432x243, small clips stay as they are
    superpixel_size: int = 8  # SLIC region size at working resolution (≈ 1500 nodes for a 16:9 frame)
    slic_ruler: float = 12.0  # SLIC compactness: higher gives rounder superpixels, lower follows colour
    slic_iterations: int = 6
    palette_size: int = 40  # colours of the per-frame k-means palette the histograms count

    # graph evidence (segmenter.py)
    cost_power: float = 1.5  # sharpen edge costs so the geodesic follows boundaries, not straight lines
    cost_floor: float = 0.05
    border_offset: float = 1.5  # the frame border is only 'probably background': it starts this far behind
    far_slope: float = 1.0  # a first click's extent: geodesic cost allowed per superpixel of straight distance
    far_cap: float = 6.0  # start cost of every node as a weak background source
    click_colour_weight: float = 0.05  # extra weight of clicked superpixels in the colour models
    geo_weight: float = 1.0
    colour_weight: float = 0.5
    prev_weight: float = 0.3  # pull towards the previous mask of the frame
    prior_sharpness: float = 3.0
    prior_strength: float = 0.25  # how strongly each node keeps its prior in the smoothing solve
    smooth_sigma: float = 1.0  # edge cost at which the smoothing weight falls to 1/e
    disconnected_cap: float = 0.3  # probability cap of foreground not connected to a positive click

    # first click: candidates and their objectness (segmenter.py)
    first_click_radii: tuple[int, ...] = (0, 1, 2, 3)  # seed disks around the click, in superpixel sizes
    tiny_area: float = 0.002  # frame fraction below which a candidate is likely a texture detail
    huge_area: float = 0.6  # ... and above which it is likely the background

    # pixels (segmenter.py)
    guided_radius: int = 3  # guided filter at working resolution: edges snap to colour boundaries
    guided_eps: float = 1e-3
    click_radius: int = 3  # full-resolution pixels forced around each click

    def __post_init__(self) -> None:
        object.__setattr__(self, "first_click_radii", tuple(int(r) for r in self.first_click_radii))
        if self.cache_frames < 1:
            raise ValueError(f"cache_frames must be at least 1, not {self.cache_frames}")
        if self.work_side < 16 or self.superpixel_size < 2:
            raise ValueError("work_side must be at least 16 and superpixel_size at least 2")
        if self.palette_size < 2 or self.slic_iterations < 1:
            raise ValueError("palette_size must be at least 2, slic_iterations at least 1")
        if not self.first_click_radii or min(self.first_click_radii) < 0:
            raise ValueError("first_click_radii needs at least one radius, none negative")
        if not 0 < self.tiny_area < self.huge_area < 1:
            raise ValueError("need 0 < tiny_area < huge_area < 1")
