"""SAM 2 tracker on a tiny random SAM 2.1 saved as `{"model": state_dict}` with its hydra config:
loading through build_sam2_video_predictor, windowed propagation forward and backward (several
windows, so the re-seeding and pruning run), and the pure window/pruning rules.

Random weights cannot track: the tiny model's probability is ~0.48 everywhere, whatever the object
(its masks' IoU with the clip's truth is ~0). So these tests do not claim tracking quality; they
check what random weights do show honestly: each object's output comes from its own keyframe mask
(carried under its own id through every window) and from the frames' pixels."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

import numpy as np  # noqa: E402

from engine.backends.learned import sam2 as st  # noqa: E402
from engine.errors import EngineError  # noqa: E402
from engine.progress import CancelToken  # noqa: E402
from engine.errors import Cancelled  # noqa: E402
from engine.evaluation.synthetic import SyntheticClip  # noqa: E402


def test_window_layout_forward_and_backward():
    order, seeds, start, reverse = st.window_layout(10, 10, [11, 12, 13])
    assert order == [10, 11, 12, 13] and seeds == [10] and start == 0 and not reverse
    order, seeds, start, reverse = st.window_layout(10, 13, [14, 15])
    assert order == [10, 13, 14, 15] and seeds == [10, 13] and start == 1 and not reverse
    order, seeds, start, reverse = st.window_layout(20, 17, [16, 15])
    assert order == [15, 16, 17, 20] and seeds == [20, 17] and start == 2 and reverse


def test_prune_outputs_keeps_recent_frames():
    state = {"output_dict_per_obj": {0: {"non_cond_frame_outputs": {i: {} for i in range(10)}}}}
    st.prune_outputs(state, 9, reverse=False, keep=3)
    assert sorted(state["output_dict_per_obj"][0]["non_cond_frame_outputs"]) == [6, 7, 8, 9]
    state = {"output_dict_per_obj": {0: {"non_cond_frame_outputs": {i: {} for i in range(10)}}}}
    st.prune_outputs(state, 2, reverse=True, keep=3)
    assert sorted(state["output_dict_per_obj"][0]["non_cond_frame_outputs"]) == [0, 1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def tracker(learned_env):
    assert st.Sam2Tracker.availability() is None
    return st.Sam2Tracker.with_options({"window": 3})


def _check(results, expected_frames, shape):
    assert [r[0] for r in results] == expected_frames
    for _, probs, conf in results:
        assert set(probs) == {1, 2}
        for obj, p in probs.items():
            assert p.shape == shape and p.dtype == np.float32 and 0.0 <= p.min() and p.max() <= 1.0
            assert 0.0 <= conf[obj] <= 1.0


def test_propagates_forward_over_several_windows(tracker, clip_video):
    clip, video = clip_video
    init = {1: clip.mask(2), 2: np.roll(clip.mask(2), 20, axis=1)}
    frames = list(range(3, 10))
    results = list(tracker.propagate(video, 2, init, frames, CancelToken()))
    _check(results, frames, clip.mask(0).shape)  # 7 frames through windows of 3
    assert tracker.describe()["window"] == 3 and tracker.describe()["weights"] == "sam2.1_hiera_tiny"


def test_output_comes_from_each_objects_own_mask_and_from_the_frames(tracker, clip_video, tmp_path):
    """An all-zero tracker, one that copies or ignores the keyframe masks, one that mixes object ids
    up at a window boundary, or one that never looks at the frames fails here."""
    clip, video = clip_video
    a, b = clip.mask(2), np.roll(clip.mask(2), 40, axis=1)
    frames = list(range(3, 10))  # three windows of 3
    run = list(tracker.propagate(video, 2, {1: a, 2: b}, frames))
    swapped = list(tracker.propagate(video, 2, {1: b, 2: a}, frames))
    for (frame, probs, conf), (_, probs_s, conf_s) in zip(run, swapped):
        assert not np.array_equal(probs[1], probs[2]), frame  # two masks in, two different outputs
        assert np.array_equal(probs[1], probs_s[2]) and np.array_equal(probs[2], probs_s[1]), frame
        assert conf[1] == conf_s[2] and conf[2] == conf_s[1]
        assert probs[1].std() > 0  # not a constant (or copied binary) map
        assert not np.array_equal(probs[1] > 0.5, a)
    other = SyntheticClip(160, 96, 10, seed=4)
    from engine.video_io import open_video

    with open_video(other.write_frames(tmp_path / "other")) as other_video:
        elsewhere = list(tracker.propagate(other_video, 2, {1: a, 2: b}, frames))
    assert all(not np.array_equal(x[1][1], y[1][1]) for x, y in zip(run, elsewhere))  # other pixels, other output


def test_params_window(monkeypatch):
    monkeypatch.setenv("VTA_SAM2_WINDOW", "5")
    assert st.Sam2Params().window == 5
    assert st.Sam2Params.from_options("sam2", {"window": 7}).window == 7
    with pytest.raises(EngineError, match="window must be at least 2"):
        st.Sam2Params.from_options("tracker 'sam2'", {"window": 1})
    with pytest.raises(EngineError, match="has no option 'windows'"):
        st.Sam2Tracker.with_options({"windows": 4})


def test_propagates_backward_with_reverse(tracker, clip_video):
    clip, video = clip_video
    init = {1: clip.mask(7), 2: clip.mask(7) & False}  # an empty object too
    frames = list(range(6, -1, -1))
    _check(list(tracker.propagate(video, 7, init, frames)), frames, clip.mask(0).shape)


def test_rejects_non_adjacent_frames_and_honours_cancel(tracker, clip_video):
    clip, video = clip_video
    with pytest.raises(EngineError):
        list(tracker.propagate(video, 2, {1: clip.mask(2)}, [5, 6]))
    token = CancelToken()
    gen = tracker.propagate(video, 2, {1: clip.mask(2)}, [3, 4, 5], token)
    next(gen)
    token.cancel()
    with pytest.raises(Cancelled):
        next(gen)


def test_missing_weights_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("VTA_MODELS_DIR", str(tmp_path))
    reason = st.Sam2Tracker.availability()
    assert "sam2.1_hiera_tiny" in reason and "fetch_models.py" in reason
    with pytest.raises(EngineError, match="cannot run"):
        st.Sam2Tracker()
