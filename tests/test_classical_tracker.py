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
from engine.backends.classical.tracker.appearance import ColourMap, ColourModel, background_ring, colour_index
from engine.backends.classical.tracker.frame import Frame, grid
from engine.backends.classical.tracker.memory import pixels
from engine.backends.classical.tracker.recover import search_window
from engine.backends.classical.tracker.segment import CutModels, graph_cut, roi, size_bias
from engine.backends.classical.tracker.tracker import step_seed
from engine.backends.classical.tracker.confidence import Confidences, FrameQuality, combine_confidence, matte_quality
from engine.backends.flow import cut_score
from engine.errors import Cancelled, EngineError
from engine.evaluation.metrics import jaccard
from engine.progress import CancelToken
from engine.evaluation.synthetic import SyntheticClip
from engine.video_io import VideoInfo, VideoReader

from engine.quality import WEAK_BELOW as LOW_CONFIDENCE  # the one weak-frame line (engine/quality.py)
CLIPS = Path(os.environ.get("VTA_CLIPS") or Path(__file__).resolve().parents[1].parent / "shared" / "clips")


class ArrayVideo(VideoReader):
    """A clip made by a function: frame i → RGB array (no files)."""

    def __init__(self, make, count: int, width: int, height: int) -> None:
        self._init_common()
        self.make = make
        self.info = VideoInfo("generated", "sequence", width, height, 24.0, count, 0, "raw")

    def _decode(self, index: int) -> np.ndarray:
        return self.make(index)


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


def test_shape_memory_pure_helpers():
    from engine.backends.classical.tracker.memory import IDENTITY, ShapeMemory, align_by_moments, compose

    shift = np.array([[1.0, 0, 5], [0, 1.0, -2]])
    double = np.array([[2.0, 0, 0], [0, 2.0, 0]])
    assert np.allclose(compose(shift, IDENTITY), shift)
    assert np.allclose(compose(shift, double) @ [1, 1, 1], [7, 0])  # scale first, then shift
    a = np.zeros((60, 80), bool)
    a[10:20, 10:20] = True
    b = np.zeros((60, 80), bool)
    b[30:50, 40:60] = True  # twice the size, elsewhere
    t = align_by_moments(a, b)
    assert np.isclose(t[0, 0], 2.0) and np.allclose(t @ [14.5, 14.5, 1], [49.5, 39.5])
    memory = ShapeMemory(a)
    memory.follow(np.array([[1.0, 0, 10], [0, 1.0, 0]]))
    memory.follow(None)  # a failed fit keeps the last transform
    assert jaccard(memory.anchor(a.shape) > 0.5, np.roll(a, 10, axis=1)) > 0.9


def _legged_object(clip: SyntheticClip):
    """A red body with swinging 3-px legs and a tail crossing a still textured background: the thin
    parts move differently from the body, which plain flow warping erodes frame after frame."""
    rng = np.random.default_rng(5)
    speckle = rng.integers(0, 30, (clip.height, clip.width, 1)).astype(np.uint8)
    colour = np.clip(np.array([190, 60, 50], np.uint8) + speckle, 0, 255)

    def mask(i: int) -> np.ndarray:
        m = np.zeros((clip.height, clip.width), np.uint8)
        x, y = 60 + 3 * i, 80
        cv2.ellipse(m, (x, y), (28, 12), 0, 0, 360, 1, -1)
        swing = int(6 * np.sin(i / 2.0))
        for dx in (-18, 18):
            cv2.line(m, (x + dx, y + 8), (x + dx + swing, y + 40), 1, 3)
        cv2.line(m, (x - 26, y - 4), (x - 44, y - 22), 1, 3)
        return m > 0

    def frame(i: int) -> np.ndarray:
        image = clip.background(i).copy()
        m = mask(i)
        image[m] = colour[m]
        return image

    return frame, mask


def test_thin_parts_survive():
    clip = SyntheticClip(frames=30, pan_px_per_frame=0)
    frame, mask = _legged_object(clip)
    video = ArrayVideo(frame, 30, clip.width, clip.height)
    out = {i: p[1] for i, p, _ in ClassicalTracker().propagate(video, 0, {1: mask(0)}, range(1, 30))}
    ious = [jaccard(out[i] >= 0.5, mask(i)) for i in range(1, 30)]
    assert min(ious) > 0.9, ious


def test_object_behind_a_fence_is_not_left_behind():
    """Static posts in front: the flow of the object is dominated by them and says "not moving"; the
    tracker must follow the object's own pixels (ground truth: its visible part)."""
    clip = SyntheticClip(frames=30, pan_px_per_frame=0)
    frame, mask = _legged_object(clip)
    posts = np.zeros((clip.height, clip.width), bool)
    for x in range(10, clip.width, 26):
        posts[:, x:x + 4] = True

    def fenced(i: int) -> np.ndarray:
        image = frame(i).copy()
        image[posts] = (90, 110, 70)
        return image

    video = ArrayVideo(fenced, 30, clip.width, clip.height)
    out = {i: p[1] for i, p, _ in ClassicalTracker().propagate(video, 0, {1: mask(0) & ~posts}, range(1, 30))}
    ious = [jaccard(out[i] >= 0.5, mask(i) & ~posts) for i in range(1, 30)]
    assert np.mean(ious) > 0.5, ious  # plain flow propagation: ~0.3, stuck on the posts
    # the matte moves with the object, not with the posts (it still lags: ~25 px after 87 px of travel)
    ys, xs = np.nonzero(out[29] >= 0.5)
    assert abs(xs.mean() - np.nonzero(mask(29))[1].mean()) < 35


def test_match_shift_and_close_gaps():
    from engine.backends.classical.tracker.memory import close_gaps, match_shift

    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (80, 100, 3)).astype(np.uint8)
    mask = np.zeros((80, 100), bool)
    mask[30:50, 20:45] = True
    moved = np.roll(np.roll(image, 4, axis=1), -3, axis=0)
    dx, dy, err = match_shift(image, mask, moved, radius=8, min_pixels=16)
    assert (dx, dy) == (4.0, -3.0) and err < 1.0
    striped = mask.copy()
    striped[:, 30:32] = False  # a post in front
    assert close_gaps(striped, 0.3)[40, 31] and not close_gaps(striped, 0.0)[40, 31]


def test_matte_does_not_stick_to_the_background_after_passing_behind_a_pole():
    """An object passes behind a static pole wider than itself, over a background tinted like it:
    without the stuck guard (guard.py) and the likeness re-search (object_track.py) the matte stays
    at the pole's edge on the background (J 0 on the last frames, 44-frame clip); with either, the
    object is found again where it emerges."""
    w, h, n = 192, 128, 44
    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 3)
    background = (0.5 * background + 0.5 * np.array([150, 110, 90])).astype(np.uint8)
    body = (0.4 * rng.integers(0, 255, (30, 30, 3)) + 0.6 * np.array([200, 90, 60])).astype(np.uint8)
    pole = (slice(None), slice(84, 118))
    pole_texture = cv2.GaussianBlur(rng.integers(40, 90, (h, 34, 3)).astype(np.uint8), (0, 0), 1)

    def frame(i: int) -> np.ndarray:
        image = background.copy()
        x = 24 + 3 * i
        image[50:80, x:min(w, x + 30)] = body[:, :min(w, x + 30) - x]
        image[pole] = pole_texture
        return image

    def mask(i: int) -> np.ndarray:
        m = np.zeros((h, w), bool)
        m[50:80, 24 + 3 * i:min(w, 54 + 3 * i)] = True
        m[pole] = False
        return m

    video = ArrayVideo(frame, n, w, h)

    def run(**params):
        out = {i: p[1] >= 0.5 for i, p, _ in ClassicalTracker(TrackerParams(**params)).propagate(
            video, 0, {1: mask(0)}, range(1, n))}
        return out[n - 1], float(np.mean([jaccard(out[i], mask(i)) for i in range(n - 10, n)]))

    # the stuck guard alone, with several seeds of the graph cut's k-means start: the matte reaches the
    # pole's edge as a sliver of different widths, and the search must not depend on that width (recover.py)
    for seed in (1234, 2, 4, 6):
        last, j = run(seed=seed, likeness_search=0)
        assert j > 0.5, seed
        assert (last & mask(n - 1)).sum() > 0.6 * last.sum()  # most of the matte is on the object
    assert run(stuck_frames=0)[1] > 0.5  # the likeness re-search alone finds it too
    assert run(stuck_frames=0, likeness_search=0)[1] < 0.2  # both off: the matte left on the background


def test_pixels_of_a_mask_are_nonzero_in_the_same_order():
    """The box-limited lookup gives np.nonzero's arrays exactly (the motion fits sample every n-th
    pixel, so the order is part of the result), also for an empty mask and a view of a larger one."""
    rng = np.random.default_rng(3)
    big = np.zeros((60, 90), bool)
    big[20:35, 40:70] = rng.random((15, 30)) > 0.4
    for mask in (big, big[5:50, 30:80], big[:, ::2], np.zeros((10, 10), bool)):
        ys, xs = pixels(mask)
        ys0, xs0 = np.nonzero(mask)
        assert np.array_equal(ys, ys0) and np.array_equal(xs, xs0)


def test_the_colour_map_reads_the_same_values_as_the_whole_frame_lookup():
    """A step reads the colour probability only in its window and under its masks: the values must
    be those of the per-pixel map of the whole frame."""
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    index = colour_index(rgb)
    mask = np.zeros((40, 60), bool)
    mask[10:25, 15:40] = True
    model = ColourModel(index, mask, (2, 6), TrackerParams())
    whole = model.probability(index)
    lazy = ColourMap(model.table(), index)
    window = (slice(5, 30), slice(10, 50))
    assert np.array_equal(lazy[window], whole[window])
    assert np.array_equal(lazy[mask], whole[mask])


def test_a_piece_of_the_matte_riding_on_the_background_is_dropped_while_the_object_moves():
    """guard.detached(): the camera pans (the background moves -4 px), the object moves against it
    (+2 px); a piece of the matte cut off from the object that moves with the background is
    dropped, the object's piece kept. Nothing is dropped when no piece moves like the object, for
    a matte in one piece or none, with the rule switched off, or when the flow says a piece moves
    with the background but its own pixels moved with the object (an occluder sweeping across it)."""
    from engine.backends.classical.tracker.guard import StuckGuard

    h, w = 120, 200
    rng = np.random.default_rng(7)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (h, w + 20, 3)).astype(np.uint8), (0, 0), 1.5)
    body = cv2.GaussianBlur(rng.integers(0, 255, (40, 40, 3)).astype(np.uint8), (0, 0), 1.5)
    prev_rgb, rgb = scene[:, 8:8 + w].copy(), scene[:, 12:12 + w].copy()
    prev_rgb[40:80, 30:70], rgb[40:80, 32:72] = body, body
    mask = np.zeros((h, w), bool)
    mask[40:80, 30:70] = True  # the object
    mask[50:70, 130:160] = True  # a leak left on the background
    forward = np.zeros((h, w, 2), np.float32)
    forward[..., 0] = -4.0
    forward[40:80, 30:70, 0] = 2.0
    guard = StuckGuard(TrackerParams(), long_side=w)
    guard.speed = 6.0  # learned on the frames before: the object moves 6 px a frame against its surroundings
    dropped = guard.detached(mask, forward, prev_rgb, rgb)
    assert dropped is not None and dropped[60, 145] and not dropped[60, 50]
    assert np.array_equal(dropped, mask & (np.arange(w) >= 100)[None, :])

    together = forward.copy()
    together[40:80, 30:70, 0] = -4.0  # the object's piece rides on the background too: the stuck guard's case
    assert guard.detached(mask, together, prev_rgb, rgb) is None
    one_piece = mask.copy()
    one_piece[55:65, 70:130] = True
    assert guard.detached(one_piece, forward, prev_rgb, rgb) is None
    assert StuckGuard(TrackerParams(detach_mover=0), long_side=w).detached(mask, forward, prev_rgb, rgb) is None
    assert guard.detached(np.zeros_like(mask), forward, prev_rgb, rgb) is None
    # the second piece is a part of the object whose flow an occluder dragged along with the background
    parts = np.zeros((h, w), bool)
    parts[40:80, 30:48] = parts[40:80, 52:70] = True  # the object cut in two by a post
    dragged = np.zeros((h, w, 2), np.float32)
    dragged[..., 0] = -4.0
    dragged[40:80, 30:48, 0] = 2.0
    assert guard.detached(parts, dragged, prev_rgb, rgb) is None
    guard.speed = 0.0  # an object that has not been seen moving against its surroundings
    assert guard.detached(mask, forward, prev_rgb, rgb) is None
