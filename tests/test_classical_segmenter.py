"""The classical click segmenter on frames with exact ground truth (SyntheticClip), plus the click
protocol helpers and one real DAVIS frame when ../shared/clips is present."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.backends import create
from engine.backends.classical.segmenter import ClassicalSegmenter
from engine.evaluation.clicksim import clicks_to_reach, next_click, region_centre
from engine.errors import EngineError
from engine.evaluation.metrics import jaccard
from engine.evaluation.synthetic import SyntheticClip
from engine.video_io import open_video

CLIPS = Path(os.environ.get("VTA_CLIPS", Path(__file__).resolve().parents[1].parent / "shared" / "clips"))


@pytest.fixture(scope="module")
def scene():
    clip = SyntheticClip(seed=7)
    return clip.frame(0), clip.mask(0)


def simulate(segmenter, image, gt, clicks, key="frame"):
    points, labels, pred, ious = [], [], None, []
    for _ in range(clicks):
        click = next_click(pred, gt)
        points.append(click[:2])
        labels.append(click[2])
        pred = segmenter.segment(image, np.array(points, float), np.array(labels), prev_mask=pred, cache_key=key).mask
        ious.append(jaccard(pred, gt))
    return ious, pred


def test_registry_gives_the_classical_segmenter():
    assert isinstance(create("segmenter", "classical"), ClassicalSegmenter)


def test_one_click_gives_the_object(scene):
    image, gt = scene
    x, y = region_centre(gt)
    result = ClassicalSegmenter().segment(image, np.array([[x, y]], float), np.array([1]))
    assert result.mask.shape == gt.shape and result.mask.dtype == bool
    assert jaccard(result.mask, gt) > 0.75
    assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize("seed", [0, 1, 4])
@pytest.mark.parametrize("size", [(256, 144), (320, 180), (480, 270), (640, 360)])
def test_one_click_is_the_object_raw_and_decoded(tmp_path, size, seed):
    """One click means the object, not the texture detail under the cursor, and the answer must not
    flip on compression noise: these frames have dots and stripes at the click that once won on the
    H.264-decoded frame (a 48-pixel blob) while the raw frame gave the object."""
    clip = SyntheticClip(*size, frames=1, seed=seed)
    decoded = open_video(clip.write_movie(tmp_path / "clip.mp4")).read(0)
    gt, (x, y) = clip.mask(0), clip.click(0)
    segmenter = ClassicalSegmenter()
    masks = [segmenter.segment(image, np.array([[x, y]], float), np.array([1])).mask
             for image in (clip.frame(0), decoded)]
    assert jaccard(masks[0], gt) >= 0.7 and jaccard(masks[1], gt) >= 0.7
    assert jaccard(masks[0], masks[1]) >= 0.8


def test_first_click_candidates_prefer_objects():
    """The objectness score: better colour separation wins; tiny and frame-filling masks pay."""
    from engine.backends.classical.segmenter.segmenter import objectness
    assert objectness(0.9, 0.05) > objectness(0.6, 0.05)
    assert objectness(0.9, 0.0002) < objectness(0.8, 0.05)
    assert objectness(0.9, 0.95) < objectness(0.8, 0.3)
    assert objectness(0.7, 0.01) == objectness(0.7, 0.3)  # no size preference in between


def test_further_clicks_improve(scene):
    image, gt = scene
    ious, _ = simulate(ClassicalSegmenter(), image, gt, 3)
    assert ious[-1] >= ious[0]
    assert ious[-1] > 0.9


def test_negative_click_removes_false_foreground(scene):
    image, gt = scene
    h, w = gt.shape
    blob = np.zeros_like(gt)
    blob[h - 50:h - 10, 10:60] = True  # a tracker's mistake on the background, away from the object
    blob &= ~gt
    prev = gt | blob
    x, y = region_centre(gt)
    bx, by = region_centre(blob)
    result = ClassicalSegmenter().segment(image, np.array([[x, y], [bx, by]], float), np.array([1, 0]),
                                          prev_mask=prev)
    assert not result.mask[by, bx]
    assert (result.mask & blob).sum() < 0.5 * blob.sum()
    assert jaccard(result.mask, gt) > jaccard(prev, gt)


def test_clicks_are_respected(scene):
    image, gt = scene
    h, w = gt.shape
    x, y = region_centre(gt)
    bg = np.argwhere(~gt)[::997][:3]
    fg = np.argwhere(cv2.erode(gt.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)[::613][:3]
    points = [[x, y]] + [[c, r] for r, c in fg] + [[c, r] for r, c in bg]
    labels = [1] * (1 + len(fg)) + [0] * len(bg)
    # include a negative click placed inside the object: the user's word beats the colour model
    points.append([x + 6, y])
    labels.append(0)
    mask = ClassicalSegmenter().segment(image, np.array(points, float), np.array(labels)).mask
    for (px, py), label in zip(points, labels):
        assert mask[int(py), int(px)] == bool(label)


def test_features_are_cached_per_frame(scene):
    image, gt = scene
    segmenter = ClassicalSegmenter.with_options({"cache_frames": 2})
    x, y = region_centre(gt)
    segmenter.segment(image, np.array([[x, y]], float), np.array([1]), cache_key=("clip", 0))
    features = segmenter.features(image, ("clip", 0))
    segmenter.segment(image, np.array([[x, y], [5, 5]], float), np.array([1, 0]), cache_key=("clip", 0))
    assert segmenter.cache.misses == 1 and segmenter.cache.hits >= 2
    assert segmenter.features(image, ("clip", 0)) is features  # the very same object, not recomputed
    # the same key with a different image must not reuse stale features
    other = SyntheticClip(seed=7).frame(20)
    segmenter.segment(other, np.array([[x, y]], float), np.array([1]), cache_key=("clip", 0))
    assert segmenter.cache.misses == 2
    # bounded: a third and fourth frame evict the oldest
    for i in (1, 2):
        segmenter.segment(image, np.array([[x, y]], float), np.array([1]), cache_key=("clip", i))
    assert len(segmenter.cache) == 2 and ("clip", 0) not in segmenter.cache


def test_prefetch_leaves_the_first_click_only_the_solve(scene):
    """Issue #20: a prefetched frame's first click computes no features (they cost ~7x the click)."""
    image, gt = scene
    x, y = region_centre(gt)
    segmenter = ClassicalSegmenter()
    assert segmenter.prefetch(image, ("clip", 3)) is True
    assert ("clip", 3) in segmenter.cache and "graph" in segmenter.cache.get(("clip", 3)).extra
    assert segmenter.prefetch(image, ("clip", 3)) is False  # cached already: nothing to do
    computed = segmenter.cache.misses
    result = segmenter.segment(image, np.array([[x, y]], float), np.array([1]), cache_key=("clip", 3))
    assert segmenter.cache.misses == computed  # the click found everything it needed
    plain = ClassicalSegmenter().segment(image, np.array([[x, y]], float), np.array([1]))
    assert np.array_equal(result.mask, plain.mask) and result.confidence == plain.confidence
    # a gray frame is prefetched as segment() will see it (converted to RGB first)
    gray = image[:, :, 1].copy()
    assert segmenter.prefetch(gray, ("clip", 4)) is True
    segmenter.segment(gray, np.array([[x, y]], float), np.array([1]), cache_key=("clip", 4))
    assert segmenter.cache.misses == computed + 1
    # a key reused for another image is computed again, not served stale
    assert segmenter.prefetch(SyntheticClip(seed=7).frame(20), ("clip", 3)) is True


def test_params_reach_the_features_and_reject_unknown_names(scene):
    image, _ = scene
    coarse = ClassicalSegmenter.with_options({"superpixel_size": 16}).features(image)
    fine = ClassicalSegmenter().features(image)
    assert coarse.count < 0.5 * fine.count
    assert ClassicalSegmenter.with_options({"first_click_radii": [0, 2]}).params.first_click_radii == (0, 2)
    with pytest.raises(EngineError, match=r"'classical' has no option 'superpixel' \(known: .*superpixel_size"):
        ClassicalSegmenter.with_options({"superpixel": 16})
    with pytest.raises(EngineError, match="cache_frames must be at least 1"):
        ClassicalSegmenter.with_options({"cache_frames": 0})


def test_previous_mask_is_used(scene):
    image, gt = scene
    h, w = gt.shape
    # only a negative click, far from the object, on a frame that already has a (tracked) mask
    result = ClassicalSegmenter().segment(image, np.array([[5.0, h - 5.0]]), np.array([0]), prev_mask=gt)
    assert jaccard(result.mask, gt) > 0.8
    assert not result.mask[h - 5, 5]


def test_degenerate_inputs(scene):
    image, gt = scene
    h, w = gt.shape
    segmenter = ClassicalSegmenter()
    only_negative = segmenter.segment(image, np.array([[10.0, 10.0], [50.0, 60.0]]), np.array([0, 0]))
    assert not only_negative.mask.any() and only_negative.confidence == 1.0
    nothing = segmenter.segment(image, np.zeros((0, 2)), np.zeros(0, int))
    assert not nothing.mask.any()
    for corner in ([0.0, 0.0], [w - 1.0, h - 1.0], [w + 7.0, -3.0]):  # on and past the border
        result = segmenter.segment(image, np.array([corner]), np.array([1]))
        cx, cy = int(min(max(corner[0], 0), w - 1)), int(min(max(corner[1], 0), h - 1))
        assert result.mask.shape == (h, w) and result.mask[cy, cx]
        assert result.mask.mean() < 0.9
    with pytest.raises(EngineError):
        segmenter.segment(image, np.array([[1.0, 2.0]]), np.array([1, 0]))
    with pytest.raises(EngineError):
        segmenter.segment(image, np.array([[np.nan, 2.0]]), np.array([1]))
    with pytest.raises(EngineError):
        segmenter.segment(image[:, :, 0:2], np.array([[1.0, 2.0]]), np.array([1]))
    with pytest.raises(EngineError):
        segmenter.segment(image, np.array([[1.0, 2.0]]), np.array([1]), prev_mask=np.zeros((3, 3), bool))


def test_click_protocol_helpers():
    gt = np.zeros((40, 60), bool)
    gt[10:30, 10:50] = True
    assert next_click(None, gt)[2] == 1
    x, y = region_centre(gt)
    assert 10 <= x < 50 and 15 <= y <= 24
    pred = gt.copy()
    pred[0:8, :] = True  # a false-foreground band larger than the missed corner
    pred[10:13, 10:13] = False
    click = next_click(pred, gt)
    assert click[2] == 0 and click[1] < 8
    assert next_click(gt, gt) is None
    assert clicks_to_reach([0.5, 0.86, 0.91], 0.85) == 2
    assert clicks_to_reach([0.5, 0.6], 0.9, cap=20) == 20


@pytest.mark.clips
def test_davis_first_frame_five_clicks():
    folder = CLIPS / "davis16-blackswan"
    if not (folder / "frames" / "00000.jpg").is_file():
        pytest.skip("shared clips not present")
    image = cv2.cvtColor(cv2.imread(str(folder / "frames" / "00000.jpg")), cv2.COLOR_BGR2RGB)
    gt = cv2.imread(str(folder / "masks" / "00000.png"), cv2.IMREAD_GRAYSCALE) > 127
    ious, _ = simulate(ClassicalSegmenter(), image, gt, 5)
    assert ious[0] > 0.5
    assert ious[-1] > 0.8
