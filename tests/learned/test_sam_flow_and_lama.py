"""SAM-guided flow tracker (classical flow + SAM re-prompted per frame) and the LaMa inpainter
(classical temporal fill + a TorchScript module with big-lama.pt's signature for never-seen pixels)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segment_anything")

import numpy as np  # noqa: E402

from engine.backends.learned import lama as li  # noqa: E402
from engine.backends.learned import sam_flow as sf  # noqa: E402
from engine.errors import EngineError  # noqa: E402
from engine.evaluation.synthetic import SyntheticClip  # noqa: E402
from engine.video_io import open_video  # noqa: E402

from .conftest import LAMA_FILL  # noqa: E402


def test_prompts_from_mask():
    assert sf.prompts_from_mask(np.zeros((20, 20), bool)) is None
    mask = np.zeros((60, 100), bool)
    mask[10:30, 10:30] = True  # two lobes
    mask[35:55, 60:90] = True
    box, pts, labels = sf.prompts_from_mask(mask)
    assert box[0] <= 10 and box[1] <= 10 and box[2] >= 89 and box[3] >= 54
    assert len(pts) == 2 and labels.tolist() == [1, 1]
    assert all(mask[int(y), int(x)] for x, y in pts)
    assert {mask[:, :50][int(y), int(x)] if x < 50 else "right" for x, y in pts} == {True, "right"}


def test_sam_flow_options_are_checked():
    from engine.errors import EngineError

    with pytest.raises(EngineError, match="has no option 'nonsense'"):
        sf.SamFlowTracker.with_options({"flow": {"nonsense": 1}})  # the classical step's names
    with pytest.raises(EngineError, match="has no option 'flow_options'"):
        sf.SamFlowTracker.with_options({"flow_options": {}})


def test_sam_flow_runs_one_classical_state(learned_env, clip_video):
    """With SAM's answer never taken, the SAM-guided tracker is exactly one classical run over the
    frames (colour model and shape memory built once), not one restarted from each frame's mask,
    and the frames SAM disagreed on keep the flow's matte with a lower confidence."""
    from engine.backends.classical.tracker import ClassicalTracker

    clip, video = clip_video
    tracker = sf.SamFlowTracker.with_options({"min_agreement": 1.01})  # IoU never reaches it
    frames = [4, 5, 6, 7, 8]
    guided = list(tracker.propagate(video, 3, {1: clip.mask(3)}, frames))
    assert tracker.last_stats["flow_kept"] == len(frames)
    plain = list(ClassicalTracker().propagate(video, 3, {1: clip.mask(3)}, frames))
    for (frame, probs, conf), (_, flow_probs, flow_conf) in zip(guided, plain):
        assert np.array_equal(probs[1], flow_probs[1]), frame
        assert conf[1] < flow_conf[1], frame


def test_sam_flow_redraw_is_where_the_next_flow_step_starts(learned_env, clip_video):
    clip, video = clip_video
    tracker = sf.SamFlowTracker.with_options({"min_agreement": 0.0})  # SAM's answer always taken
    state = tracker.start(video, 3, {1: clip.mask(3)})
    classical = state.flow
    key = classical.tracks[1].memory.key.copy()
    for frame in (4, 5, 6):
        probs, _ = state.step(frame)
        # SAM's matte, not the flow's, is what the one classical state warps from next
        assert np.array_equal(classical.tracks[1].prob > 0.5, probs[1] > 0.5), frame
    assert state.flow is classical and np.array_equal(classical.tracks[1].memory.key, key)
    assert tracker.last_stats["sam"] >= 1


def test_sam_flow_propagates_both_ways(learned_env, clip_video):
    """The matte follows the moving object both ways, far closer than the keyframe mask would."""
    from engine.evaluation.metrics import jaccard

    clip, video = clip_video
    tracker = sf.SamFlowTracker()
    assert sf.SamFlowTracker.availability() is None
    fwd = list(tracker.propagate(video, 3, {1: clip.mask(3)}, [4, 5, 6, 7, 8, 9]))
    assert [f for f, _, _ in fwd] == [4, 5, 6, 7, 8, 9]
    assert tracker.last_stats["frames"] == 6
    bwd = list(tracker.propagate(video, 3, {1: clip.mask(3)}, [2, 1, 0]))
    assert [f for f, _, _ in bwd] == [2, 1, 0]
    tracked = [jaccard(probs[1] > 0.5, clip.mask(f)) for f, probs, _ in fwd + bwd]
    copied = [jaccard(clip.mask(3), clip.mask(f)) for f, _, _ in fwd + bwd]
    assert min(tracked) > 0.9 and np.mean(copied) < 0.7, (tracked, copied)
    for _, probs, conf in fwd + bwd:
        assert probs[1].shape == clip.mask(0).shape and probs[1].dtype == np.float32
        assert 0 <= conf[1] <= 1
    assert tracker.sam.encoder_runs >= 6  # SAM really ran on every frame
    assert tracker.describe()["name"] == "sam-flow"


def test_lama_pure_helpers():
    hole = np.zeros((100, 200), bool)
    hole[40:50, 90:100] = True
    assert li.context_box(hole) == (8, 82, 58, 132)
    assert li.context_box(np.zeros((5, 5), bool)) is None
    padded = li.pad_to_multiple(np.arange(15, dtype=np.float32).reshape(3, 5))
    assert padded.shape == (8, 8) and padded[3, 0] == padded[2, 0]


@pytest.fixture(scope="module")
def lama(learned_env):
    assert li.LamaInpainter.availability() is None
    return li.LamaInpainter()


def test_lama_fill_spatial_pads_and_pastes_only_the_hole(lama):
    image = np.full((37, 53, 3), 10, np.uint8)  # not a multiple of 8: the module insists on padding
    hole = np.zeros((37, 53), bool)
    hole[10:20, 10:30] = True
    out = lama.fill_spatial(image, hole)
    expected = np.round(np.array(LAMA_FILL) * 255)
    assert np.abs(out[hole].astype(float) - expected).max() <= 1
    assert np.array_equal(out[~hole], image[~hole])


def test_lama_bounds_the_working_size(learned_env):
    small = li.LamaInpainter(max_side=64)
    image = np.zeros((400, 600, 3), np.uint8)
    hole = np.zeros((400, 600), bool)
    hole[100:300, 100:500] = True
    out = small.fill_spatial(image, hole)
    assert out.shape == image.shape and np.abs(out[200, 300].astype(float) - np.array(LAMA_FILL) * 255).max() <= 2


def test_lama_fills_only_never_seen_pixels(lama, tmp_path):
    """A static object over a static background: no frame ever shows what is behind it, so all of
    it is LaMa's, and the fill is carried from frame to frame (no re-invention per frame)."""
    clip = SyntheticClip(96, 64, 6, seed=5, pan_px_per_frame=0.0)
    still = clip.background(0)
    hole = np.zeros((64, 96), bool)
    hole[20:40, 30:60] = True
    frames = tmp_path / "seq"
    frames.mkdir()
    from engine.fileio import atomic_write_png

    for i in range(6):
        img = still.copy()
        img[hole] = (200, 30, 30)
        atomic_write_png(frames / f"{i:05d}.png", img)
    lama.spatial_calls = 0
    with open_video(frames) as video:
        out = dict(lama.inpaint(video, lambda i: hole, list(range(6)), dilate=2))
    assert sorted(out) == list(range(6))
    expected = np.round(np.array(LAMA_FILL) * 255)
    inner = np.zeros_like(hole)
    inner[24:36, 34:56] = True
    for i in range(6):
        assert np.abs(out[i][inner].astype(float) - expected).mean() < 12  # LaMa's colour, not the object
        assert np.array_equal(out[i][:10], still[:10])  # outside the hole: original pixels
    assert lama.spatial_calls >= 1 and lama.spatial_calls < 6  # carried forward, not re-invented


def test_lama_leaves_seen_background_to_propagation(lama, tmp_path):
    """A moving object over a static background: every pixel it covers is visible in another frame,
    so the clean plate is the true background and LaMa's colour does not appear."""
    clip = SyntheticClip(96, 64, 8, seed=5, pan_px_per_frame=0.0, object_scale=0.15)
    folder = clip.write_frames(tmp_path / "moving")
    lama.spatial_calls, lama.spatial_pixels = 0, 0
    with open_video(folder) as video:
        out = dict(lama.inpaint(video, clip.mask, list(range(8)), dilate=2))
    total_hole = sum(int(clip.mask(i).sum()) for i in range(8))
    assert lama.spatial_pixels < 0.5 * total_hole
    err = np.mean([np.abs(out[i].astype(float) - clip.background(i)).mean() for i in range(8)])
    assert err < 10


def test_lama_missing_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("VTA_MODELS_DIR", str(tmp_path))
    assert "big_lama" in li.LamaInpainter.availability()
    with pytest.raises(EngineError, match="cannot run"):
        li.LamaInpainter()
