"""The smoother in time: a frame's window estimate finished with its neighbours' clean plates (the
plate just output, and one made by a backward pass over the next frames), softened where the tiers
disagree, and filled spatially where nothing was ever seen (docs/INPAINTING.md)."""

from __future__ import annotations

import cv2
import numpy as np

from .fields import BoxedMask, blur_where_uncertain, channel_mean, spread
from .merge import HoleEstimate, add_tier
from .sources import SourceSampler
from .spatial import SpatialFill
from .window import FrameWindow, PreparedFrame


def plate_of(cur: PreparedFrame, clean: np.ndarray, box: tuple[int, int, int, int],
             unseen: np.ndarray | None = None) -> PreparedFrame:
    """A frame's clean plate as a source for its neighbours: usable everywhere but where it was
    left unfilled (its fill included: plates are aligned fill against fill). `clean` differs from
    the frame only inside `box`, so only that part is kept."""
    unusable = BoxedMask.empty(cur.hole.shape) if unseen is None else BoxedMask.of(unseen)
    y0, y1, x0, x1 = box
    return PreparedFrame(cur.index, None, None, cur.image, cur.hole, unusable, cur.to_first,
                         patch=(box, clean[y0:y1, x0:x1].copy()))


def finish(cur: PreparedFrame, estimate: HoleEstimate, plates: list, sampler: SourceSampler,
           spatial_fill: SpatialFill | None, stats: dict | None = None,
           debug_tiers: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The clean plate of `cur`: the window's estimate with the neighbouring frames' plates
    blended in, then leaning toward a blur where the tiers disagree, then (when `spatial_fill` is
    given: the frame is being output) a spatial fill of what nobody saw. Returns the plate and the
    hole pixels left unfilled (none when filled spatially). `stats` counts pixels by origin."""
    params = sampler.params
    crop = sampler.crop(cur, estimate.box, estimate.ring)
    y0, y1, x0, x1 = crop.box
    seen = estimate.expand(estimate.count > 0)
    mixed = estimate.copy()
    from_plate = np.zeros_like(crop.hole)
    min_gain = sampler.min_gain(crop)
    plates = [p for p in plates if p is not None and p.index != cur.index]
    if len(plates) == 1:
        # a lone plate is aligned to what the window put in the hole, fill against fill, not
        # by the motion completed from around the hole (a pair is aligned to each other)
        first = crop.target.copy()
        sel = estimate.count > 0
        first[seen] = np.clip(estimate.acc[sel] / estimate.weight[sel][:, None] + 0.5, 0, 255).astype(np.uint8)
        crop.flow_gray, crop.flow_unreliable = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), crop.hole & ~seen
    if plates:  # both neighbours (t-1, t+1): a two-sided tier like any other
        want = crop.wanted()
        found = [f for f in sampler.tier_samples(crop, plates, "plate", want, min_gain) if f is not None]
        if found:
            # both plates are already smoothed guesses: averaged even where they differ
            added = add_tier(mixed, found, want, params.safe_plate_weight * len(found), params, average=True)
            np.put(from_plate, crop.hole_at[added], True)
    weight = np.maximum(mixed.expand(mixed.weight), 1e-6)
    mean = mixed.expand(mixed.acc) / spread(weight, 3)
    if params.uncertain_blur > 0:
        # where the tiers disagree (content moving on its own behind the hole, dynamic texture)
        # no sharp guess is trustworthy: lean toward a blurred one, which errs less
        var = mixed.expand(mixed.acc_sq) / weight - channel_mean(mean) ** 2
        # one tier alone gives no disagreement to measure, yet it is the least certain guess
        # (pixels a plate also saw excepted: a plate's fill was judged when it was made, and
        # softening it again at every frame would blur it away)
        lone = estimate.expand(estimate.count == 1) & ~from_plate
        var = np.where(lone, np.maximum(var, params.lone_doubt ** 2), var)
        mean = blur_where_uncertain(mean, var, params.uncertain_blur, params.uncertain_level)
    got = seen | from_plate
    clean = cur.image.copy()
    # rounded over the whole crop, copied where got: the values of a masked gather, faster
    np.copyto(clean[y0:y1, x0:x1], np.clip(mean + 0.5, 0, 255).astype(np.uint8), where=spread(got, 3))
    unseen = np.zeros(cur.hole.shape, bool)
    unseen[y0:y1, x0:x1] = crop.hole & ~got
    if spatial_fill is None:
        return clean, unseen
    if stats is not None:
        stats["rejected_sources"] += estimate.rejected
        stats["propagated_px"] += int(np.count_nonzero(seen))
        stats["plate_px"] += int(np.count_nonzero(from_plate & ~seen))
        stats["spatial_px"] += int(np.count_nonzero(unseen))
    if debug_tiers is not None:
        debug_tiers[cur.index][y0:y1, x0:x1][from_plate & ~seen] = 99
    if unseen.any():
        spatial = spatial_fill(clean, unseen)
        clean[unseen] = spatial[unseen]
        unseen[:] = False
    return clean, unseen


def backward_plates(frames: list[int], keep: int, estimates: dict, window: FrameWindow,
                    sampler: SourceSampler, cancel=None) -> dict[int, PreparedFrame]:
    """Clean plates of `frames` made from the last to the first, each leaning on the one after
    it: the mirror image of the forward pass, so the frame being output gets a plate from both
    sides in time. Only the first `keep` are returned (the rest only warm the chain up). They
    are not filled spatially: what none of them saw is marked unusable in the plate."""
    plates: dict[int, PreparedFrame] = {}
    after: PreparedFrame | None = None
    for u in reversed(frames):
        if cancel is not None:
            cancel.check()
        estimate = estimates[u]
        if estimate is None:
            after = None
            continue
        cur = window.get(u)
        clean, unseen = finish(cur, estimate, [after], sampler, None)
        after = plate_of(cur, clean, estimate.box, unseen)
        if u < frames[0] + keep:
            plates[u] = after
    return plates
