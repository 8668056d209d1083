"""Classical clean-plate inpainter: temporal propagation from the frames where the background is
visible, spatial inpainting only for what the window never shows.

Each frame's hole is filled from aligned sources of a sliding window, nearest in time first, then
smoothed in time with its neighbours' clean plates (forward, and a backward pass ahead); only what
no frame shows goes to the spatial fill, a component (`SpatialFill`) that LaMa replaces. The
algorithm, why each stage is there, and the memory bounds: docs/INPAINTING.md.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ....errors import EngineError
from ....lru import LRUCache
from ...base import Inpainter
from .align import FlowRefiner
from .chain import FlowChain, chain_capacity
from .fields import feather_alpha, spread
from .estimates import Estimates
from .params import InpainterParams
from .plates import backward_plates, finish, plate_of
from .sources import SourceSampler
from .spatial import SpatialFill, clone_fill
from .window import FrameWindow, PreparedFrame


class TemporalInpainting:
    """The window/blend machinery, given the component that invents never-seen pixels. Both the
    classical and the LaMa inpainter run their frames through one of these."""

    def __init__(self, params: InpainterParams, spatial_fill: SpatialFill) -> None:
        self.params, self.spatial_fill = params, spatial_fill
        self.window: FrameWindow | None = None  # the last run's window, for diagnostics (peak frames held)
        self.last_stats: dict = {}  # pixel counts by how they were filled, for tools and tests
        self.debug_tiers: dict | None = None  # set to {} to record, per frame, which distance filled each pixel

    def inpaint(self, video, masks, frames, dilate=8, resize_ratio=1.0, cancel=None):
        """Inpainter.inpaint: yields (frame, full-resolution RGB uint8 clean frame) in order."""
        p = self.params
        frames = list(frames)
        if not 0 < resize_ratio <= 1:
            raise EngineError(f"resize ratio must be in (0, 1], got {resize_ratio}")
        if dilate < 0:
            raise EngineError(f"dilation must be >= 0 pixels, got {dilate}")
        if any(b != a + 1 for a, b in zip(frames, frames[1:])):
            raise EngineError("inpaint frames must be consecutive and ascending")
        source_margin = max(2, round(3 * resize_ratio))
        window = FrameWindow(video, masks, frames, p.radius, dilate, resize_ratio, source_margin)
        self.window = window
        # one sampler per frame estimated side by side: each measures flows with a DIS instance of
        # its own, and their chains share the consecutive flows
        flows = LRUCache(chain_capacity(p.chain_reach, p.parallel_frames))
        samplers = [SourceSampler(p, refiner, FlowChain(refiner, p.chain_reach, flows))
                    for refiner in (FlowRefiner(p.flow_max_side, p.flow_preset) for _ in range(p.parallel_frames))]
        pool = ThreadPoolExecutor(p.parallel_frames - 1, thread_name_prefix="vta-inpaint") \
            if p.parallel_frames > 1 else None
        stats = {"frames": 0, "propagated_px": 0, "plate_px": 0, "spatial_px": 0, "rejected_sources": 0}
        self.last_stats = stats
        try:
            yield from self._frames(window, samplers, pool, frames, stats, cancel)
        finally:
            window.close()  # also when the caller stops early: no frame is prepared for nobody
            if pool is not None:
                pool.shutdown()

    def _frames(self, window: FrameWindow, samplers: list[SourceSampler], pool: ThreadPoolExecutor | None,
                frames: list[int], stats: dict, cancel):
        p = self.params
        sampler = samplers[0]
        # the window is advanced to the furthest frame estimated, and the frame being output must
        # stay in it: so the look-ahead is at most `radius` frames
        block = min(p.block, p.radius + 1)
        lead = min(block + p.overlap - 1, p.radius)
        estimates = Estimates(window, samplers, pool, cancel, self.debug_tiers)
        back: dict[int, PreparedFrame] = {}  # backward plates of the frames after those being output
        before: PreparedFrame | None = None  # the clean plate just output
        try:
            for pos, t in enumerate(frames):
                if cancel is not None:
                    cancel.check()
                if pos % block == 0:
                    ahead = frames[pos:pos + lead + 1]
                    estimates.want(ahead, hold=t)
                    estimates.finish()
                    # the next block's estimates are made by the workers while this thread makes
                    # this block's plates
                    estimates.want(frames[pos + block:pos + block + lead + 1], hold=t)
                    estimates.start()
                    back = backward_plates(ahead[1:], block, estimates.done, window, sampler, cancel)
                cur = window.get(t)
                estimate = estimates.pop(t)
                stats["frames"] += 1
                if estimate is None:
                    before = None  # nothing to carry across a frame without a hole
                    yield t, cur.full.copy()
                else:
                    clean, _ = finish(cur, estimate, [before, back.get(t + 1)], sampler, self.spatial_fill, stats,
                                      self.debug_tiers)
                    before = plate_of(cur, clean, estimate.box)
                    yield t, self._compose(cur, clean)
                window.release_full(t)
        finally:
            estimates.close()

    def _compose(self, cur: PreparedFrame, clean: np.ndarray) -> np.ndarray:
        """Full-resolution output: the fill feathered in inside the dilated hole, originals elsewhere."""
        feather = self.params.feather
        out = cur.full.copy()
        box = cur.hole_full.bounding_box(int(feather) + 2)
        if box is None:
            return out
        y0, y1, x0, x1 = box
        H, W = cur.full.shape[:2]
        if clean.shape[:2] != (H, W):
            fill = cv2.resize(clean, (W, H), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]
        else:
            fill = clean[y0:y1, x0:x1]
        alpha = spread(feather_alpha(cur.hole_full.crop(box), feather), out.shape[2])
        orig = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(orig + alpha * (fill.astype(np.float32) - orig) + 0.5, 0, 255).astype(np.uint8)
        return out


class ClassicalInpainter(Inpainter):
    """The temporal machinery with the classical spatial fill (a seamless clone of nearby texture)."""

    name = "classical"
    Params = InpainterParams

    def __init__(self, params: InpainterParams | None = None) -> None:
        self.params = params or InpainterParams()
        self.temporal = TemporalInpainting(self.params, clone_fill)

    @property
    def last_stats(self) -> dict:
        return self.temporal.last_stats

    @property
    def window(self) -> FrameWindow | None:
        return self.temporal.window

    def inpaint(self, video, masks, frames, dilate=8, resize_ratio=1.0, cancel=None):
        return self.temporal.inpaint(video, masks, frames, dilate, resize_ratio, cancel)
