"""Video access: exact frame counts, frame-accurate random access, sequences, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import VideoError
from engine.fileio import atomic_write_png
from engine.video_io import open_video


def test_movie_metadata_and_random_access_match_sequential(synthetic_movie):
    with open_video(synthetic_movie) as video:
        assert (video.width, video.height, len(video)) == (320, 180, 24)
        sequential = [video.read(i) for i in range(len(video))]
    with open_video(synthetic_movie) as video:
        for i in (17, 3, 23, 0, 12, 11):  # jumps back and forth across keyframes (GOP 12)
            assert np.array_equal(video.read(i), sequential[i]), i


def test_decoded_frames_are_close_to_the_source(synthetic_movie, synthetic_clip):
    with open_video(synthetic_movie) as video:
        for i in (0, 13):
            assert np.abs(video.read(i).astype(int) - synthetic_clip.frame(i)).mean() < 4


def test_lossless_movie_is_exact(tmp_path, synthetic_clip):
    path = synthetic_clip.write_movie(tmp_path / "clip.mkv", codec="ffv1")
    with open_video(path) as video:
        assert np.array_equal(video.read(7), synthetic_clip.frame(7))


def test_image_sequence_folder_and_printf_pattern(tmp_path, synthetic_clip):
    for i in range(5):
        atomic_write_png(tmp_path / f"shot.{1001 + i:04d}.png", synthetic_clip.frame(i))
    for path in (tmp_path, tmp_path / "shot.%04d.png"):
        with open_video(path, fps=25) as video:
            assert len(video) == 5 and video.info.first_number == 1001 and video.fps == 25
            assert np.array_equal(video.read(3), synthetic_clip.frame(3))


def test_out_of_range_and_bad_files(tmp_path, synthetic_movie):
    with open_video(synthetic_movie) as video:
        with pytest.raises(VideoError, match="out of range"):
            video.read(24)
    (tmp_path / "bad.mov").write_bytes(b"not a movie at all" * 100)
    with pytest.raises(VideoError, match="cannot open video"):
        open_video(tmp_path / "bad.mov")
    with pytest.raises(VideoError, match="does not exist"):
        open_video(tmp_path / "missing.mp4")
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "00000.png").write_bytes(b"broken")
    with pytest.raises(VideoError, match="cannot read image"):
        open_video(tmp_path / "frames")
