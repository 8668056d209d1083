"""The matte finish (engine/matte): edge moved by grow/choke, soft alpha from the image near the
edge, steadiness in time without ghosts, feather; and how a session keeps and applies it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import EngineError
from engine.evaluation.matting import dtssd, mad
from engine.matte import MatteFinisher, MatteParams
from engine.matte.refine import edge_band, feather, hard_edge, refined_alpha
from engine.matte.temporal import EdgeSmoother

H, W = 120, 160
RED, BLUE = np.array([220, 40, 30], np.float32), np.array([30, 60, 200], np.float32)


def soft_disk(cx: float, cy: float, radius: float, ramp: float) -> np.ndarray:
    """True alpha: 1 inside `radius`, falling linearly to 0 over `ramp` px."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    d = np.hypot(xx - cx, yy - cy)
    return np.clip((radius + ramp / 2 - d) / ramp, 0.0, 1.0)


def composite(alpha: np.ndarray, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = alpha[..., None] * RED + (1 - alpha[..., None]) * BLUE + rng.normal(0, noise, (H, W, 3))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def test_grow_and_choke_move_the_edge_by_the_distance():
    disk = soft_disk(80, 60, 30, 1e-3) >= 0.5
    for grow, radius in ((5, 35), (-5, 25), (0, 30)):
        area = hard_edge(disk.astype(np.float32), grow).sum()
        assert abs(area - math.pi * radius ** 2) < 0.03 * math.pi * radius ** 2, (grow, area)


def test_params_refuse_unknown_names_and_bad_values():
    with pytest.raises(EngineError, match="no option 'soften'"):
        MatteParams.from_options("matte", {"soften": 2})
    with pytest.raises(EngineError, match="edges must be one of"):
        MatteParams.from_options("matte", {"edges": "fuzzy"})
    with pytest.raises(EngineError, match="feather"):
        MatteParams.from_options("matte", {"feather": -1})
    with pytest.raises(EngineError, match="feather must be a number, not 'x'"):
        MatteParams.from_options("matte", {"feather": "x"})


def test_refined_alpha_recovers_a_soft_edge_the_hard_matte_misses():
    truth = soft_disk(80, 60, 30, 8.0)
    image = composite(truth, noise=2.0)
    hard = truth >= 0.5
    refined = refined_alpha(image, hard, half_width=5.0, eps=1e-3)
    assert mad(refined, truth) < 0.5 * mad(hard.astype(np.float32), truth)


def test_refined_alpha_is_exactly_hard_outside_the_band():
    truth = soft_disk(80, 60, 30, 8.0)
    hard = truth >= 0.5
    refined = refined_alpha(composite(truth, noise=2.0), hard, half_width=4.0, eps=1e-3)
    outside = ~edge_band(hard, 4.0)
    assert np.array_equal(refined[outside], hard[outside].astype(np.float32))


def test_steadying_calms_an_edge_that_boils_on_a_still_shot():
    """The tracker's edge jumps ±1 px from frame to frame over a still image: steadied, the alpha
    changes less than the truth's (which does not change) allows."""
    truth = soft_disk(80, 60, 30, 6.0)
    image = composite(truth, noise=1.0)

    def run(strength: float) -> float:
        smoother, before, total = EdgeSmoother(strength), None, []
        for frame in range(12):
            hard = soft_disk(80, 60, 30 + (1 if frame % 2 else -1), 1e-3) >= 0.5
            alpha = smoother.step(frame, image, refined_alpha(image, hard, 4.0, 1e-3))
            if before is not None:
                total.append(dtssd(alpha, truth, before, truth))
            before = alpha
        return float(np.mean(total))

    assert run(0.6) < 0.6 * run(0.0)


def test_steadying_leaves_no_ghost_behind_a_moving_object():
    """Where the object was on the previous frame and is not now, steadying adds ~nothing to the
    frame's own alpha."""
    smoother, before = EdgeSmoother(0.6), None
    for frame in range(10):
        truth = soft_disk(40 + 6 * frame, 60, 20, 6.0)
        image = composite(truth, noise=1.0, seed=frame)
        own = refined_alpha(image, truth >= 0.5, 4.0, 1e-3)
        alpha = smoother.step(frame, image, own)
        if before is not None:
            left_behind = (truth == 0) & (before > 0.5)
            assert left_behind.sum() > 50 and (alpha - own)[left_behind].max() < 0.05, frame
        before = truth


def test_feather_softens_only_near_the_edge():
    hard = (soft_disk(80, 60, 30, 1e-3) >= 0.5).astype(np.float32)
    soft = feather(hard, 3.0)
    assert 0 < soft[60, 80 + 30] < 1
    assert soft[60, 80] == 1.0 and soft[5, 5] == 0.0


def test_a_hard_matte_finish_only_moves_the_edge():
    prob = soft_disk(80, 60, 30, 10.0)
    finish = MatteFinisher(MatteParams(grow=3, feather=4), "png8")
    out = finish(1, 0, prob, lambda: pytest.fail("a hard matte needs no image"))
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert np.array_equal(out.astype(bool), hard_edge(prob, 3))


@pytest.fixture()
def tracked_session(tmp_path):
    from engine import backends
    from engine.evaluation.synthetic import SyntheticClip
    from engine.session import Session
    from engine.video_io import open_video
    clip = SyntheticClip(160, 96, 6)
    frames = clip.write_frames(tmp_path / "frames")
    video = open_video(frames)
    session = Session.create(tmp_path / "s", str(frames), len(video))
    obj = session.add_object("ball")
    session.set_keyframe(obj.id, 0, clip.mask(0), source="mask")
    yield session, video, backends.create("tracker", "classical")
    video.close()


def _track(session, video, tracker, **kw) -> int:
    from engine import workflow
    return workflow.track(session, video, tracker, workflow.TrackRequest(direction="forward", **kw))["written"]


def test_a_changed_finish_redoes_the_frames_and_the_same_one_does_not(tracked_session):
    from engine.session import Session
    session, video, tracker = tracked_session
    assert _track(session, video, tracker, matte_format="png16") == 6
    assert _track(session, video, tracker) == 0  # the session keeps format and finish
    assert _track(session, video, tracker, matte={"feather": 2.0}) == 6
    assert Session.load(session.root).matte_options == {"feather": 2.0}
    assert _track(session, video, tracker, matte={"feather": 2.0}) == 0


def test_soft_options_on_a_hard_matte_are_refused_before_anything_changes(tracked_session):
    from engine.session import Session
    session, video, tracker = tracked_session
    with pytest.raises(EngineError, match="feather apply to soft mattes only"):
        _track(session, video, tracker, matte={"feather": 2.0})
    assert Session.load(session.root).matte_options == {} and not session.result_files(session.objects[1])


def test_soft_mattes_have_soft_edges_and_hard_ones_none(tracked_session):
    from engine.fileio import read_coverage
    session, video, tracker = tracked_session
    _track(session, video, tracker)
    hard = read_coverage(session.result_files(session.objects[1])[3])
    _track(session, video, tracker, matte_format="png16")
    soft = read_coverage(session.result_files(session.objects[1])[3])
    fractional = lambda a: int(((a > 0.02) & (a < 0.98)).sum())  # noqa: E731
    assert fractional(hard) == 0 and fractional(soft) > 50
