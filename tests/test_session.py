"""The session persists everything the artist made, at once, and reloads it; it alone names the
files of a session folder (object folders, keyframes, logs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.errors import EngineError, NotFound
from engine.session import Click, Session, folder_slug, object_folder


def mask(h=20, w=30):
    m = np.zeros((h, w), bool)
    m[5:10, 5:15] = True
    return m


def test_objects_keyframes_and_clicks_survive_reload(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50, 10, 40)
    a = s.add_object("car")
    b = s.add_object()
    s.set_keyframe(a.id, 12, mask(), [Click(7, 7, True), Click(1, 1, False)], confidence=0.62)
    s.rename_object(b.id, "dog", color=(1, 2, 3))
    again = Session.load(tmp_path)
    assert (again.start, again.end) == (10, 40)
    assert [o.name for o in again.objects.values()] == ["car", "dog"]
    assert again.get_object("dog", by_name=True).color == (1, 2, 3)
    assert again.clicks(a.id, 12) == [Click(7, 7, True), Click(1, 1, False)]
    assert again.objects[a.id].keyframes[12].confidence == 0.62
    assert np.array_equal(again.keyframe_mask(a.id, 12), mask())


def test_keyframe_mask_is_stored_as_a_1bit_png_that_reads_back_the_same(tmp_path):
    """Keyframes are saved on every click: a 1-bit PNG (bit depth byte 25 of the IHDR chunk is 1)
    encodes many times faster than an 8-bit one and every reader expands it to 0/255."""
    s = Session.create(tmp_path, "clip.mp4", 50)
    obj = s.add_object("car")
    mask = np.zeros((48, 64), bool)
    mask[10:30, 5:40] = True
    mask[12, 7] = False
    s.set_keyframe(obj.id, 3, mask, [Click(20, 20, True)])
    data = s.keyframe_path(obj, 3).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[24] == 1
    assert np.array_equal(s.keyframe_mask(obj.id, 3), mask)


def test_revision_bumps_on_a_change_and_not_on_the_same_keyframe_again(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    o = s.add_object("x")
    clicks = [Click(7, 7, True)]
    r1 = s.set_keyframe(o.id, 3, mask(), clicks).rev
    assert s.set_keyframe(o.id, 3, mask(), list(clicks)).rev == r1  # identical: nothing to redo
    other = mask()
    other[0, 0] = True
    r2 = s.set_keyframe(o.id, 3, other, clicks).rev
    r3 = s.set_keyframe(o.id, 3, other, clicks + [Click(1, 1, False)]).rev
    r4 = s.set_keyframe(o.id, 3, other, [], source="mask").rev
    assert r1 < r2 < r3 < r4
    s.remove_keyframe(o.id, 3)
    assert s.rev > r4 and not o.keyframes


def test_invalid_edits_raise_and_change_nothing(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    o = s.add_object("car")
    with pytest.raises(EngineError, match="already exists"):
        s.add_object("car")
    with pytest.raises(EngineError, match="blank"):
        s.add_object("   ")
    with pytest.raises(EngineError, match="empty"):
        s.set_keyframe(o.id, 3, np.zeros((4, 4), bool))
    with pytest.raises(EngineError, match="out of range"):
        s.set_keyframe(o.id, 50, mask())
    with pytest.raises(NotFound, match="unknown object name"):
        s.get_object("plane", by_name=True)
    with pytest.raises(EngineError, match="after"):
        s.set_range(30, 20)
    assert Session.load(tmp_path).to_dict() == s.to_dict()


def test_object_refs_are_ids_and_names_only_when_asked(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    a = s.add_object("2")  # a name that looks like an id
    b = s.add_object("dog")
    assert s.get_object(2) is b and s.get_object("2") is b  # an id, as int or as in a URL
    assert s.get_object("2", by_name=True) is a
    with pytest.raises(NotFound, match="unknown object id"):
        s.get_object("dog")


def test_names_kept_as_typed_folders_safe_unique_and_stored(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    names = ["犬", "猫", "café", "boom mic/left", "boom_mic_left", "Car", "car"]
    objs = [s.add_object(n) for n in names]
    assert [o.name for o in objs] == names
    folders = [o.folder for o in objs]
    assert len({f.casefold() for f in folders}) == len(folders)  # unique, even on case-blind disks
    assert folders[2] == "cafe" and folders[3] == "boom_mic_left" and folders[5] == "Car"
    assert all(f.isascii() and "/" not in f and f not in ("", ".", "..") for f in folders)
    stored = json.loads((tmp_path / "session.json").read_text())
    assert {o["name"]: o["folder"] for o in stored["objects"]} == dict(zip(names, folders))
    assert [o.folder for o in Session.load(tmp_path).objects.values()] == folders


def test_folder_name_is_a_pure_stable_mapping():
    assert folder_slug("  Ünïcode näme ") == "Unicode_name"
    assert folder_slug("犬") == ""
    assert object_folder("犬", set()) == object_folder("犬", set())  # stable across sessions
    assert object_folder("犬", set()) != object_folder("猫", set())
    assert object_folder("car", {"CAR"}) != "car"


def test_sessions_written_before_folders_keep_their_folder(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    s.add_object("red car")
    data = json.loads((tmp_path / "session.json").read_text())
    del data["objects"][0]["folder"]
    (tmp_path / "session.json").write_text(json.dumps(data))
    assert Session.load(tmp_path).objects[1].folder == "red_car"


def test_rename_moves_results_and_remove_deletes_them(tmp_path):
    s = Session.create(tmp_path, "clip.mp4", 50)
    o = s.add_object("car")
    s.mask_dir(o).mkdir(parents=True)
    (s.mask_dir(o) / "00001.png").write_bytes(b"x")
    s.rename_object(o.id, "red car")
    assert (tmp_path / "masks" / "red_car" / "00001.png").exists()
    s.remove_object(o.id)
    assert not (tmp_path / "masks" / "red_car").exists() and not s.objects


def test_track_log_compacts_to_one_current_record_per_frame(tmp_path):
    from engine.fileio import append_jsonl, read_jsonl

    s = Session.create(tmp_path, "clip.mp4", 50)
    o = s.add_object("car")
    for conf in (0.1, 0.2):
        for f in (3, 1, 2):
            append_jsonl(s.track_log_path(o), {"frame": f, "confidence": conf + f / 100, "sig": []})
    s.compact_track_log(o.id)
    assert read_jsonl(s.track_log_path(o)) == [{"frame": f, "confidence": 0.2 + f / 100, "sig": []} for f in (1, 2, 3)]
