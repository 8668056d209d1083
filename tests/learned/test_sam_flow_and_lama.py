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


def test_sam_flow_propagates_both_ways(learned_env, clip_video):
    clip, video = clip_video
    tracker = sf.SamFlowTracker()
    assert sf.SamFlowTracker.availability() is None
    fwd = list(tracker.propagate(video, 3, {1: clip.mask(3)}, [4, 5, 6]))
    assert [f for f, _, _ in fwd] == [4, 5, 6]
    stats = tracker.last_stats
    assert stats["frames"] == 3 and stats["sam"] + stats["flow_kept"] + stats["empty"] == 3
    bwd = list(tracker.propagate(video, 3, {1: clip.mask(3)}, [2, 1, 0]))
    assert [f for f, _, _ in bwd] == [2, 1, 0]
    for _, probs, conf in fwd + bwd:
        assert probs[1].shape == clip.mask(0).shape and probs[1].dtype == np.float32
        assert 0 <= conf[1] <= 1
    assert tracker.sam.encoder_runs >= 6  # SAM really ran on every frame
    assert tracker.describe()["name"] == "sam-flow"
