"""Per-frame features of the classical click segmenter, computed once per frame and kept in the
segmenter's LRU (the segment-anything `set_image` half): a downscaled Lab image, SLIC superpixels, a colour
palette with per-superpixel histograms and the superpixel adjacency graph with edge costs. Every
click on that frame then only runs the cheap graph inference on ~1-2 thousand nodes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from .params import ClassicalSegmenterParams


@dataclass
class FrameFeatures:
    shape: tuple[int, int]  # full-resolution (H, W)
    fingerprint: bytes  # guards against a cache key reused for a different image
    small_rgb: np.ndarray  # uint8 (h, w, 3) working image, the guide for edge-aware filtering
    labels: np.ndarray  # int32 (h, w) superpixel id per working pixel
    count: int  # number of superpixels
    size: np.ndarray  # float32 (n,) pixels per superpixel
    centroid: np.ndarray  # float32 (n, 2) x, y at working resolution
    mean_lab: np.ndarray  # float32 (n, 3)
    hist: np.ndarray  # float32 (n, K) palette histogram of each superpixel, rows sum to 1
    edges: np.ndarray  # int32 (m, 2) adjacent superpixel pairs, i < j
    edge_cost: np.ndarray  # float32 (m,) ≈1 for a typical boundary, large across strong edges
    edge_length: np.ndarray  # float32 (m,) shared boundary length in pixels
    border: np.ndarray  # bool (n,) superpixel touches the frame edge
    extra: dict = field(default_factory=dict, repr=False)  # per-frame scratch (e.g. last result)

    @property
    def scale(self) -> float:
        """Working pixels per full-resolution pixel."""
        return self.labels.shape[1] / self.shape[1]


def fingerprint(image: np.ndarray) -> bytes:
    """A cheap identity of an image (shape + a sparse pixel sample), not a full hash."""
    step = max(1, min(image.shape[:2]) // 32)
    sample = np.ascontiguousarray(image[::step, ::step])
    return hashlib.blake2b(sample.tobytes() + repr(image.shape).encode(), digest_size=16).digest()


def _palette_codes(lab: np.ndarray, k: int) -> np.ndarray:
    """Quantise colours to a per-frame k-means palette (adapts to the footage, unlike fixed bins)."""
    pixels = lab.reshape(-1, 3)
    sample = pixels[:: max(1, len(pixels) // 6000)].astype(np.float32)
    k = min(k, len(np.unique(sample.round(1), axis=0)))
    if k < 2:
        return np.zeros(len(pixels), np.int32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 12, 0.5)
    cv2.setRNGSeed(1234)  # deterministic palettes → deterministic masks
    _, _, centres = cv2.kmeans(sample, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    d = (pixels ** 2).sum(1)[:, None] - 2 * pixels @ centres.T + (centres ** 2).sum(1)[None, :]
    return np.argmin(d, axis=1).astype(np.int32)


def compute_features(image: np.ndarray, p: ClassicalSegmenterParams) -> FrameFeatures:
    h, w = image.shape[:2]
    scale = min(1.0, p.work_side / max(h, w))
    sw, sh = max(8, round(w * scale)), max(8, round(h * scale))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA) if (sw, sh) != (w, h) else image.copy()
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lab_blur = cv2.GaussianBlur(lab, (3, 3), 0)

    slic = cv2.ximgproc.createSuperpixelSLIC(lab_blur, cv2.ximgproc.SLIC, p.superpixel_size, p.slic_ruler)
    slic.iterate(p.slic_iterations)
    slic.enforceLabelConnectivity(25)
    labels = slic.getLabels().astype(np.int32)
    _, labels = np.unique(labels, return_inverse=True)  # dense ids 0..n-1
    labels = labels.reshape(sh, sw).astype(np.int32)
    n = int(labels.max()) + 1
    flat = labels.ravel()

    size = np.bincount(flat, minlength=n).astype(np.float32)
    ys, xs = np.mgrid[0:sh, 0:sw]
    centroid = np.stack([np.bincount(flat, xs.ravel(), n), np.bincount(flat, ys.ravel(), n)], 1) / size[:, None]
    lab_flat = lab.reshape(-1, 3)
    mean_lab = np.stack([np.bincount(flat, lab_flat[:, c], n) for c in range(3)], 1) / size[:, None]

    codes = _palette_codes(lab_blur, p.palette_size)
    k = int(codes.max()) + 1
    hist = np.bincount(flat * k + codes, minlength=n * k).reshape(n, k).astype(np.float32)
    hist /= hist.sum(1, keepdims=True)

    # adjacency and the colour contrast across each shared boundary
    pairs, contrast = [], []
    for a, b, la, lb in ((lab[:, :-1], lab[:, 1:], labels[:, :-1], labels[:, 1:]),
                         (lab[:-1], lab[1:], labels[:-1], labels[1:])):
        diff = la != lb
        i, j = la[diff], lb[diff]
        pairs.append(np.stack([np.minimum(i, j), np.maximum(i, j)], 1))
        contrast.append(np.linalg.norm(a[diff] - b[diff], axis=1))
    pairs_all, contrast_all = np.concatenate(pairs), np.concatenate(contrast)
    pair_id = pairs_all[:, 0].astype(np.int64) * n + pairs_all[:, 1]
    unique_id, inverse = np.unique(pair_id, return_inverse=True)
    length = np.bincount(inverse).astype(np.float32)
    boundary = np.bincount(inverse, contrast_all) / length
    edges = np.stack([unique_id // n, unique_id % n], 1).astype(np.int32)
    mean_diff = np.linalg.norm(mean_lab[edges[:, 0]] - mean_lab[edges[:, 1]], axis=1)
    hist_diff = 1.0 - np.sqrt(hist[edges[:, 0]] * hist[edges[:, 1]]).sum(1)
    # each cue normalised by its median over the frame, so costs mean the same on any footage
    cost = (boundary / (np.median(boundary) + 1e-6) + mean_diff / (np.median(mean_diff) + 1e-6)
            + hist_diff / (np.median(hist_diff) + 1e-6)) / 3.0
    cost = cost.astype(np.float32)

    border = np.zeros(n, bool)
    border[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True

    return FrameFeatures(shape=(h, w), fingerprint=fingerprint(image), small_rgb=small, labels=labels,
                         count=n, size=size, centroid=centroid.astype(np.float32),
                         mean_lab=mean_lab.astype(np.float32), hist=hist, edges=edges, edge_cost=cost,
                         edge_length=length, border=border)
