"""The classical tracker's guards on generated clips with exact ground truth: thin parts, an object
behind a fence or a pole, the keyframe shape carried along, a piece of the matte left on the
background (docs/TRACKING.md)."""

from __future__ import annotations

import cv2
import numpy as np

from engine.backends.classical.tracker import ClassicalTracker, TrackerParams
from engine.backends.classical.tracker.appearance import ColourMap, ColourModel, colour_index
from engine.backends.classical.tracker.memory import pixels
from engine.evaluation.metrics import jaccard
from engine.evaluation.synthetic import SyntheticClip

from .array_video import ArrayVideo


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


POLE_FRAMES = 44
CLAY = (slice(80, 110), slice(None))  # rows just under the object's path


def behind_a_pole(tint, pole_width: int, clay: bool = False):
    """A textured orange 30-px square moving right 3 px a frame over smoothed noise tinted `tint`
    (192×128), passing behind a static textured pole `pole_width` px wide from x = 84; with `clay`,
    a strip of the object's own tone (CLAY) under its path. (video, mask of frame i: its visible part)"""
    w, h = 192, 128
    rng = np.random.default_rng(3)
    tone = np.array([200, 90, 60])
    background = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 3)
    background = (0.5 * background + 0.5 * np.array(tint)).astype(np.uint8)
    if clay:
        background[CLAY] = (0.4 * rng.integers(0, 255, (30, w, 3)) + 0.6 * tone).astype(np.uint8)
    body = (0.4 * rng.integers(0, 255, (30, 30, 3)) + 0.6 * tone).astype(np.uint8)
    pole = (slice(None), slice(84, 84 + pole_width))
    pole_texture = cv2.GaussianBlur(rng.integers(40, 90, (h, pole_width, 3)).astype(np.uint8), (0, 0), 1)

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

    return ArrayVideo(frame, POLE_FRAMES, w, h), mask


def pole_mattes(video, mask, **params) -> dict[int, np.ndarray]:
    """The classical tracker's mattes (bool) of frames 1.. from the true mask of frame 0."""
    tracker = ClassicalTracker(TrackerParams(**params))
    return {i: p[1] >= 0.5 for i, p, _ in tracker.propagate(video, 0, {1: mask(0)}, range(1, POLE_FRAMES))}


def test_matte_does_not_stick_to_the_background_after_passing_behind_a_pole():
    """An object passes behind a static pole wider than itself, over a background tinted like it:
    without the stuck guard (guard.py) and the likeness re-search (object_track.py) the matte stays
    at the pole's edge on the background (J 0 on the last frames, 44-frame clip); with either, the
    object is found again where it emerges."""
    video, mask = behind_a_pole(tint=(150, 110, 90), pole_width=34)
    n = POLE_FRAMES

    def run(**params):
        out = pole_mattes(video, mask, **params)
        return out[n - 1], float(np.mean([jaccard(out[i], mask(i)) for i in range(n - 10, n)]))

    # the stuck guard alone, with several seeds of the graph cut's k-means start: the matte reaches the
    # pole's edge as a sliver of different widths, and the search must not depend on that width (recover.py)
    for seed in (1234, 2, 4, 6):
        last, j = run(seed=seed, likeness_search=0)
        assert j > 0.5, seed
        assert (last & mask(n - 1)).sum() > 0.6 * last.sum()  # most of the matte is on the object
    assert run()[1] > 0.5  # everything on, as shipped
    # the likeness re-search alone finds it too. (Measured without the remembered background: with it
    # the sliver stops 3 px further from the pole, and the object comes out just beyond the re-search's
    # window, one box around the sliver counted as the object's size; the stuck guard still finds it.)
    assert run(stuck_frames=0, background_gain=0)[1] > 0.5
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


def test_a_look_alike_background_seen_before_the_object_came_stays_out_of_the_matte():
    """An orange object passes behind a pole just above a strip of orange clay that was in view
    from the first frame: the colour model cannot tell the clay from the object, and without the
    remembered background (background.py) the matte spreads over the clay while the object is
    half hidden and stays there; with it, the clay stays out."""
    video, mask = behind_a_pole(tint=(120, 140, 160), pole_width=20, clay=True)
    n = POLE_FRAMES

    def run(**params):
        out = pole_mattes(video, mask, **params)
        on_clay = float(np.mean([out[i][CLAY].sum() for i in range(1, n)]))  # matte pixels, mean per frame
        return float(np.mean([jaccard(out[i], mask(i)) for i in range(1, n)])), on_clay

    area = mask(0).sum()
    j, on_clay = run()
    assert j > 0.75 and on_clay < 0.2 * area, (j, on_clay)  # 0.87, 40 px (one frame of 1443 while hidden)
    j_off, on_clay_off = run(background_gain=0)
    assert j_off < 0.45 and on_clay_off > area, (j_off, on_clay_off)  # the leak it guards against: 0.36, 1400 px
