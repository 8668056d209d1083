"""A real engine process on loopback, driven through the add-on's standard-library client:
open, click, undo, import a mask, track with progress events, cancel, resume, remove, download."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.fileio import encode_png, mask_to_png_array
from engine.evaluation.synthetic import SyntheticClip

from tests.conftest_server import EngineProcess, load_client

FRAMES = 120


@pytest.fixture(scope="module")
def clip():
    return SyntheticClip(320, 180, FRAMES, seed=3)


@pytest.fixture(scope="module")
def engine(tmp_path_factory, clip):
    base = tmp_path_factory.mktemp("engine")
    proc = EngineProcess(base)
    movie = clip.write_movie(proc.home / "clips" / "shot.mp4")
    proc.start()
    proc.movie = movie
    yield proc
    proc.stop()


@pytest.fixture()
def client(engine):
    return engine.client()


def gt_png(clip, frame: int) -> bytes:
    return encode_png(mask_to_png_array(clip.mask(frame)))


def test_health_reports_version_protocol_backends(client):
    import engine as core

    info = client.connect()
    assert info["version"] == core.__version__ and info["protocol"] == core.PROTOCOL
    assert set(info["backends"]) == {"segmenter", "tracker", "inpainter"}
    assert "device" in info and "unavailable" in info


def test_open_click_undo_clear(client, engine, clip):
    s = client.open_session(str(engine.movie), reuse=False)
    assert s["clip"]["width"] == 320 and s["frame_count"] == FRAMES
    obj = client.add_object(s["id"], "blob")
    x, y = clip.click(5)
    first = client.click(s["id"], obj["id"], 5, x, y)
    mask = client.mask_of(first)
    assert mask.shape == (180, 320) and mask.any()
    assert 0 <= first["confidence"] <= 1 and len(first["keyframe"]["clicks"]) == 1
    second = client.click(s["id"], obj["id"], 5, 2, 2, positive=False, format="both")
    png = cv2.imdecode(np.frombuffer(base64.b64decode(second["png_base64"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert png.shape == (180, 320)
    assert np.array_equal(png > 127, client.mask_of(second))
    assert [k["frame"] for k in client.keyframes(s["id"])] == [5]
    undone = client.undo_click(s["id"], obj["id"], 5)
    assert len(undone["keyframe"]["clicks"]) == 1
    emptied = client.undo_click(s["id"], obj["id"], 5)
    assert emptied["keyframe"] is None and client.keyframes(s["id"]) == []
    client.click(s["id"], obj["id"], 5, x, y)
    client.clear_keyframe(s["id"], obj["id"], 5)
    assert client.keyframes(s["id"]) == []
    with pytest.raises(load_client().EngineHTTPError) as err:
        client.undo_click(s["id"], obj["id"], 5)
    assert err.value.status == 404 and "no clicks" in str(err.value)


def test_objects_rename_recolour_remove(client, engine):
    s = client.open_session(str(engine.movie), reuse=False)
    a = client.add_object(s["id"], "car")
    b = client.add_object(s["id"], color=[1, 2, 3])
    assert b["color"] == [1, 2, 3]
    renamed = client.update_object(s["id"], a["id"], name="red car", color=[9, 9, 9])
    assert renamed["name"] == "red car" and renamed["color"] == [9, 9, 9]
    with pytest.raises(load_client().EngineHTTPError) as err:
        client.update_object(s["id"], b["id"], name="red car")
    assert err.value.status == 400 and "already exists" in str(err.value)
    client.remove_object(s["id"], a["id"])
    assert [o["id"] for o in client.session(s["id"])["objects"]] == [b["id"]]


def test_import_mask_preview_and_errors(client, engine, clip):
    s = client.open_session(str(engine.movie), reuse=False)
    obj = client.add_object(s["id"], "blob")
    key = client.import_mask(s["id"], obj["id"], 10, gt_png(clip, 10))
    assert key["source"] == "mask" and key["frame"] == 10
    back = cv2.imdecode(np.frombuffer(client.keyframe_mask(s["id"], obj["id"], 10), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(back > 127, clip.mask(10))
    jpeg = client.preview(s["id"], 3, max_size=160)
    assert jpeg[:2] == b"\xff\xd8" and cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1).shape == (90, 160, 3)
    Err = load_client().EngineHTTPError
    for call, status, words in [
        (lambda: client.session("nope"), 404, "no session"),
        (lambda: client.click(s["id"], obj["id"], FRAMES + 5, 10, 10), 400, "out of range"),
        (lambda: client.click(s["id"], obj["id"], 0, 400, 10), 400, "outside"),
        (lambda: client.click(s["id"], 99, 0, 10, 10), 404, "unknown object"),
        (lambda: client.import_mask(s["id"], obj["id"], 0, b"not a png"), 400, "not a readable"),
        (lambda: client.import_mask(s["id"], obj["id"], 0, encode_png(np.zeros((9, 9), np.uint8) + 255)), 400, "9x9"),
        (lambda: client.track(s["id"], direction="sideways"), 422, "direction"),
        (lambda: client.open_session("relative/clip.mp4"), 400, "absolute"),
        (lambda: client.open_session(str(engine.home / "missing.mp4")), 400, "does not exist"),
    ]:
        with pytest.raises(Err) as err:
            call()
        assert err.value.status == status and words in str(err.value), (words, err.value.status, str(err.value))


def _follow(client, job_id, stop_after=None, on_stop=None):
    events = []
    for event in client.events(job_id):
        events.append(event)
        if stop_after and sum(e["event"] == "frame_done" for e in events) == stop_after:
            on_stop()
    return events


def test_track_cancel_resume_remove_download(client, engine, clip, tmp_path):
    s = client.open_session(str(engine.movie), reuse=False)
    obj = client.add_object(s["id"], "blob")
    client.import_mask(s["id"], obj["id"], 0, gt_png(clip, 0))
    job = client.track(s["id"], direction="forward")
    events = _follow(client, job["id"], stop_after=5, on_stop=lambda: client.cancel(job["id"]))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "queued" and "progress" in kinds and kinds[-1] == "cancelled"
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert client.job(job["id"])["status"] == "cancelled"
    finished = client.results(s["id"])["objects"][0]["frames"]
    assert 5 <= len(finished) < FRAMES
    assert finished == list(range(len(finished)))  # consistent: a prefix, every file complete
    masks_dir = engine.state / "sessions" / s["id"] / "masks" / "blob"
    stamps = {f: (masks_dir / f"{f:05d}.png").stat().st_mtime_ns for f in finished}

    # a click while the job runs still answers (request thread, no global lock)
    resumed = client.resume(job["id"])
    assert resumed["status"] in ("queued", "running") and resumed["id"] == job["id"]
    x, y = clip.click(60)
    t0 = time.perf_counter()
    reply = client.click(s["id"], obj["id"], 60, x, y, format="none")
    assert reply["confidence"] is not None and time.perf_counter() - t0 < 5
    final = client.wait(job["id"])
    assert final["status"] == "done", final
    assert all((masks_dir / f"{f:05d}.png").stat().st_mtime_ns == t for f, t in stamps.items())
    conf = client.confidence(s["id"], obj["id"], low=0.99)
    assert set(conf["frames"]) == set(range(FRAMES)) and all(0 <= c <= 1 for c in conf["frames"].values())

    # remove, then per-frame and archive downloads
    rjob = client.remove(s["id"], dilate=4, resize_ratio=0.5, start=0, end=29)
    done = [e for e in client.events(rjob["id"]) if e["event"] == "frame_done"]
    assert len(done) == 30 and client.job(rjob["id"])["status"] == "done"
    results = client.results(s["id"])
    assert results["clean"] == list(range(30))
    # where the files are, for a client on the same disk: folders and file-name patterns
    blob = results["objects"][0]
    assert blob["folder"] == "blob" and (Path(blob["dir"]) / blob["pattern"].format(frame=7)).is_file()
    assert (Path(results["clean_dir"]) / results["clean_pattern"].format(frame=7)).is_file()
    view = client.session(s["id"])["objects"][0]
    assert (view["dir"], view["pattern"]) == (blob["dir"], blob["pattern"])
    plate = client.download_clean(s["id"], 7, str(tmp_path / "clean7.png"))
    assert cv2.imread(plate).shape == (180, 320, 3)
    matte = client.download_mask(s["id"], obj["id"], 7, str(tmp_path / "m7.png"))
    assert cv2.imread(matte, cv2.IMREAD_UNCHANGED).shape == (180, 320)
    files = client.download_archive(s["id"], str(tmp_path / "all"), start=0, end=59)
    assert len([f for f in files if "/masks/blob/" in f]) == 60 and len([f for f in files if "/clean/" in f]) == 30
    assert not list((tmp_path / "all").glob(".*"))  # the temporary zip is gone


def test_upload_resumes_and_opens(client, engine, tmp_path):
    data = engine.movie.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    raw = client._request("POST", "/v1/uploads", {"sha256": sha, "size": len(data), "filename": "shot.mp4"})
    assert raw["received"] == 0
    client._request("PUT", f"/v1/uploads/{sha}", query={"offset": 0}, raw=data[:1000],
                    content_type="application/octet-stream")  # then the connection "drops"
    with pytest.raises(load_client().EngineHTTPError) as err:  # a chunk at the wrong offset is refused
        client._request("PUT", f"/v1/uploads/{sha}", query={"offset": 0}, raw=data[:10],
                        content_type="application/octet-stream")
    assert err.value.status == 409
    seen = []
    assert client.upload_clip(str(engine.movie), chunk_size=64 * 1024, progress=lambda r, n: seen.append(r)) == sha
    assert seen[0] > 1000 and seen[-1] == len(data)
    s = client.open_session(upload=sha)
    assert s["frame_count"] == FRAMES and s["clip"]["width"] == 320


def test_concurrent_clicks_during_job(client, engine, clip):
    s = client.open_session(str(engine.movie), reuse=False)
    obj = client.add_object(s["id"], "blob")
    client.import_mask(s["id"], obj["id"], 0, gt_png(clip, 0))
    job = client.track(s["id"], direction="forward")
    errors = []

    def clicker(frame):
        c = engine.client()
        try:
            for _ in range(3):
                c.click(s["id"], obj["id"], frame, *clip.click(frame), format="rle")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=clicker, args=(f,)) for f in (20, 40, 80, 100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert client.wait(job["id"])["status"] == "done"


def test_track_with_a_soft_matte_finish_and_refusals(client, engine, clip):
    """The track body's matte_format and matte reach the session; what a hard matte cannot take, an
    unknown setting and a value out of range are refused with the reason, before any job runs."""
    errors = load_client().EngineHTTPError
    s = client.open_session(str(engine.movie), reuse=False)
    obj = client.add_object(s["id"], "blob")
    client.import_mask(s["id"], obj["id"], 0, gt_png(clip, 0))
    for body, reason in (({"matte": {"feather": 2}}, "soft mattes only"),
                         ({"matte_format": "png16", "matte": {"soften": 1}}, "no option 'soften'"),
                         ({"matte_format": "png16", "matte": {"temporal": 1.5}}, "temporal must be")):
        with pytest.raises(errors, match=reason):
            client.track(s["id"], start=0, end=5, direction="forward", **body)
    assert client.jobs(s["id"]) == []
    job = client.track(s["id"], start=0, end=5, direction="forward", matte_format="png16",
                       matte={"feather": 1.5, "grow": -1})
    assert client.wait(job["id"])["status"] == "done"
    view = client.session(s["id"])
    assert (view["matte_format"], view["matte"]) == ("png16", {"feather": 1.5, "grow": -1})
    files = client.results(s["id"])["objects"][0]
    matte = cv2.imread(str(Path(files["dir"]) / files["pattern"].format(frame=3)), cv2.IMREAD_UNCHANGED)
    assert matte.dtype == np.uint16 and ((matte > 0) & (matte < 65535)).sum() > 50
