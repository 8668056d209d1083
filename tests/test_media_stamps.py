"""Timecode and pixel aspect, from the source to the outputs: the timecode arithmetic (drop-frame
too), and real files (a tagged movie, EXR and DPX sequences) through the command line, read back
with PyAV and OpenImageIO (no ffprobe on the test machines)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from engine.errors import VideoError
from engine.media import timecode
from engine.media.images import write_image
from engine.media.info import VideoInfo, frame_timecode, image_attributes
from engine.video_io import open_video
from tests.test_media import CLIP, NUMBERS, _track_and_remove, frame16, frame_linear, vta, write_sequence


# ---- pure: timecode arithmetic --------------------------------------------------------------------
def test_non_drop_timecode_counts_at_the_nominal_rate():
    assert timecode.offset("01:00:00:00", 24, 24) == "01:00:01:00"
    assert timecode.offset("01:00:00:00", 24, 24000 / 1001) == "01:00:01:00"  # 23.976 counts at 24
    assert timecode.offset("00:59:59:24", 1, 25) == "01:00:00:00"
    assert timecode.offset("23:59:59:23", 1, 24) == "00:00:00:00"  # wraps at a day
    assert timecode.to_frames("00:00:01:00", 30) == 30 and timecode.from_frames(30, 30) == "00:00:01:00"


def test_drop_frame_timecode_skips_two_labels_a_minute_but_every_tenth():
    ntsc = 30000 / 1001
    assert timecode.offset("00:00:59;29", 1, ntsc) == "00:01:00;02"  # ;00 and ;01 do not exist
    assert timecode.offset("00:09:59;29", 1, ntsc) == "00:10:00;00"  # the tenth minute keeps them
    assert timecode.to_frames("00:10:00;00", ntsc) == 17982  # ten minutes of 29.97 fps
    assert timecode.to_frames("01:00:00;00", ntsc) == 107892  # an hour, about 3.6 s less than 30 fps
    assert timecode.offset("00:00:59;58", 2, 60000 / 1001) == "00:01:00;04"  # 59.94 skips four
    for n in (0, 1799, 1800, 17981, 17982, 107891, 2589407):
        assert timecode.to_frames(timecode.from_frames(n, ntsc, True), ntsc) == n


def test_timecode_refuses_what_it_cannot_count():
    with pytest.raises(VideoError, match="29.97 or 59.94"):
        timecode.offset("01:00:00;00", 1, 25)  # drop-frame means nothing at 25 fps
    with pytest.raises(VideoError, match="skips"):
        timecode.to_frames("00:01:00;01", 30000 / 1001)
    with pytest.raises(VideoError, match="past the 24"):
        timecode.to_frames("01:00:00:24", 24)
    with pytest.raises(VideoError, match="not a timecode"):
        timecode.parse("1:00:00")
    assert timecode.usable("01:00:00;00", 24) is None  # a source's unusable timecode is left off
    assert timecode.usable("1:02:03:04", 24) == "01:02:03:04"


def test_smpte_packing_is_the_bcd_oiio_reads():
    assert timecode.pack_smpte("01:00:00:12") == (0x01000012, 0)
    assert timecode.pack_smpte("23:59:58;29") == (0x23595829 | 0x40, 0)
    assert timecode.unpack_smpte((0x23595829 | 0x40, 0)) == "23:59:58;29"
    assert timecode.unpack_smpte((0xFFFFFFFF, 0xFFFFFFFF)) is None  # a DPX header without a timecode
    assert timecode.unpack_smpte(None) is None


def test_each_output_frame_gets_its_own_timecode_and_the_pixel_aspect():
    info = VideoInfo("x", "sequence", 4, 4, 24.0, len(NUMBERS), NUMBERS[0], "exr", frame_numbers=NUMBERS,
                     timecode="01:00:00:00", pixel_aspect=2.0)
    assert frame_timecode(info, 2) == "01:00:00:02"
    assert frame_timecode(info, 3) == "01:00:00:04"  # after the gap at 1004
    assert image_attributes(info, 5) == {"PixelAspectRatio": 2.0, "smpte:TimeCode": "01:00:00:06"}
    square = VideoInfo("x", "movie", 4, 4, 24.0, 3, 0, "h264")
    assert image_attributes(square, 1) == {}  # nothing to carry: outputs as before


# ---- real files -----------------------------------------------------------------------------------
def _oiio_stamps(path: Path) -> tuple[float, str | None]:
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(str(path))
    spec = inp.spec()
    inp.close()
    return round(spec.getattribute("PixelAspectRatio"), 4), timecode.unpack_smpte(spec.getattribute("smpte:TimeCode"))


def _stamped_movie(path: Path) -> Path:
    """The synthetic clip as H.264 in QuickTime at 29.97 fps with a drop-frame timecode (a tmcd
    track, as ffmpeg -timecode writes) and 4:3 pixels."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30000, 1001))
        stream.width, stream.height, stream.pix_fmt = CLIP.width, CLIP.height, "yuv420p"
        stream.options = {"crf": "12"}
        stream.codec_context.sample_aspect_ratio = Fraction(4, 3)
        container.metadata["timecode"] = "00:00:59;28"
        for i in range(len(CLIP)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(CLIP.frame(i), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_info_shows_a_movies_timecode_and_pixel_aspect(tmp_path):
    movie = _stamped_movie(tmp_path / "stamped.mov")
    info = json.loads(vta("info", str(movie), "--json").stdout)
    assert (info["timecode"], round(info["pixel_aspect"], 4)) == ("00:00:59;28", 1.3333)
    assert "timecode 00:00:59;28, pixel aspect 1.33333" in vta("info", str(movie)).stdout


@pytest.mark.parametrize("codec,suffix", [("prores", ".mov"), ("ffv1", ".mkv")])
def test_clean_movie_carries_the_source_timecode_and_pixel_aspect(tmp_path, codec, suffix):
    import av

    movie = _stamped_movie(tmp_path / "stamped.mov")
    out = _track_and_remove(tmp_path, str(movie), extra_remove=("--movie", codec, "--start", "2"))
    with av.open(str(out / f"clean{suffix}")) as container:
        tags = {k.lower(): v for s in (container, *container.streams) for k, v in s.metadata.items()}
        assert tags["timecode"] == "00:01:00;02"  # the movie starts at frame 2: two labels past ;29 skipped
        if codec == "prores":  # QuickTime stores the pixel aspect; PyAV cannot set Matroska's
            assert container.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
    with open_video(out / f"clean{suffix}") as made:
        assert made.info.timecode == "00:01:00;02"


def test_exr_sequence_plate_mattes_and_layers_carry_timecode_and_pixel_aspect(tmp_path):
    src = tmp_path / "src"
    for i, n in enumerate(NUMBERS):
        stamps = {"PixelAspectRatio": 2.0, "smpte:TimeCode": timecode.offset("10:00:00:00", n - 1001, 24)}
        write_image(src / f"shot.{n}.exr", frame_linear(i), "half", attributes=stamps)
    out = _track_and_remove(tmp_path, str(src), "--matte-format", "exr", extra_remove=("--layers",))
    for n in (1001, 1005):
        expected = (2.0, f"10:00:00:{n - 1001:02d}")  # the frame's own timecode (1004 is a gap)
        assert _oiio_stamps(out / "clean" / f"plate.{n}.exr") == expected
        assert _oiio_stamps(out / "masks" / "blob" / f"blob.{n}.exr") == expected
        assert _oiio_stamps(out / "layers" / f"layers.{n}.exr") == expected


def test_dpx_plate_carries_timecode_and_pixel_aspect(tmp_path):
    src = write_sequence(tmp_path / "src", "scan", "dpx", frame16, "uint16", bits=10,  # the first file's timecode counts
                         attributes={"PixelAspectRatio": 0.9, "smpte:TimeCode": "01:02:03:04"})
    out = _track_and_remove(tmp_path, str(src))
    assert _oiio_stamps(out / "clean" / "plate.1007.dpx") == (0.9, "01:02:03:10")  # 1007 is 6 frames after 1001
