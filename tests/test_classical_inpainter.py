"""The classical clean-plate inpainter on generated footage with exact ground truth behind the object
(SyntheticClip.background), plus one smoke test on real footage when ../shared/clips is present."""

from __future__ import annotations

import gc
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from engine.backends.classical.inpainter import ClassicalInpainter, InpainterParams, TemporalInpainting
from engine.backends.classical.inpainter.align import FlowRefiner
from engine.backends.classical.inpainter.chain import FlowChain
from engine.backends.classical.inpainter.sources import Crop, SourceSampler
from engine.backends.classical.inpainter.fields import (BoxedMask, bounding_box, dilate_mask, feather_alpha, fill_smooth,
                                                        Cells, remap_points, spread)
from engine.backends.classical.inpainter.window import AHEAD, FrameWindow, PreparedFrame
from engine.errors import Cancelled, EngineError
from engine.evaluation.metrics import psnr
from engine.progress import CancelToken
from engine.evaluation.synthetic import SyntheticClip
from engine.video_io import VideoInfo, VideoReader


class FunctionVideo(VideoReader):
    """Frames made on demand by a function: a VideoReader that holds nothing itself."""

    def __init__(self, make, count: int, size: tuple[int, int]) -> None:
        self._init_common()
        self.make = make
        self.info = VideoInfo("memory", "sequence", size[0], size[1], 24.0, count, 0, "raw")

    def _decode(self, index: int) -> np.ndarray:
        return self.make(index)


@pytest.fixture(scope="module")
def clip() -> SyntheticClip:
    return SyntheticClip(192, 108, 30, seed=3)


def video_of(clip: SyntheticClip) -> FunctionVideo:
    return FunctionVideo(clip.frame, clip.frames, (clip.width, clip.height))


def sampler() -> SourceSampler:
    """The per-source sampling stage with the default parameters."""
    refiner = FlowRefiner()
    return SourceSampler(InpainterParams(), refiner, FlowChain(refiner, 8))


def telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return cv2.inpaint(image, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)


@pytest.fixture(scope="module")
def default_run(clip):
    out = dict(ClassicalInpainter().inpaint(video_of(clip), clip.mask, range(clip.frames)))
    return out


def test_hole_psnr_well_above_telea(clip, default_run):
    ours, base = [], []
    for i, image in default_run.items():
        hole = dilate_mask(clip.mask(i), 8)
        ours.append(psnr(image, clip.background(i), hole))
        base.append(psnr(telea(clip.frame(i), hole), clip.background(i), hole))
    assert np.mean(ours) > np.mean(base) + 8.0, (np.mean(ours), np.mean(base))


def test_pixels_outside_the_hole_are_the_originals(clip, default_run):
    assert sorted(default_run) == list(range(clip.frames))
    for i, image in default_run.items():
        assert image.shape == (clip.height, clip.width, 3) and image.dtype == np.uint8
        outside = ~dilate_mask(clip.mask(i), 8)
        assert np.array_equal(image[outside], clip.frame(i)[outside])


def test_half_resolution_works(clip):
    frames = range(clip.frames)
    out = dict(ClassicalInpainter().inpaint(video_of(clip), clip.mask, frames, resize_ratio=0.5))
    ours, base = [], []
    for i in frames:
        hole = dilate_mask(clip.mask(i), 8)
        assert out[i].shape == (clip.height, clip.width, 3)
        assert np.array_equal(out[i][~hole], clip.frame(i)[~hole])
        ours.append(psnr(out[i], clip.background(i), hole))
        base.append(psnr(telea(clip.frame(i), hole), clip.background(i), hole))
    assert np.mean(ours) > np.mean(base) + 4.0, (np.mean(ours), np.mean(base))


def test_dilation_grows_the_replaced_region(clip):
    frames = range(6)
    tight = dict(ClassicalInpainter().inpaint(video_of(clip), clip.mask, frames, dilate=0))
    wide = dict(ClassicalInpainter().inpaint(video_of(clip), clip.mask, frames, dilate=6))
    for i in frames:
        mask, original = clip.mask(i), clip.frame(i)
        assert np.array_equal(tight[i][~mask], original[~mask])
        changed = np.any(wide[i] != original, axis=2)
        assert not changed[~dilate_mask(mask, 6)].any()
        assert changed[dilate_mask(mask, 3) & ~mask].mean() > 0.3  # the band around the object is redone


def test_memory_is_bounded_by_the_window():
    """A long run keeps at most the window (2 * radius + 1 frames, one more per further frame
    estimated at once) plus the anchor alive. With a radius as short as 4, the block being output
    (5 frames) and the next one's look-ahead (4 more) bound it instead: the next block's
    estimates are made while this block's plates are, so its sources come in while the block's
    frames stay."""
    clip = SyntheticClip(96, 64, 150, seed=5)
    inpainter = ClassicalInpainter.with_options({"radius": 4})
    most_alive = 0
    for i, _ in inpainter.inpaint(video_of(clip), clip.mask, range(clip.frames)):
        if i % 25 == 24:
            gc.collect()
            most_alive = max(most_alive, sum(isinstance(o, PreparedFrame) for o in gc.get_objects()))
    side_by_side = inpainter.params.parallel_frames
    window = max(2 * 4 + side_by_side, 5 + 4 + 4 + 1)
    assert inpainter.window.peak <= window
    # the window, the plate just output, the backward plates of one block (at most radius), and
    # the frames prepared ahead on the window's thread (AHEAD queued, one in hand)
    assert 0 < most_alive <= window + 1 + 4 + AHEAD + 1


def test_frames_estimated_side_by_side_give_the_plates_of_one_at_a_time():
    """Two or three frames' window estimates made at once on threads of their own (each with its
    own flows, the window holding the first frame's sources while offering the last one's): the
    same plates, bit for bit. With a radius of 4 every window frame is a source (tiers 1 to 4), so
    a source dropped early or offered late would change them."""
    clip = SyntheticClip(128, 72, 24, seed=9)
    runs = {n: dict(ClassicalInpainter.with_options({"radius": 4, "parallel_frames": n}).inpaint(
        video_of(clip), clip.mask, range(clip.frames))) for n in (1, 2, 3)}
    for i in range(clip.frames):
        assert np.array_equal(runs[2][i], runs[1][i]), i
        assert np.array_equal(runs[3][i], runs[1][i]), i


def test_a_window_frame_is_given_without_waiting_for_the_whole_window(clip):
    """At the start of a shot the first frame's nearest sources are there while the rest of the
    window is still being prepared; a frame of the window is waited for; one beyond it is not there."""
    slow = FunctionVideo(lambda i: (time.sleep(0.05), clip.frame(i))[1], clip.frames, (clip.width, clip.height))
    window = FrameWindow(slow, clip.mask, range(clip.frames), radius=12, dilate=4, resize_ratio=1.0, source_margin=2)
    try:
        window.advance(0)
        assert window.get(1).index == 1
        assert len(window.items) < 6  # 13 frames make the window: most are still to come
        assert window.get(12).index == 12 and window.get(13) is None
        window.advance(13)  # the window is frames 1 to 25 now
        assert window.get(0) is None and window.get(25).index == 25 and window.get(26) is None
        window.advance(14, last=15)  # two frames estimated at once: the first's sources, the last's too
        assert window.get(1) is None and window.get(2).index == 2 and window.get(27).index == 27
        assert window.get(28) is None
    finally:
        window.close()


def test_the_previous_clean_plate_steadies_the_fill_on_noisy_footage():
    """Sensor noise differs in every source frame; blending in the clean plate just made keeps the
    fill from flickering with it (the background pans 1 px per frame to the left)."""
    clip = SyntheticClip(160, 96, 24, seed=9, pan_px_per_frame=1.0)
    rng = np.random.default_rng(0)
    noisy = [np.clip(clip.frame(i) + rng.normal(0, 6, (96, 160, 3)), 0, 255).astype(np.uint8) for i in range(24)]

    def flicker(plate_weight: float) -> float:
        video = FunctionVideo(lambda i: noisy[i], 24, (160, 96))
        outs = [o.astype(np.float32) for _, o in ClassicalInpainter(InpainterParams(plate_weight=plate_weight)).inpaint(video, clip.mask, range(24))]
        steps = []
        for i in range(1, 24):
            both = clip.mask(i)[:, :-1] & clip.mask(i - 1)[:, 1:]
            steps.append(np.abs(outs[i][:, :-1] - outs[i - 1][:, 1:]).mean(axis=2)[both].mean())
        return float(np.mean(steps))

    assert flicker(1.0) < 0.6 * flicker(0.0)


def test_the_plate_made_backward_steadies_the_first_frame_of_a_shot():
    """The first frame has no clean plate before it; the plate of the frame after it, made by the
    backward pass, still averages out the sensor noise of its fill and ties it to the next frame."""
    clip = SyntheticClip(160, 96, 16, seed=9, pan_px_per_frame=1.0)
    rng = np.random.default_rng(1)
    noisy = [np.clip(clip.frame(i) + rng.normal(0, 6, (96, 160, 3)), 0, 255).astype(np.uint8) for i in range(16)]

    def first_frame(plate_weight: float) -> tuple[float, float]:
        video = FunctionVideo(lambda i: noisy[i], 16, (160, 96))
        outs = ClassicalInpainter(InpainterParams(plate_weight=plate_weight)).inpaint(video, clip.mask, range(16))
        (_, first), (_, second) = next(outs), next(outs)
        first, second = first.astype(np.float32), second.astype(np.float32)
        error = np.abs(first - clip.background(0)).mean(axis=2)[clip.mask(0)].mean()
        both = clip.mask(1)[:, :-1] & clip.mask(0)[:, 1:]  # the background pans 1 px to the left
        step = np.abs(second[:, :-1] - first[:, 1:]).mean(axis=2)[both].mean()
        return float(error), float(step)

    (error, step), (error_alone, step_alone) = first_frame(1.0), first_frame(0.0)
    assert error < 0.9 * error_alone
    assert step < 0.3 * step_alone


def test_cancel_stops_the_run(clip):
    token = CancelToken()
    done = []
    with pytest.raises(Cancelled):
        for i, _ in ClassicalInpainter().inpaint(video_of(clip), clip.mask, range(clip.frames), cancel=token):
            done.append(i)
            if len(done) == 3:
                token.cancel()
    assert done == [0, 1, 2]


def test_bad_parameters_are_one_line_errors(clip):
    with pytest.raises(EngineError, match="resize ratio"):
        list(ClassicalInpainter().inpaint(video_of(clip), clip.mask, range(3), resize_ratio=0))
    with pytest.raises(EngineError, match="consecutive"):
        list(ClassicalInpainter().inpaint(video_of(clip), clip.mask, [0, 2, 3]))


def test_options_with_wrong_names_or_values_are_one_line_errors():
    with pytest.raises(EngineError, match="inpainter 'classical' has no option 'radious'"):
        ClassicalInpainter.with_options({"radious": 4})
    with pytest.raises(EngineError, match="unknown flow preset 'fastest'"):
        ClassicalInpainter.with_options({"flow_preset": "fastest"})
    with pytest.raises(EngineError, match="tier distances must be whole frames"):
        ClassicalInpainter.with_options({"tier_distances": [1, 0.5]})
    assert ClassicalInpainter.with_options({"radius": 4, "feather": None}).params.feather == 3.0  # None: default


class ConstantFill:
    """A SpatialFill, what a learned fill plugs into the temporal machinery as: paints one colour."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image, hole):
        self.calls += 1
        out = image.copy()
        out[hole] = (10, 200, 30)
        return out


def test_never_seen_region_gets_one_spatial_fill_carried_through_time():
    """A static shot with a static hole: the background there is never visible, so it is filled
    spatially once and that fill is carried to every later frame (no per-frame re-invention)."""
    clip = SyntheticClip(160, 96, 20, seed=9, pan_px_per_frame=0.0)
    hole = np.zeros((96, 160), bool)
    hole[30:60, 50:100] = True
    video = FunctionVideo(lambda i: np.where(hole[:, :, None], 255, clip.background(i)).astype(np.uint8), 20, (160, 96))
    fill = ConstantFill()
    inpainter = TemporalInpainting(InpainterParams(), fill)
    out = dict(inpainter.inpaint(video, lambda i: hole, range(20), dilate=2))
    assert fill.calls == 1
    assert inpainter.last_stats["spatial_px"] > 0
    inner = ~dilate_mask(~hole, 2)  # clear of the feather at the rounded corners
    for i in range(20):
        assert np.abs(out[i][inner].astype(int) - (10, 200, 30)).max() <= 2

    default = dict(ClassicalInpainter().inpaint(video, lambda i: hole, range(20), dilate=2))
    for i in range(20):  # the default fill invents something close to the surroundings, not white
        assert default[i][hole].mean() < 200
        assert psnr(default[i], clip.background(i), hole) > 14
    steadiness = np.mean([np.abs(default[i].astype(int) - default[i + 1])[hole].mean() for i in range(19)])
    assert steadiness < 1.0  # nothing moves, so the fill must not flicker


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (5000,), (60, 70), (3, 40, 40)])
def test_spread_is_the_broadcast_made_real(dtype, shape):
    """fields.spread gives what a[..., None] broadcasts to, whatever the path that makes it."""
    a = (np.random.default_rng(0).random(shape) * 200).astype(dtype)
    for channels in (1, 2, 3):
        made = spread(a, channels)
        assert made.dtype == a.dtype
        assert np.array_equal(np.broadcast_to(made, a.shape + (channels,)), np.stack([a] * channels, axis=-1))
    strided = a[..., ::2]  # not contiguous
    assert np.array_equal(np.broadcast_to(spread(strided, 3), strided.shape + (3,)), np.stack([strided] * 3, axis=-1))


def test_fill_smooth_keeps_known_values_and_interpolates():
    values = np.zeros((40, 60), np.float32)
    values[:, :30], values[:, 30:] = 10.0, 30.0
    known = np.ones_like(values, bool)
    known[10:30, 20:40] = False
    out = fill_smooth(values, known)
    assert np.array_equal(out[known], values[known])
    assert 10.0 <= out[~known].min() and out[~known].max() <= 30.0
    assert out[20, 21] < out[20, 38]  # nearer the known 10s on the left, the 30s on the right


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_cells_read_a_field_known_on_a_ring_inside_the_hole(factor):
    """A field given on a ring around a hole (odd sizes included), read at the hole's pixels: a
    constant comes back unchanged and a left-right step is interpolated, two channels apart."""
    shape = (41, 63)
    hole = np.zeros(shape, bool)
    hole[12:29, 18:45] = True
    ring = dilate_mask(hole, 6) & ~hole
    known_at, want_at = np.flatnonzero(ring), np.flatnonzero(hole)
    left = (known_at % shape[1]) < 31
    values = np.stack([np.full(known_at.size, 7.0), np.where(left, 10.0, 30.0)], axis=1)
    cells = Cells(shape, factor, known_at)
    use = np.ones(known_at.size, bool)
    use[::7] = False  # some ring pixels left out (the source does not see them)
    values[~use] = 1000.0  # so what they hold must not show
    out = cells.fill(values, use, cells.points(want_at))
    assert out.shape == (want_at.size, 2) and out.dtype == np.float32
    assert np.allclose(out[:, 0], 7.0, atol=1e-4)
    step = np.zeros(shape, np.float32)
    step.flat[want_at] = out[:, 1]
    assert 10.0 - 1e-4 <= out[:, 1].min() and out[:, 1].max() <= 30.0 + 1e-4
    assert step[20, 19] < 15.0 < 25.0 < step[20, 43]  # near the 10s on the left, the 30s on the right


@pytest.mark.parametrize("interpolation", [cv2.INTER_LINEAR, cv2.INTER_NEAREST])
def test_remap_points_gives_what_a_whole_grid_remap_gives_bit_for_bit(interpolation):
    """Sources are read at scattered points laid out in rows (a map side must stay under 32767);
    the output of the clean plate stays the same only if each point reads as in a 2-D map."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    sy, sx = (rng.random((2, 50, 61)) * [[[66]], [[88]]] - 3).astype(np.float32)  # some outside
    whole = cv2.remap(image, sx, sy, interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    points = remap_points(image, sx.ravel(), sy.ravel(), interpolation)
    assert np.array_equal(points, whole.reshape(-1, 3))


def test_boxed_mask_gives_the_whole_mask_s_crops_and_bounding_boxes():
    rng = np.random.default_rng(3)
    mask = np.zeros((50, 70), bool)
    mask[10:30, 40:65] = rng.random((20, 25)) > 0.5
    boxed = BoxedMask.of(mask)
    assert boxed.any() and boxed.inside.size < mask.size
    for box in [(0, 50, 0, 70), (5, 20, 30, 69), (29, 50, 64, 70), (0, 5, 0, 5)]:
        y0, y1, x0, x1 = box
        assert np.array_equal(boxed.crop(box), mask[y0:y1, x0:x1]), box
    for margin in (0, 3, 40):
        assert boxed.bounding_box(margin) == bounding_box(mask, margin)
    assert np.array_equal(boxed.whole(), mask)
    assert np.array_equal(boxed.outside_u8(), np.where(mask, 0, 255).astype(np.uint8))
    empty = BoxedMask.of(np.zeros((8, 9), bool))
    assert not empty.any() and empty.bounding_box(2) is None and not empty.crop((0, 8, 0, 9)).any()
    assert (BoxedMask.empty((8, 9)).shape, BoxedMask.empty((8, 9)).box) == ((8, 9), None)
    assert (empty.outside_u8() == 255).all() and empty.whole().shape == (8, 9)


def test_feather_is_zero_outside_and_one_deep_inside():
    hole = np.zeros((30, 30), bool)
    hole[5:25, 5:25] = True
    alpha = feather_alpha(hole, 3)
    assert (alpha[~hole] == 0).all()
    assert alpha[15, 15] == 1.0 and 0 < alpha[5, 15] < 1


@pytest.mark.clips
def test_real_clip_completion_beats_telea(clips_dir):
    """Video completion on real footage: libby's masks punched into dog's frames (12 frames)."""
    from tools.eval_cleanplate import eval_pair

    result = eval_pair(clips_dir, "davis16-libby", "davis16-dog", 12)
    assert result["ours"]["psnr_hole"] > result["telea"]["psnr_hole"] + 0.5
    assert result["ours"]["warp_error"] < result["telea"]["warp_error"]


def test_blur_where_uncertain_keeps_agreed_pixels_and_softens_disputed_ones():
    from engine.backends.classical.inpainter.fields import blur_where_uncertain
    image = np.zeros((20, 20, 3), np.float32)
    image[:, 10:] = 100.0  # a sharp edge
    variance = np.zeros((20, 20), np.float32)
    assert np.array_equal(blur_where_uncertain(image, variance, 2.0, 12.0), image)
    variance[:10] = 1e6  # the top half is disputed
    out = blur_where_uncertain(image, variance, 2.0, 12.0)
    assert np.array_equal(out[12:], image[12:])
    assert 20 < out[2, 10, 0] < 80 and 20 < out[2, 9, 0] < 80  # the edge is softened there


def test_flow_chain_follows_content_through_a_moving_hole():
    """Chained consecutive flows carry a pixel to where its content is k frames away, in both
    directions, including pixels hidden by the hole (completed from around it)."""
    rng = np.random.default_rng(1)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (200, 260)).astype(np.uint8), (0, 0), 1.5)
    shift = np.array([2.0, 1.0])  # content moves this many pixels per frame

    def frame(k):
        x, y = (20 - k * shift).astype(int)
        gray = texture[y:y + 120, x:x + 160].copy()
        hole = np.zeros_like(gray, bool)
        hole[50:70, 60 + 3 * k:90 + 3 * k] = True  # the hole moves on its own
        return SimpleNamespace(gray=gray, unusable=BoxedMask.of(dilate_mask(hole, 2)))

    frames = {k: frame(k) for k in range(-3, 4)}
    window = SimpleNamespace(get=frames.get)
    chain = FlowChain(FlowRefiner(), reach=3)
    xs, ys = np.meshgrid(np.arange(40, 120, dtype=np.float32), np.arange(40, 80, dtype=np.float32))
    chain.start(window, 0, xs, ys)
    for k in (1, 3, -2):
        px, py = chain.positions(k)
        assert np.abs(px - xs - k * shift[0]).mean() < 1.0, k
        assert np.abs(py - ys - k * shift[1]).mean() < 1.0, k
    assert chain.positions(4) is None  # beyond reach
    assert len(chain.flows) == 5  # 3 forward, 2 backward: each pair measured once
    # the chain of the next frame, estimated at the same time, measures with its own refiner but
    # finds the pairs the first one measured
    beside = FlowChain(FlowRefiner(), reach=3, flows=chain.flows)
    beside.start(window, 1, xs, ys)
    px, _ = beside.positions(3)
    assert np.abs(px - xs - 2 * shift[0]).mean() < 1.0
    assert chain.flows.misses == 5


def _over_crop(crop, want, values):
    """A sample's per-pixel values (given at the wanted hole pixels only) laid over the crop."""
    out = np.zeros((crop.hole.size, *values.shape[1:]), values.dtype)
    out[want.at] = values
    return out.reshape(*crop.hole.shape, *values.shape[1:])


def test_source_is_used_only_where_the_ring_near_the_hole_matched():
    """Something moving on its own at one side of the hole spoils that side of a source only."""
    rng = np.random.default_rng(2)
    truth = cv2.GaussianBlur(rng.integers(0, 255, (64, 64, 3)).astype(np.uint8), (0, 0), 1.0)
    hole = np.zeros((64, 64), bool)
    hole[24:40, 16:48] = True
    image = truth.copy()
    image[hole] = (0, 255, 0)
    cur = PreparedFrame(0, image, BoxedMask.of(hole), image, BoxedMask.of(hole), BoxedMask.of(hole), np.eye(3))
    crop = Crop(cur, (0, 64, 0, 64), ring_width=8, cell_size=2)
    source = truth.copy()
    source[:, 40:] = np.clip(source[:, 40:].astype(int) + 90, 0, 255)  # right side changed
    usable = np.full((64, 64), 255, np.uint8)
    want = crop.wanted()
    found = sampler().sample(crop, source, usable, *crop.xy(want), want)
    assert found is not None  # not rejected whole
    value, valid, local = (_over_crop(crop, want, a) for a in (found.value, found.valid, found.local))
    assert valid[24:40, 16:28].all() and not valid[24:40, 44:48].any()
    assert local[30, 20] < 10 < 60 < local[30, 46]
    assert np.abs(value[24:40, 16:24] - truth[24:40, 16:24]).mean() < 8  # the far side leaks little


def test_content_the_camera_follows_is_taken_from_the_same_place_in_a_nearby_frame():
    """A subject that stays put in the frame while the background pans behind it (the camera
    follows it), hidden by a hole over its edge: the unaligned ("static") sample gives the
    subject's own pixels back, and is trusted on the subject's side of the hole, where the ring
    matched, far more than on the background's."""
    rng = np.random.default_rng(4)

    def texture(h, w):  # contrasty blobs a few pixels across
        blurred = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
        return cv2.normalize(blurred, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)

    background, subject = texture(96, 200), texture(96, 48)

    def truth(k):
        image = background[:, 8 * k:8 * k + 96].copy()  # the camera pans 8 px a frame
        image[:, :48] = subject  # the subject fills the left half and stays put
        return image

    hole = np.zeros((96, 96), bool)
    hole[32:64, 32:64] = True  # half over the subject, half over the background
    image = truth(0)
    image[hole] = (0, 255, 0)
    cur = PreparedFrame(0, image, BoxedMask.of(hole), image, BoxedMask.of(hole), BoxedMask.of(hole), np.eye(3))
    crop = Crop(cur, (0, 96, 0, 96), ring_width=8, cell_size=2)
    source = SimpleNamespace(image=truth(2), unusable=BoxedMask.empty((96, 96)))
    want = crop.wanted()
    found, = sampler().static_samples(crop, [source], want, 4)
    value, valid, local = (_over_crop(crop, want, a) for a in (found.value, found.valid, found.local))
    assert valid[36:60, 34:44].all()
    assert np.abs(value[36:60, 34:44] - truth(0)[36:60, 34:44]).mean() < 4
    # trusted (nearby ring match) on the subject's side, much less on the background's
    assert 2 * local[40:56, 34:38].mean() < local[40:56, 58:62].mean()
