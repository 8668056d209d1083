"""The classical tracker on generated clips with exact ground truth (plain, occluded, cut, several
objects) and on one real DAVIS clip when the shared clips are present."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from engine.backends.classical.tracker import ClassicalTracker, TrackerParams
from engine.backends.classical.tracker.appearance import background_ring
from engine.backends.classical.tracker.frame import Frame, grid
from engine.backends.classical.tracker.recover import search_window
from engine.backends.classical.tracker.segment import CutModels, graph_cut, roi, size_bias
from engine.backends.classical.tracker.tracker import step_seed
from engine.backends.classical.tracker.confidence import Confidences, FrameQuality, combine_confidence, matte_quality
from engine.backends.flow import cut_score
from engine.errors import Cancelled, EngineError
from engine.evaluation.metrics import jaccard
from engine.progress import CancelToken
from engine.evaluation.synthetic import SyntheticClip
from engine.quality import WEAK_BELOW as LOW_CONFIDENCE  # the one weak-frame line (engine/quality.py)

from .array_video import ArrayVideo

CLIPS = Path(os.environ.get("VTA_CLIPS") or Path(__file__).resolve().parents[1].parent / "shared" / "clips")


def synthetic_video(clip: SyntheticClip, frame=None) -> ArrayVideo:
    return ArrayVideo(frame or clip.frame, clip.frames, clip.width, clip.height)


def track(video, init_mask, frames, **objects):
    out = {}
    for frame, probs, confs in ClassicalTracker().propagate(video, frames[0] - 1, init_mask, frames):
        out[frame] = (probs, confs)
    return out


def test_tracks_synthetic_object_with_high_iou():
    clip = SyntheticClip(frames=30)
    result = track(synthetic_video(clip), {1: clip.mask(0)}, list(range(1, 30)))
    ious = [jaccard(result[i][0][1] >= 0.5, clip.mask(i)) for i in range(1, 30)]
    assert min(ious) > 0.8, ious
    assert np.mean(ious) > 0.88
    confs = [result[i][1][1] for i in range(1, 30)]
    assert np.mean(confs) > 0.5
    probs = result[29][0][1]
    assert probs.dtype == np.float32 and probs.shape == (clip.height, clip.width)
    assert 0.0 <= probs.min() and probs.max() <= 1.0


def test_tracks_backward_too():
    clip = SyntheticClip(frames=20)
    frames = list(range(18, -1, -1))
    out = {f: p for f, p, _ in ClassicalTracker().propagate(synthetic_video(clip), 19, {5: clip.mask(19)}, frames)}
    assert jaccard(out[0][5] >= 0.5, clip.mask(0)) > 0.8


def _occluded(clip: SyntheticClip, start: int, stop: int):
    """A grey bar that slides in, covers the whole object for a few frames, and leaves."""

    def frame(i: int) -> np.ndarray:
        image = clip.frame(i).copy()
        if start <= i < stop:
            ys, xs = np.nonzero(clip.mask(i))
            pad = 12
            image[max(0, ys.min() - pad):ys.max() + pad, max(0, xs.min() - pad):xs.max() + pad] = (70, 90, 160)
        return image

    return frame


def test_recovers_after_full_occlusion_and_confidence_drops():
    clip = SyntheticClip(frames=40)
    video = synthetic_video(clip, _occluded(clip, 12, 17))
    result = track(video, {1: clip.mask(0)}, list(range(1, 40)))
    conf = {i: result[i][1][1] for i in result}
    iou = {i: jaccard(result[i][0][1] >= 0.5, clip.mask(i)) for i in range(1, 40)}
    hidden = [conf[i] for i in range(12, 17)]
    visible = [conf[i] for i in range(3, 11)]
    assert max(hidden) < LOW_CONFIDENCE < min(visible), (hidden, visible)  # hidden frames are weak
    # the object is found again by its keyframe colours within a few frames of reappearing
    assert max(iou[i] for i in range(17, 22)) > 0.7, iou
    assert np.mean([iou[i] for i in range(25, 40)]) > 0.8, iou


def test_hard_cut_drops_confidence():
    a, b = SyntheticClip(frames=30, seed=7), SyntheticClip(frames=30, seed=99)
    video = synthetic_video(a, lambda i: a.frame(i) if i < 15 else b.frame(i))
    result = track(video, {1: a.mask(0)}, list(range(1, 30)))
    conf = {i: result[i][1][1] for i in range(1, 30)}
    before = [conf[i] for i in range(3, 15)]
    # frame 15, the first after the cut, is flagged for review (below the CLI's low-confidence line)
    # while the frames before it are not, and it is far below them
    assert conf[15] < LOW_CONFIDENCE <= min(before), conf
    assert conf[15] < 0.5 * min(before), conf


def two_objects(clip: SyntheticClip):
    """The generated clip with a blue disc crossing it: (video, init masks {1: blob, 2: disc}, disc(i))."""
    rng = np.random.default_rng(3)
    speckle = rng.integers(0, 40, (clip.height, clip.width, 1)).astype(np.uint8)

    def disc(i: int) -> np.ndarray:
        m = np.zeros((clip.height, clip.width), np.uint8)
        cv2.circle(m, (40 + 2 * i, 40 + i), 22, 1, -1)
        return m > 0

    def frame(i: int) -> np.ndarray:
        image = clip.frame(i).copy()
        blue = np.clip(np.array([40, 60, 200], np.uint8) + speckle, 0, 255)
        image[disc(i)] = blue[disc(i)]
        return image

    return synthetic_video(clip, frame), {1: clip.mask(0) & ~disc(0), 2: disc(0)}, disc


def test_several_objects_in_one_call_share_the_run():
    clip = SyntheticClip(frames=20)
    video, init, disc = two_objects(clip)
    out = {f: (p, c) for f, p, c in ClassicalTracker().propagate(video, 0, init, range(1, 20))}
    probs, confs = out[19]
    assert set(probs) == {1, 2} and set(confs) == {1, 2}
    assert jaccard(probs[1] >= 0.5, clip.mask(19) & ~disc(19)) > 0.8
    assert jaccard(probs[2] >= 0.5, disc(19)) > 0.8
    assert not ((probs[1] >= 0.5) & (probs[2] >= 0.5)).any()  # each pixel has one owner


def test_objects_stepped_side_by_side_give_the_same_mattes_every_run():
    """The objects of a run are stepped on two threads and OpenCV's random generator (the graph
    cut's k-means start) is per thread: each step seeds it for its object and frame."""
    clip = SyntheticClip(frames=16)
    video, init, _ = two_objects(clip)
    runs = [[{oid: p >= 0.5 for oid, p in probs.items()}
             for _, probs, _ in ClassicalTracker().propagate(video, 0, init, range(1, 16))] for _ in range(3)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert all(np.array_equal(a[oid], b[oid]) for oid in init)
    assert not [t for t in threading.enumerate() if t.name.startswith("vta-track-objects")]  # they end with the run
    seeds = {step_seed(1234, frame, oid) for frame in range(100) for oid in (1, 2, 3)}
    assert len(seeds) == 300 and all(0 <= s < 2 ** 31 for s in seeds)


def test_cancel_stops_the_run():
    clip = SyntheticClip(frames=20)
    token = CancelToken()
    seen = []
    with pytest.raises(Cancelled):
        for frame, _, _ in ClassicalTracker().propagate(synthetic_video(clip), 0, {1: clip.mask(0)}, range(1, 20), token):
            seen.append(frame)
            if frame == 3:
                token.cancel()
    assert seen == [1, 2, 3]


def test_bad_input_is_a_clear_error():
    clip = SyntheticClip(frames=5)
    with pytest.raises(EngineError, match="mask of object 1"):
        list(ClassicalTracker().propagate(synthetic_video(clip), 0, {1: np.ones((5, 5), bool)}, [1]))
    with pytest.raises(EngineError, match="tracker 'classical' has no option 'nonsense'"):
        ClassicalTracker.with_options({"nonsense": 1})
    with pytest.raises(EngineError, match="flow_preset must be one of"):
        ClassicalTracker.with_options({"flow_preset": "slowest"})


def test_start_and_step_are_what_propagate_runs():
    clip = SyntheticClip(frames=8)
    video = synthetic_video(clip)
    tracker = ClassicalTracker()
    run = list(tracker.propagate(video, 0, {1: clip.mask(0)}, range(1, 8)))
    state = tracker.start(video, 0, {1: clip.mask(0)})
    for frame, probs, confs in run:
        step_probs, step_confs = state.step(frame)
        # the same work: the same masks; probabilities may differ in the last bits where NumPy's
        # SIMD loops meet small arrays at another memory alignment (the mattes written are equal)
        assert np.array_equal(step_probs[1] >= 0.5, probs[1] >= 0.5)
        assert np.allclose(step_probs[1], probs[1], rtol=0, atol=1e-6)
        assert step_confs[1] == pytest.approx(confs[1], abs=1e-9)


def test_propagate_prepares_the_frames_on_a_second_thread_and_stops_it():
    """Decoding and the flow of the frames ahead run on the preparing thread while the tracker
    works; the thread ends with the run, also when the caller stops early; a read off the plan
    is made in place and gives what an unplanned read gives."""
    from engine.backends.classical.tracker.frame import FrameSource
    from engine.backends.classical.tracker.params import TrackerParams

    clip = SyntheticClip(frames=12)
    decoded_on: dict[int, str] = {}

    def make(index):
        decoded_on[index] = threading.current_thread().name
        return clip.frame(index)

    def preparing() -> bool:
        return any(t.name == "vta-track-frames" and t.is_alive() for t in threading.enumerate())

    video = ArrayVideo(make, clip.frames, clip.width, clip.height)
    assert len(list(ClassicalTracker().propagate(video, 0, {1: clip.mask(0)}, range(1, 8)))) == 7
    assert {decoded_on[i] for i in range(1, 8)} == {"vta-track-frames"} and decoded_on[0] != "vta-track-frames"
    assert not preparing()
    run = ClassicalTracker().propagate(video, 0, {1: clip.mask(0)}, range(1, 12))
    next(run)
    assert preparing()
    run.close()
    assert not preparing()

    planned, plain = FrameSource(video, TrackerParams()), FrameSource(video, TrackerParams())
    for source in (planned, plain):
        source.read(0)
    planned.plan([1, 2, 3])
    a, b = [planned.read(1), planned.read(5)], [plain.read(1), plain.read(5)]
    assert not preparing()
    for x, y in zip(a, b):
        assert np.array_equal(x.rgb, y.rgb) and np.array_equal(x.flow.backward, y.flow.backward)


def test_state_steps_one_frame_at_a_time_one_way():
    clip = SyntheticClip(frames=8)
    state = ClassicalTracker().start(synthetic_video(clip), 3, {1: clip.mask(3)})
    with pytest.raises(EngineError, match="cannot step to frame 5"):
        state.step(5)
    state.step(4)
    with pytest.raises(EngineError, match="cannot step to frame 3"):
        state.step(3)
    with pytest.raises(EngineError, match="consecutive frames"):
        list(ClassicalTracker().propagate(synthetic_video(clip), 3, {1: clip.mask(3)}, [4, 6]))


def test_correct_replaces_the_matte_but_keeps_the_memory():
    """A corrected matte is where the next step warps from; the keyframe shape memory stays."""
    clip = SyntheticClip(frames=8)
    video = synthetic_video(clip)
    state = ClassicalTracker().start(video, 0, {1: clip.mask(0)})
    key = state.tracks[1].memory.key.copy()
    state.step(1)
    state.correct({1: np.zeros((clip.height, clip.width), bool)})  # "the object is not there"
    probs, confs = state.step(2)
    assert probs[1].max() < 0.5 and confs[1] == 0.0
    assert np.array_equal(state.tracks[1].memory.key, key)
    fresh = ClassicalTracker().start(video, 0, {1: clip.mask(0)})
    fresh.step(1)
    fresh.correct({1: clip.mask(1)})
    assert jaccard(fresh.step(2)[0][1] >= 0.5, clip.mask(2)) > 0.8


def test_empty_start_mask_gives_empty_low_confidence_frames():
    clip = SyntheticClip(frames=5)
    out = list(ClassicalTracker().propagate(synthetic_video(clip), 0, {1: np.zeros((clip.height, clip.width), bool)}, [1, 2]))
    assert all(p[1].max() < 0.5 and c[1] == 0.0 for _, p, c in out)


def test_background_ring_in_the_masks_box_is_the_whole_frame_ring():
    rng = np.random.default_rng(5)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(20, 200, 2))
        mask = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(1, 4))):  # blobs, some cut by the frame's edge
            centre = (int(rng.integers(-20, w + 20)), int(rng.integers(-20, h + 20)))
            axes = (int(rng.integers(1, 50)), int(rng.integers(1, 50)))
            cv2.ellipse(mask, centre, axes, float(rng.integers(0, 180)), 0, 360, 1, -1)
        inner, outer = int(rng.integers(0, 5)), int(rng.integers(5, 60))
        dist = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 3)
        whole = (dist > inner) & (dist <= outer)
        assert np.array_equal(background_ring(mask > 0, inner, outer), whole)
    assert not background_ring(np.zeros((9, 9), bool), 1, 4).any()


def test_window_helpers():
    a, b = np.zeros((60, 80), bool), np.zeros((60, 80), bool)
    a[10:20, 30:40] = True
    b[40:45, 70:75] = True
    assert roi((a,), 5) == (slice(5, 25), slice(25, 45))
    assert roi((a, b), 10) == (slice(0, 55), slice(20, 80))  # joint box, clipped to the frame
    assert roi((np.zeros((60, 80), bool),), 5) == (slice(0, 60), slice(0, 80))  # nothing to go by: all
    full = Frame(np.zeros((60, 80, 3), np.uint8), None, np.zeros((60, 80), np.int32), None, False)
    window = full.window(roi((a,), 5))
    assert window.rgb.shape == (20, 20, 3) and np.shares_memory(window.rgb, full.rgb)
    xs, ys = grid(window)  # a window's own coordinates, whatever grid was made before
    assert xs.shape == (20, 20) and xs[0, 0] == 0 and xs[3, 7] == 7 and ys[3, 7] == 3
    xs, ys = grid(full)
    assert xs.shape == (60, 80) and xs[59, 79] == 79 and ys[59, 79] == 59


def test_matte_worked_out_in_a_window_is_the_whole_frames():
    """The window leaves room to grow: started from a mask well inside the object, the matte grows
    out to the object's edge beyond the box of the prior as it would over the whole frame."""
    clip = SyntheticClip(frames=12)
    small = cv2.erode(clip.mask(0).astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
    video, init, frames = synthetic_video(clip), {1: small}, list(range(1, 12))
    windowed = ClassicalTracker(TrackerParams(roi_margin=0.1)).propagate(video, 0, init, frames)
    whole = ClassicalTracker(TrackerParams(roi_margin=10.0)).propagate(video, 0, init, frames)
    for (_, a, _), (_, b, _) in zip(windowed, whole):
        assert jaccard(a[1] >= 0.5, b[1] >= 0.5) > 0.98


def test_a_cut_from_carried_colour_models_does_not_depend_on_the_random_seed():
    """The graph cut's mixtures start from the last cut's (k-means, seeded from OpenCV's random
    generator, only for the first cut), so a later cut is the same whatever the generator holds."""
    rng = np.random.default_rng(5)
    image = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 1.5)
    yy, xx = np.mgrid[:120, :160]
    prob = np.clip(1.2 - np.hypot(yy - 60, xx - 80) / 35.0, 0, 1).astype(np.float32)
    frame, p = SimpleNamespace(rgb=image), TrackerParams()

    def cut(seed, models):
        cv2.setRNGSeed(seed)
        return graph_cut(frame, prob, p, 160, models)

    # from scratch the cut follows the draw (else this test could not tell the two apart)
    assert not np.array_equal(cut(1, None), cut(2, None))
    first = CutModels()
    cut(1, first)
    assert first.background is not None and first.foreground is not None

    def carried():
        models = CutModels()
        models.background, models.foreground = first.background.copy(), first.foreground.copy()
        return models

    assert np.array_equal(cut(1, carried()), cut(2, carried()))


def test_pure_helpers():
    assert size_bias(100, 100) == 0.0
    assert size_bias(200, 100) > 0.3 and size_bias(50, 100) < -0.3
    calm = combine_confidence(FrameQuality(), 0.0, 1.0)
    assert calm > 0.9
    assert combine_confidence(FrameQuality(lost=True), 0.0, 1.0) == 0.0
    assert combine_confidence(FrameQuality(flow_consistency=0.3), 0.0, 1.0) < 0.3
    assert combine_confidence(FrameQuality(area_change=0.4), 0.0, 1.0) < 0.3
    assert combine_confidence(FrameQuality(), 0.9, 1.0) < 0.2
    # a re-found object or a cut is always flagged for review, however good the other cues look
    assert combine_confidence(FrameQuality(reacquired=True), 0.0, 1.0) < LOW_CONFIDENCE
    assert combine_confidence(FrameQuality(cut=True), 0.0, 1.0) < LOW_CONFIDENCE
    assert search_window(None, 3, (60, 80), 0.5) == (0, 0, 80, 60)
    assert search_window((30, 20, 10, 10), 0, (60, 80), 0.5) == (20, 10, 51, 41)  # one box around
    assert search_window((30, 20, 10, 10), 2, (60, 80), 0.5) == (10, 0, 61, 51)  # wider while lost
    # a sliver of a matte searches as far as the whole object could be: the box counts its reference size
    sliver = search_window((33, 23, 4, 4), 0, (60, 80), 0.5, min_side=10)
    assert sliver == search_window((30, 20, 10, 10), 0, (60, 80), 0.5)
    flat = np.full(32, 1 / 32)
    other = np.zeros(32)
    other[3] = 1.0
    small = np.zeros((10, 10), np.float32)
    big = np.full((10, 10), 80.0, np.float32)
    assert cut_score(small, np.ones((10, 10), np.float32), flat, flat) == 0.0
    assert cut_score(big, np.zeros((10, 10), np.float32), flat, other) > 0.8


def test_reported_confidence_is_a_monotone_quality_estimate():
    """matte_quality rises with each cue, is 0 when lost and below the weak line on a cut or a
    re-found frame, whatever the cues say."""
    good = FrameQuality(appearance=1.0, anchor_fit=0.9)
    assert matte_quality(good, 0.0, 1.0) == pytest.approx(0.95)
    assert matte_quality(FrameQuality(appearance=1.0, anchor_fit=0.3), 0.0, 1.0) < matte_quality(good, 0.0, 1.0)
    assert matte_quality(FrameQuality(appearance=0.2, anchor_fit=0.9), 0.0, 1.0) < matte_quality(good, 0.0, 1.0)
    # a matte that lost the object's colours and the keyframe's shape is weak
    assert matte_quality(FrameQuality(appearance=0.2, anchor_fit=0.3), 0.0, 1.0) < LOW_CONFIDENCE
    assert matte_quality(FrameQuality(lost=True), 0.0, 1.0) == 0.0
    assert matte_quality(FrameQuality(reacquired=True), 0.0, 1.0) < LOW_CONFIDENCE
    assert matte_quality(FrameQuality(cut=True), 0.0, 1.0) < LOW_CONFIDENCE
    assert matte_quality(good, 0.0, 0.4) < LOW_CONFIDENCE  # trust after a loss
    # cues beyond their range are clipped: a colour separation above the keyframe's is still 1
    assert matte_quality(FrameQuality(appearance=3.0, anchor_fit=1.0), 0.0, 1.0) == 1.0


def test_blend_weight_is_the_adaptation_gate_not_the_reported_confidence():
    """The reported confidence changed meaning (a quality estimate); where a forward and a backward
    pass meet, TrackRun still weighs them by the gate, so blended mattes stay as they were."""
    clip = SyntheticClip(frames=6)
    for _, _, confs in ClassicalTracker().propagate(synthetic_video(clip), 0, {1: clip.mask(0)}, [1, 2, 3]):
        assert isinstance(confs, Confidences) and set(confs.blend) == {1}
        assert 0.0 <= confs[1] <= 1.0 and 0.0 <= confs.blend[1] <= 1.0


@pytest.mark.clips
def test_real_davis_clip_blackswan():
    folder = CLIPS / "davis16-blackswan"
    if not (folder / "frames").is_dir():
        pytest.skip("shared clips absent")
    from engine.video_io import open_video

    video = open_video(folder / "frames")
    n = 25
    gt = [cv2.imread(str(folder / "masks" / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127 for i in range(n)]
    out = {f: p[1] >= 0.5 for f, p, _ in ClassicalTracker().propagate(video, 0, {1: gt[0]}, range(1, n))}
    ious = [jaccard(out[i], gt[i]) for i in range(1, n)]
    assert np.mean(ious) > 0.75, ious
