"""SAM-guided flow tracker (classical flow + SAM re-prompted per frame). The LaMa inpainter's tests
are in test_lama.py."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segment_anything")

import numpy as np  # noqa: E402

from engine.backends.learned import sam_flow as sf  # noqa: E402


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
