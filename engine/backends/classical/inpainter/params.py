"""The clean-plate inpainter's tuning numbers, by name (docs/INPAINTING.md says what each stage does).

Defaults were chosen on the shared real clips (docs/BENCHMARKS.md), not on one shot. Gray levels are
0..255 differences of the frames' luma or mean colour; "tiers" are the groups of sources equally far
in time from the frame being cleaned."""

from __future__ import annotations

from dataclasses import dataclass

from ...flow import DIS_PRESETS
from ...params import BackendParams


@dataclass(frozen=True)
class InpainterParams(BackendParams):
    radius: int = 30  # frames on each side of the frame being cleaned that may serve as sources
    # temporal offsets of the source tiers, tried in order (those up to `radius`): dense near the
    # frame, sparser far away, so long gaps are covered without paying a flow per window frame
    tier_distances: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 11, 16, 22, 30)
    feather: float = 3.0  # px inside the dilated hole over which the fill fades in over the original
    max_ring_error: float = 40.0  # gray levels: a source this far off on the whole ring is rejected
    local_ring_error: float = 30.0  # gray levels: a source is used only where the ring near it matches
    local_weight: float = 8.0  # gray levels of nearby ring error that halve a source's weight
    plate_weight: float = 1.0  # the neighbours' clean plates' weight, relative to a frame 1 away
    back_block: int = 8  # backward plates are made for this many frames at a time
    back_overlap: int = 4  # ... starting this many frames further on, so the first has a plate after it
    flow_max_side: int = 480  # px: residual flows are measured at most at this long side
    agree_threshold: float = 16.0  # gray levels: two sides of a tier closer than this are averaged
    flow_preset: str = "fast"  # DIS preset of the residual and chained flows
    bidirectional: bool = True  # a two-sided tier is aligned by the flow between its two sources
    blend_tiers: int = 6  # nearest tiers that see a pixel averaged into it
    correction_scale: int = 3  # colour correction and nearby ring match measured in cells of this many px
    correction_clip: float = 255.0  # gray levels: ring differences clipped to this before the correction
    uncertain_blur: float = 2.0  # px (Gaussian sigma) of the blur leaned toward where tiers disagree (0: off)
    uncertain_level: float = 36.0  # gray levels of tier disagreement at which the blur takes over
    chain_reach: int = 8  # sources this near in time also get the chained-flow alignment (0: off)
    static_reach: int = 3  # sources this near are also tried unaligned (content the camera follows)
    lone_doubt: float = 12.0  # gray levels of disagreement assumed where a single tier saw a pixel
    crop_margin: float = 0.04  # × the long side: context kept around the hole's bounding box ...
    crop_margin_min: int = 16  # ... but at least this many px (the ring is half of it, at least 4 px)
    min_gain: float = 0.002  # × hole pixels: a source that could add fewer (at least 4) is skipped
    min_ring_pixels: int = 20  # ring pixels a source must see to be judged at all
    parallel_frames: int = 2  # frames whose window estimates are made side by side, each on a thread (1: one at a time)
    usable_level: int = 250  # 0..255: a sample counts as usable where its interpolated usability reaches this

    def __post_init__(self) -> None:
        if self.flow_preset not in DIS_PRESETS:
            raise ValueError(f"unknown flow preset '{self.flow_preset}' (known: {', '.join(DIS_PRESETS)})")
        if self.parallel_frames < 1:
            raise ValueError(f"parallel_frames must be at least 1, got {self.parallel_frames}")
        if self.radius < 0:
            raise ValueError(f"radius must be >= 0 frames, got {self.radius}")
        if any(int(d) != d or d < 1 for d in self.tier_distances):
            raise ValueError(f"tier distances must be whole frames >= 1, got {list(self.tier_distances)}")

    # clamped views of the numbers used as divisors or counts (the fields keep what was asked)
    @property
    def distances(self) -> tuple[int, ...]:
        return tuple(d for d in self.tier_distances if d <= self.radius)

    @property
    def safe_local_weight(self) -> float:
        return max(1e-3, self.local_weight)

    @property
    def safe_plate_weight(self) -> float:
        return max(1e-3, self.plate_weight)

    @property
    def tiers_blended(self) -> int:
        return max(1, self.blend_tiers)

    @property
    def block(self) -> int:
        return max(1, self.back_block)

    @property
    def overlap(self) -> int:
        return max(0, self.back_overlap)
