"""Which frames each keyframe governs: the mapping re-tracking and resume depend on."""

from __future__ import annotations

import pytest

from engine.tracking import blend_weights, plan_segments


def spans(segments):
    return [(s.left[0] if s.left else None, s.right[0] if s.right else None, s.frames) for s in segments]


def test_single_keyframe_both_directions():
    assert spans(plan_segments({5: 1}, 2, 8)) == [
        (5, 5, [5]), (None, 5, [4, 3, 2]), (5, None, [6, 7, 8])]


def test_two_keyframes_blend_between():
    got = spans(plan_segments({2: 1, 6: 2}, 0, 8))
    assert (2, 6, [3, 4, 5]) in got and (None, 2, [1, 0]) in got and (6, None, [7, 8]) in got


def test_forward_and_backward_only():
    assert spans(plan_segments({2: 1, 6: 2}, 0, 8, "forward")) == [
        (2, 2, [2]), (6, 6, [6]), (2, None, [3, 4, 5]), (6, None, [7, 8])]
    assert spans(plan_segments({2: 1, 6: 2}, 0, 8, "backward")) == [
        (2, 2, [2]), (6, 6, [6]), (None, 2, [1, 0]), (None, 6, [5, 4, 3])]


def test_adjacent_keyframes_and_keyframes_outside_range():
    assert spans(plan_segments({3: 1, 4: 1}, 3, 4)) == [(3, 3, [3]), (4, 4, [4])]
    assert plan_segments({20: 1}, 0, 10) == []


def test_adding_a_keyframe_changes_only_the_segment_it_splits():
    before = {tuple(s.frames): s.signature for s in plan_segments({0: 1, 10: 2}, 0, 20)}
    after = {tuple(s.frames): s.signature for s in plan_segments({0: 1, 5: 3, 10: 2}, 0, 20)}
    unchanged = {f for frames, sig in after.items() if before.get(frames) == sig for f in frames}
    assert unchanged == {0, 10} | set(range(11, 21))


def test_bad_direction():
    with pytest.raises(ValueError):
        plan_segments({0: 1}, 0, 5, "sideways")


def test_blend_weights_favour_the_nearer_and_surer_keyframe():
    assert blend_weights(1, 0, 10, 0.5, 0.5)[0] > 0.85
    assert blend_weights(9, 0, 10, 0.5, 0.5)[1] > 0.85
    w_f, w_b = blend_weights(5, 0, 10, 0.9, 0.1)
    assert w_f > w_b and w_f + w_b == pytest.approx(1)


def test_progress_moves_during_the_forward_pass_between_two_keyframes(tmp_path, synthetic_clip, synthetic_movie):
    """Between two keyframes the forward pass goes to disk before any matte is written: progress
    must count it (it used to sit at 2/N until the backward pass began)."""
    from engine import backends, workflow
    from engine.session import Session
    from engine.video_io import open_video

    with open_video(synthetic_movie) as video:
        n = len(video)
        session = Session.create(tmp_path / "s", str(synthetic_movie), n)
        obj = session.add_object("blob")
        for f in (0, n - 1):
            workflow.import_mask(session, video, obj.id, workflow.ImportMaskRequest(f, synthetic_clip.mask(f)))
        seen: list[tuple[int, int, int]] = []  # (done, total, mattes on disk)

        def progress(done, total, frame):
            seen.append((done, total, len(list(session.mask_dir(obj).glob("*.png")))))

        workflow.track(session, video, backends.create("tracker", "classical"), workflow.TrackRequest(), progress=progress)
    total = seen[-1][1]
    assert total == 2 + 2 * (n - 2), "each in-between frame counts twice: forward pass and blend"
    assert seen[-1][0] == total
    before_any_blend = [done for done, _, on_disk in seen if on_disk <= 2]
    assert max(before_any_blend) >= 2 + (n - 2), "the forward pass must move the progress"
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:])), "progress never goes back"
