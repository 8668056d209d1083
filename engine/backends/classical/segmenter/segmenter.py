"""Classical click segmenter: clicks → object mask with OpenCV + numpy only, no model weights.

How one call works (all on a superpixel graph of the downscaled frame, features cached per frame):
1. Geodesic evidence. Edge costs are high across colour edges; each node gets its cheapest path
   cost from the positive clicks (D_fg) and from the negative clicks and, as weaker 'probably
   background' seeds, the frame border (D_bg). A single click thus already claims the region that is
   enclosed by strong edges around it: its extent comes from the image, not from a fixed radius.
2. Colour model. Palette histograms of the provisional foreground and background (and of the
   previous mask, when the caller has one) give a per-node likelihood ratio, as GrabCut's GMMs do.
3. Edge-aware solve. Both cues (plus the previous mask) form a per-node prior; a random walker with
   priors smooths it along weak edges, the clicked nodes fixed. Only the foreground connected to a
   positive click is kept.
First clicks (no previous mask) are ambiguous: the superpixel under the cursor may be a texture detail
(a dot, a stripe) enclosed by strong edges, and which of detail or object wins would flip on
compression noise. So steps 1-3 run for a few candidates whose foreground seeds are growing disks
around the click (SAM's multimask idea), and the most object-like candidate is kept: the one whose
colours separate best from the rest of the frame, with penalties for tiny and frame-filling masks.
4. Pixels. The node probabilities are painted back, guided-filtered with the working image
   (edges snap to colour boundaries), upsampled and thresholded; clicked pixels are forced.
"""

from __future__ import annotations

import threading
from typing import Hashable

import cv2
import numpy as np

from ....errors import EngineError
from ....lru import LRUCache
from ...base import SegmentResult, Segmenter
from .features import FrameFeatures, compute_features, fingerprint
from .graph import connected_to, geodesic_distance, smooth_solve, symmetric_matrix
from .params import ClassicalSegmenterParams

DEFAULTS = ClassicalSegmenterParams()


def objectness(separation: float, area: float, p: ClassicalSegmenterParams = DEFAULTS) -> float:
    """How object-like a first-click candidate is: its colour separability from the rest of the
    frame (a detail or a leak into the background shares colours with its surround, a whole object
    much less), minus penalties for tiny masks and for ones that fill most of the frame."""
    tiny = max(0.0, np.log(p.tiny_area / max(area, 1e-9)))
    huge = max(0.0, area - p.huge_area) / (1 - p.huge_area)
    return float(separation - 0.1 * tiny - 0.5 * huge)


def _validate(image, points, labels):
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 2 or image.shape[1] < 2:
        raise EngineError(f"segmenter needs an RGB image (H, W, 3), got shape {image.shape}")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    points = np.asarray(points, np.float64).reshape(-1, 2)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(points) != len(labels):
        raise EngineError(f"{len(points)} click points but {len(labels)} click labels")
    if not np.all(np.isfinite(points)):
        raise EngineError("click coordinates must be finite numbers")
    if np.any((labels != 0) & (labels != 1)):
        raise EngineError("click labels must be 1 (object) or 0 (background)")
    h, w = image.shape[:2]
    points = np.clip(points, 0, [w - 1, h - 1])  # a click on or just past the edge means the edge
    return np.ascontiguousarray(image), points, labels


def _node_fraction(features: FrameFeatures, mask: np.ndarray) -> np.ndarray:
    """Fraction of each superpixel covered by a full-resolution mask."""
    h, w = features.labels.shape
    small = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return np.bincount(features.labels.ravel(), small.ravel(), features.count) / features.size


def _graph(features: FrameFeatures, p: ClassicalSegmenterParams):
    """Edge costs for the geodesic and weights for the smoothing, as symmetric sparse matrices,
    derived once per frame. Two threads building them at once both get equal matrices."""
    cached = features.extra.get("graph")
    if cached is None:
        cost = np.maximum(features.edge_cost, 0) ** p.cost_power + p.cost_floor
        length = features.edge_length / np.median(features.edge_length)
        weight = np.exp(-(features.edge_cost / p.smooth_sigma) ** 2) * np.sqrt(length)
        cached = features.extra["graph"] = (symmetric_matrix(features.edges, cost, features.count),
                                            symmetric_matrix(features.edges, weight, features.count))
    return cached


def _guided(features: FrameFeatures, p: ClassicalSegmenterParams):
    """The edge-aware filter guided by the frame's working image, set up once per frame (two thirds
    of a guided filter's cost is the guide's statistics; filtering with it is bit-identical to
    cv2.ximgproc.guidedFilter), with a lock: the filter object is not documented as thread-safe."""
    cached = features.extra.get("guided")
    if cached is None:
        cached = features.extra["guided"] = (
            cv2.ximgproc.createGuidedFilter(features.small_rgb, p.guided_radius, p.guided_eps), threading.Lock())
    return cached


def _colour_llr(features: FrameFeatures, fg_weight: np.ndarray, pos: list[int], neg: list[int],
                click_weight: float) -> tuple[np.ndarray, float]:
    """Per-node log-likelihood ratio of the foreground vs background palette histograms (soft
    membership `fg_weight`), and how separable the two histograms are (0 same .. 1 disjoint).
    Clicked superpixels count extra: the user said what they are, even if they are a small part."""
    mass = features.hist * features.size[:, None]
    fg = (mass * fg_weight[:, None]).sum(0)
    bg = (mass * (1 - fg_weight)[:, None]).sum(0)
    for nodes, model in ((pos, fg), (neg, bg)):
        if nodes:
            model += click_weight * model.sum() * features.hist[nodes].mean(0)
    fg += 1e-3 * features.size.sum() / mass.shape[1]
    bg += 1e-3 * features.size.sum() / mass.shape[1]
    fg, bg = fg / fg.sum(), bg / bg.sum()
    llr = features.hist @ np.log(fg / bg)
    separation = float(1.0 - np.sqrt(fg * bg).sum())
    return llr, separation


def _nodes_near(features: FrameFeatures, xy: np.ndarray, radius: float) -> list[int]:
    """Superpixels overlapping a disk of `radius` working pixels around any of the points."""
    disk = np.zeros(features.labels.shape, np.uint8)
    for x, y in xy.tolist():
        cv2.circle(disk, (int(x), int(y)), int(round(radius)), 1, -1)
    return np.unique(features.labels[disk > 0]).tolist()


class ClassicalSegmenter(Segmenter):
    name = "classical"

    Params = ClassicalSegmenterParams
    #: segment() may run in several threads at once: its only shared state is the LRU cache
    concurrent_segment = True

    def __init__(self, params: ClassicalSegmenterParams | None = None) -> None:
        self.params = params or ClassicalSegmenterParams()
        #: cache_key (or the image's fingerprint) → FrameFeatures of the frames clicked last
        self.cache: LRUCache[Hashable, FrameFeatures] = LRUCache(self.params.cache_frames)

    def features(self, image: np.ndarray, cache_key: Hashable | None = None) -> FrameFeatures:
        """The frame's features, computed once per frame: reused when `cache_key` (without one, the
        image's fingerprint) was seen with the same image."""
        return self._cached_features(image, cache_key)[0]

    def prefetch(self, image: np.ndarray, cache_key: Hashable) -> bool:
        """Compute the features of a frame the artist is likely to click (the one under the
        playhead, its neighbours) ahead of the click, which then only pays for the graph solve.
        False when they were cached already. Safe to call from a background thread."""
        image = _validate(image, np.zeros((0, 2)), np.zeros(0))[0]  # the image segment() would see
        return self._cached_features(image, cache_key)[1]

    def _cached_features(self, image: np.ndarray, cache_key: Hashable | None) -> tuple[FrameFeatures, bool]:
        """(features, whether they were computed now)."""
        stamp = fingerprint(image)
        key = ("fingerprint", stamp) if cache_key is None else cache_key
        computed = False

        def compute() -> FrameFeatures:
            nonlocal computed
            computed = True
            features = compute_features(image, self.params)
            _graph(features, self.params)  # the click's other once-per-frame parts
            _guided(features, self.params)
            return features

        found = self.cache.get_or_compute(key, compute, valid=lambda item: item.fingerprint == stamp)
        return found, computed

    def segment(self, image, points, labels, prev_mask=None, cache_key: Hashable | None = None) -> SegmentResult:
        image, points, labels = _validate(image, points, labels)
        h, w = image.shape[:2]
        if prev_mask is not None:
            prev_mask = np.asarray(prev_mask).astype(bool)
            if prev_mask.shape != (h, w):
                raise EngineError(f"previous mask is {prev_mask.shape[::-1]}, the frame is {w}x{h}")
            if not prev_mask.any():
                prev_mask = None
        if not (labels == 1).any() and prev_mask is None:
            return SegmentResult(np.zeros((h, w), bool), 1.0)  # nothing was asked for: certainly empty

        features = self.features(image, cache_key)
        if prev_mask is None:
            node_prob, separation = self._first_click(features, points, labels)
        else:
            node_prob, separation = self._solve(features, points, labels, prev_mask)
        mask, margin = self._pixels(features, node_prob, points, labels)
        confidence = float(np.clip(0.5 * margin + 0.5 * separation, 0.0, 1.0)) if mask.any() else 0.5
        return SegmentResult(mask, confidence)

    # graph part -------------------------------------------------------------------------------
    def _first_click(self, features: FrameFeatures, points, labels):
        """Without a previous mask the click's extent is ambiguous (a texture detail, a part, the
        whole object), and one superpixel under the cursor would decide it, flipping on compression
        noise. So, like SAM's multimask output, solve for several candidates, seeded from growing
        disks around the positive clicks, and keep the most object-like one. The candidates share
        the background sources and are smoothed in one batched solve (one sparse product per
        iteration for all of them)."""
        p = self.params
        xy = np.round(points[labels == 1] * features.scale)
        clicks = self._clicks(features, points, labels)
        background = self._background_sources(features, clicks[0][labels == 1])
        candidates, seen = [], set()
        for radius in p.first_click_radii:
            near = tuple(_nodes_near(features, xy, radius * p.superpixel_size)) if radius else ()
            if near in seen:
                continue  # same seeds as a smaller disk: same candidate
            seen.add(near)
            candidates.append(self._prior(features, clicks, None, near, background))
        targets = np.stack([c[0] for c in candidates], axis=1)
        probs = smooth_solve(_graph(features, p)[1], targets, np.full(features.count, p.prior_strength), clicks[1])
        best = None
        for k, (_, separation) in enumerate(candidates):
            prob = self._connected(features, probs[:, k], clicks[2])
            score = objectness(separation, float(np.average(prob > 0.5, weights=features.size)), p)
            if best is None or score > best[0]:
                best = (score, prob, separation)
        return best[1], best[2]

    def _clicks(self, features: FrameFeatures, points, labels):
        """(clicks in working pixels, clicked node → label, positive nodes, negative nodes)."""
        sh, sw = features.labels.shape
        xy = np.clip(np.round(points * features.scale).astype(int), 0, [sw - 1, sh - 1])
        click_nodes = features.labels[xy[:, 1], xy[:, 0]]
        fixed: dict[int, float] = {}
        for node, label in zip(click_nodes.tolist(), labels.tolist()):
            fixed[node] = float(label)  # a later click on the same superpixel wins
        pos = [k for k, v in fixed.items() if v == 1.0]
        neg = [k for k, v in fixed.items() if v == 0.0]
        return xy, fixed, pos, neg

    def _solve(self, features: FrameFeatures, points, labels, prev_mask):
        p = self.params
        clicks = self._clicks(features, points, labels)
        background = self._background_sources(features, clicks[0][:0])
        target, separation = self._prior(features, clicks, prev_mask, (), background)
        prob = smooth_solve(_graph(features, p)[1], target, np.full(features.count, p.prior_strength), clicks[1])
        return self._connected(features, prob, clicks[2]), separation

    def _prior(self, features: FrameFeatures, clicks, prev_mask, seeds_near, background: dict[int, float]):
        """Per-node prior probability of foreground from the geodesic and colour evidence (and the
        previous mask), and the colour models' separation."""
        p = self.params
        _, fixed, pos, neg = clicks
        costs = _graph(features, p)[0]
        prev = _node_fraction(features, prev_mask) if prev_mask is not None else None
        near = [k for k in seeds_near if k not in fixed]  # a negative click inside the disk still wins
        fg_seeds = {k: 0.0 for k in (*pos, *near)}
        if prev is not None and not pos:  # only a tracked mask to correct: it is the source
            fg_seeds.update({int(k): 0.5 for k in np.flatnonzero(prev > 0.5) if int(k) not in fixed})
        bg_seeds = dict(background)
        bg_seeds.update({k: 0.0 for k in neg})
        for k in (*pos, *near):
            bg_seeds.pop(k, None)
        d_fg = geodesic_distance(costs, fg_seeds)
        d_bg = geodesic_distance(costs, bg_seeds)
        d_fg, d_bg = np.minimum(d_fg, 1e6), np.minimum(d_bg, 1e6)
        geo = (d_bg - d_fg) / (d_bg + d_fg + 1e-6)

        score = p.geo_weight * geo
        if prev is not None:
            score = score + p.prev_weight * (2 * prev - 1)
        provisional = (score > 0).astype(np.float64)
        llr, separation = _colour_llr(features, provisional, pos, neg, p.click_colour_weight)
        score = score + p.colour_weight * np.tanh(llr / 2)
        return 1 / (1 + np.exp(-p.prior_sharpness * score)), separation

    def _connected(self, features: FrameFeatures, prob: np.ndarray, pos: list[int]) -> np.ndarray:
        """Foreground not connected to a positive click is capped below one half."""
        if not pos:
            return prob
        selected = prob > 0.5
        keep = connected_to(selected, features.edges, pos)
        return np.where(selected & ~keep, np.minimum(prob, self.params.disconnected_cap), prob)

    def _background_sources(self, features: FrameFeatures, positive_xy: np.ndarray) -> dict[int, float]:
        """Every node is a weak background source. Near the first clicks its start cost grows with
        the straight-line distance from them: a node joins the object only if it is geodesically
        closer to a click than far_slope × that distance, which adapts a single click's extent to
        the object's size. Later clicks (a previous mask exists) refine without that size prior.
        The frame border and anything far away are probable background at a capped cost."""
        p = self.params
        offset = np.full(features.count, p.far_cap)
        if len(positive_xy):
            outside = np.ones(features.labels.shape, np.uint8)
            outside[positive_xy[:, 1], positive_xy[:, 0]] = 0
            dist = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
            node_dist = np.bincount(features.labels.ravel(), dist.ravel(), features.count) / features.size
            offset = np.minimum(offset, p.far_slope * node_dist / p.superpixel_size)
        offset[features.border] = np.minimum(offset[features.border], p.border_offset)
        return dict(enumerate(offset.tolist()))

    # pixel part -------------------------------------------------------------------------------
    def _pixels(self, features: FrameFeatures, node_prob, points, labels):
        h, w = features.shape
        small = node_prob.astype(np.float32)[features.labels]
        guide, lock = _guided(features, self.params)
        with lock:
            refined = guide.filter(small)
        full = cv2.resize(refined, (w, h), interpolation=cv2.INTER_LINEAR) if small.shape != (h, w) else refined
        mask = full > 0.5
        forced = np.zeros((h, w), np.uint8)
        clicks = list(zip(np.round(points).astype(int).tolist(), labels.tolist()))
        for (x, y), label in clicks:  # a small disk around each click, later clicks on top
            cv2.circle(forced, (x, y), self.params.click_radius, 2 if label else 1, -1)
        for (x, y), label in clicks:  # the clicked pixels themselves always get their label
            forced[y, x] = 2 if label else 1
        mask[forced == 2] = True
        mask[forced == 1] = False
        pos = [(x, y) for (x, y), lab in zip(np.round(points).astype(int).tolist(), labels.tolist()) if lab]
        if pos and mask.any():
            count, comps = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
            wanted = {int(comps[y, x]) for x, y in pos} - {0}
            mask = np.isin(comps, list(wanted)) if wanted else np.zeros_like(mask)
        margin = float(np.average(np.abs(2 * node_prob - 1), weights=features.size))
        return mask, margin
