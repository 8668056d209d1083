"""The clean plate with its frames prepared ahead and written behind on threads of their own
(workflow.remove_masks, engine/pipeline.py): each source frame decoded once, files written and
reported in order, a failure on either thread raised as itself, and no thread left running after
an error or a cancel."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

from engine import outputs, workflow
from engine.backends.classical.inpainter import ClassicalInpainter
from engine.errors import Cancelled, EngineError
from engine.evaluation.synthetic import SyntheticClip
from engine.fileio import atomic_write_png, mask_to_png_array, read_jsonl
from engine.layout import Layout
from engine.progress import CancelToken
from engine.video_io import VideoInfo, VideoReader

FRAMES = 16


class CountingVideo(VideoReader):
    """A generated clip that counts how often each frame is decoded."""

    def __init__(self, clip: SyntheticClip) -> None:
        self._init_common()
        self.clip, self.decoded = clip, Counter()
        self.info = VideoInfo(path="<generated>", kind="movie", width=clip.width, height=clip.height, fps=24.0,
                              frame_count=clip.frames, first_number=0, codec="generated")

    def _decode(self, index: int) -> np.ndarray:
        self.decoded[index] += 1
        return self.clip.frame(index)


@pytest.fixture()
def clip():
    return SyntheticClip(96, 64, FRAMES, seed=3)


def _masks(clip, tmp_path) -> workflow.MaskFolders:
    files = {}
    for i in range(clip.frames):
        files[i] = tmp_path / "masks" / f"{i:05d}.png"
        atomic_write_png(files[i], mask_to_png_array(clip.mask(i)))
    return workflow.MaskFolders([files], (clip.height, clip.width))


def _remove(clip, tmp_path, video=None, masks=None, **kw):
    out = Layout(tmp_path / "out")
    inpainter = ClassicalInpainter.with_options({"radius": 10})  # the window reads 10 frames ahead
    result = workflow.remove_masks(video or CountingVideo(clip), inpainter, masks or _masks(clip, tmp_path), out,
                                   workflow.RemoveRequest(start=0, end=clip.frames - 1), **kw)
    return out, result


def _our_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vta-")]


def test_each_frame_decoded_once_written_and_reported_in_order(clip, tmp_path):
    video = CountingVideo(clip)
    reports = []
    out, result = _remove(clip, tmp_path, video, progress=lambda done, total, frame: reports.append((done, frame)))
    assert result["frames"] == FRAMES
    # the plate is composed with the frame the inpainter read, not a second decode of it
    assert video.decoded == Counter({i: 1 for i in range(FRAMES)})
    assert reports == [(0, None)] + [(i + 1, i) for i in range(FRAMES)]
    assert [r["frame"] for r in read_jsonl(out.clean_log)] == list(range(FRAMES))
    assert all(out.clean_path(i, ".png").exists() for i in range(FRAMES))
    assert not _our_threads()


def test_a_failed_write_is_raised_as_itself_and_stops_the_run(clip, tmp_path, monkeypatch):
    error = OSError(28, "No space left on device")
    write_plate = outputs.write_plate

    def failing(path, *args, **kw):
        if path.name.startswith("00005"):
            raise error
        write_plate(path, *args, **kw)

    monkeypatch.setattr(outputs, "write_plate", failing)
    with pytest.raises(OSError) as caught:
        _remove(clip, tmp_path)
    assert caught.value is error
    out = Layout(tmp_path / "out")
    assert [r["frame"] for r in read_jsonl(out.clean_log)] == [0, 1, 2, 3, 4]  # nothing after the failure
    assert not _our_threads()


def test_a_frame_that_cannot_be_prepared_is_raised_as_itself(clip, tmp_path):
    class BrokenMasks(workflow.MaskFolders):
        def __call__(self, frame):
            if frame == 12:
                raise EngineError("mask of frame 12 is unreadable")
            return super().__call__(frame)

    good = _masks(clip, tmp_path)
    with pytest.raises(EngineError, match="mask of frame 12 is unreadable"):
        _remove(clip, tmp_path, masks=BrokenMasks(good.files, good.shape))
    assert not _our_threads()


def test_cancel_stops_both_threads_and_keeps_what_was_logged(clip, tmp_path):
    cancel = CancelToken()

    def progress(done, total, frame):
        if done == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        _remove(clip, tmp_path, cancel=cancel, progress=progress)
    assert not _our_threads()
    out = Layout(tmp_path / "out")
    logged = [r["frame"] for r in read_jsonl(out.clean_log)]
    assert logged[:3] == [0, 1, 2] and len(logged) < FRAMES
    assert all(out.clean_path(i, ".png").exists() for i in logged)
