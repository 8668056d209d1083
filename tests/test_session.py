"""The session persists everything the artist made, at once, and reloads it."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineError, NotFound
from engine.session import Click, Session


def mask(h=20, w=30):
    m = np.zeros((h, w), bool)
    m[5:10, 5:15] = True
    return m


def test_objects_keyframes_and_clicks_survive_reload(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50, 10, 40)
    a = s.add_object("car")
    b = s.add_object()
    s.set_keyframe(a.id, 12, mask(), [Click(7, 7, True), Click(1, 1, False)])
    s.rename_object(b.id, "dog", color=(1, 2, 3))
    again = Session.load(tmp_path)
    assert (again.start, again.end) == (10, 40)
    assert [o.name for o in again.objects.values()] == ["car", "dog"]
    assert again.get_object("dog").color == (1, 2, 3)
    assert again.clicks("car", 12) == [Click(7, 7, True), Click(1, 1, False)]
    assert np.array_equal(again.keyframe_mask("car", 12), mask())


def test_revision_bumps_on_every_keyframe_change(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    o = s.add_object("x")
    r1 = s.set_keyframe(o.id, 3, mask()).rev
    r2 = s.set_keyframe(o.id, 3, mask()).rev
    assert r2 > r1
    s.remove_keyframe(o.id, 3)
    assert s.rev > r2 and not o.keyframes


def test_invalid_edits_raise_and_change_nothing(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    o = s.add_object("car")
    with pytest.raises(EngineError, match="already exists"):
        s.add_object("car")
    with pytest.raises(EngineError, match="empty"):
        s.set_keyframe(o.id, 3, np.zeros((4, 4), bool))
    with pytest.raises(EngineError, match="out of range"):
        s.set_keyframe(o.id, 50, mask())
    with pytest.raises(NotFound, match="unknown object"):
        s.get_object("plane")
    with pytest.raises(EngineError, match="after"):
        s.set_range(30, 20)
    assert Session.load(tmp_path).to_dict() == s.to_dict()


def test_rename_moves_results_and_remove_deletes_them(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    o = s.add_object("car")
    s.mask_dir(o).mkdir(parents=True)
    (s.mask_dir(o) / "00001.png").write_bytes(b"x")
    s.rename_object(o.id, "red car")
    assert (tmp_path / "masks" / "red_car" / "00001.png").exists()
    s.remove_object("red car")
    assert not (tmp_path / "masks" / "red_car").exists() and not s.objects
