"""Sequences through OpenImageIO (EXR, DPX, 16-bit TIFF/PNG, JPEG), their frame numbers, gaps,
depth and colour; movies with rotation metadata; real files only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.evaluation.synthetic import SyntheticClip
from engine.media import colour
from engine.media.images import read_channel, read_header, read_rgb, write_image
from engine.media.info import describe_gaps, file_number, number_gaps, sequence_numbers
from engine.video_io import open_video

REPO = Path(__file__).resolve().parents[1]
CLIP = SyntheticClip(96, 64, 7, seed=3)
NUMBERS = [1001, 1002, 1003, 1005, 1006, 1007]  # 1004 is missing: a gap


def vta(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300, **kw)


def frame16(i: int) -> np.ndarray:
    """A 16-bit frame whose low bits carry detail an 8-bit round trip would lose."""
    base = CLIP.frame(i).astype(np.uint16) * 257
    noise = (np.arange(base.size, dtype=np.uint32).reshape(base.shape) * 7919 + i) % 200
    return (base - np.minimum(base, noise)).astype(np.uint16)


def frame_linear(i: int) -> np.ndarray:
    """Scene-linear float frame made from the synthetic sRGB one through OCIO, with a highlight > 1."""
    lin = colour.display8_to_float(CLIP.frame(i), colour.linear_space())
    lin[:4, :4] = 3.5
    return lin


def write_sequence(folder: Path, name: str, ext: str, make, pixel_type: str, numbers=NUMBERS, **kw) -> Path:
    for n, i in zip(numbers, range(len(numbers))):
        write_image(folder / f"{name}.{n:04d}.{ext}", make(i), pixel_type, **kw)
    return folder


# ---- pure helpers -------------------------------------------------------------------------------
def test_file_numbers_padding_and_gaps():
    assert file_number("plate.1001.exr") == (1001, 4)
    assert file_number("shot_v2_0042.dpx") == (42, 4)
    assert file_number("still.png") is None
    assert sequence_numbers(["a.0999.png", "a.1000.png", "a.1002.png"]) == ([999, 1000, 1002], 4)
    assert sequence_numbers(["x.png", "y.png"]) == ([0, 1], 5)  # not numbered: positions
    assert number_gaps([1001, 1002, 1005, 1007]) == [1003, 1004, 1006]
    assert describe_gaps([1004, 1010, 1011, 1012]) == "1004, 1010-1012"


# ---- reading ------------------------------------------------------------------------------------
def test_16bit_tiff_sequence_keeps_numbers_gap_and_depth(tmp_path):
    write_sequence(tmp_path, "plate", "tif", frame16, "uint16")
    with open_video(tmp_path) as video:
        info = video.info
        assert (info.width, info.height, len(video)) == (96, 64, 6)
        assert info.frame_numbers == NUMBERS and info.gaps == [1004] and info.padding == 4
        assert (info.pixel_type, info.bit_depth, info.file_format) == ("uint16", 16, "tiff")
        assert info.fps == 24 and info.fps_source == "default"
        source = video.read_source(3)
        assert source.dtype == np.uint16 and np.array_equal(source, frame16(3))
        shown = video.read(3)
        assert shown.dtype == np.uint8 and np.abs(shown.astype(int) - CLIP.frame(3)).max() <= 1


def test_half_exr_sequence_is_shown_through_ocio(tmp_path):
    write_sequence(tmp_path, "plate", "exr", frame_linear, "half", compression="zip")
    with open_video(tmp_path / "plate.%04d.exr", fps=25) as video:
        info = video.info
        assert (info.pixel_type, info.bit_depth, info.file_format, info.fps_source) == ("half", 16, "exr", "given")
        source = video.read_source(0)
        assert source.dtype == np.float32 and source[0, 0, 0] == 3.5
        # display-referred: the sRGB frame back (the highlight clips to white)
        assert np.abs(video.read(1)[8:].astype(int) - CLIP.frame(1)[8:]).max() <= 1
        assert (video.read(0)[:4, :4] == 255).all()


def test_multipart_exr_reads_its_first_part(tmp_path):
    import OpenImageIO as oiio

    path = tmp_path / "multi.1001.exr"
    specs = []
    for name, value in (("beauty", 0.25), ("other", 0.75)):
        spec = oiio.ImageSpec(32, 16, 3, "half")
        spec.attribute("name", name)
        specs.append(spec)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), specs)
    out.write_image(np.full((16, 32, 3), 0.25, np.float32))
    assert out.open(str(path), specs[1], "AppendSubimage")
    out.write_image(np.full((16, 32, 3), 0.75, np.float32))
    out.close()
    with open_video(path) as video:
        assert np.allclose(video.read_source(0), 0.25)


def test_10bit_dpx_sequence_is_read(tmp_path):
    write_sequence(tmp_path, "scan", "dpx", frame16, "uint16", bits=10)
    with open_video(tmp_path) as video:
        assert (video.info.bit_depth, video.info.file_format, video.info.pixel_type) == (10, "dpx", "uint16")
        assert video.info.frame_numbers == NUMBERS
        assert np.abs(video.read(2).astype(int) - CLIP.frame(2)).max() <= 2


@pytest.mark.parametrize("ext,ptype", [("png", "uint16"), ("png", "uint8"), ("jpg", "uint8")])
def test_png_and_jpeg_sequences(tmp_path, ext, ptype):
    make = frame16 if ptype == "uint16" else CLIP.frame
    write_sequence(tmp_path, "f", ext, make, ptype, numbers=[7, 8, 9])
    with open_video(tmp_path) as video:
        assert video.info.pixel_type == ptype and video.info.frame_numbers == [7, 8, 9]
        assert video.read_source(1).dtype == np.dtype(ptype)
        assert np.abs(video.read(1).astype(int) - CLIP.frame(1)).mean() < 3


def test_info_reports_format_depth_numbers_and_gaps(tmp_path):
    write_sequence(tmp_path, "plate", "tif", frame16, "uint16")
    run = vta("info", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "tiff (uint16, 16-bit)" in run.stdout and "frames 1001-1007" in run.stdout
    assert "gaps (missing numbers): 1004" in run.stdout and "24 fps assumed" in run.stdout
    info = json.loads(vta("info", str(tmp_path), "--fps", "25", "--json").stdout)
    assert info["fps"] == 25 and info["gaps"] == [1004] and info["frame_numbers"][0] == 1001


def test_rotated_movie_is_reported_and_read_upright(tmp_path):
    import av

    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.set_display_rotation(-90)  # what a phone held upright writes
        for i in range(4):
            image = np.zeros((64, 96, 3), np.uint8)
            image[:16, :24] = 255  # a white block in the stored top-left corner
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with open_video(path, start_number=1001) as video:
        assert (video.width, video.height, video.info.rotation) == (64, 96, -90)
        frame = video.read(2)
        assert frame.shape == (96, 64, 3)
        assert frame[:24, -16:].mean() > 200 and frame[:24, :16].mean() < 50  # turned a quarter clockwise
        assert video.info.frame_numbers == [1001, 1002, 1003, 1004]
    assert "rotated -90°" in vta("info", str(path)).stdout


def test_header_before_pixels(tmp_path):
    write_image(tmp_path / "a.exr", frame_linear(0), "float")
    header = read_header(tmp_path / "a.exr")
    assert (header.width, header.height, header.pixel_type, header.bit_depth) == (96, 64, "float", 32)
    pixels, _ = read_rgb(tmp_path / "a.exr")
    assert pixels.dtype == np.float32


def test_colour_comes_back_in_rgb_order_whatever_order_and_extra_channels_the_file_has(tmp_path):
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 65535, (8, 12, 4)).astype(np.uint16)
    write_image(tmp_path / "rgba.tif", rgba, "uint16", channels=["R", "G", "B", "A"])
    assert np.array_equal(read_rgb(tmp_path / "rgba.tif")[0], rgba[:, :, :3])  # the in-order slice
    bgr = rgba[:, :, 2::-1].astype(np.float32) / 65535
    write_image(tmp_path / "bgr.exr", bgr, "float", channels=["B", "G", "R"])
    assert np.array_equal(read_rgb(tmp_path / "bgr.exr")[0], bgr[:, :, ::-1])  # by name, not by position
    write_image(tmp_path / "gray.tif", rgba[:, :, :1], "uint16", channels=["Y"])
    assert np.array_equal(read_rgb(tmp_path / "gray.tif")[0], np.repeat(rgba[:, :, :1], 3, axis=2))


# ---- through the command line: numbers, depth, formats, permissions -------------------------------
def _mask_file(tmp_path: Path) -> Path:
    from engine.fileio import atomic_write_png, mask_to_png_array
    path = tmp_path / "mask0.png"
    atomic_write_png(path, mask_to_png_array(CLIP.mask(0)))
    return path


def _track_and_remove(tmp_path: Path, video: str, *extra_track: str, extra_remove=()) -> Path:
    out = tmp_path / "out"
    run = vta("track", video, "--init-mask", str(_mask_file(tmp_path)), "--frame", "0", "--object", "blob",
              "--out", str(out), *extra_track)
    assert run.returncode == 0, run.stderr
    run = vta("remove", video, "--masks", str(out), "--out", str(out), *extra_remove)
    assert run.returncode == 0, run.stderr
    return out


def test_16bit_tiff_sequence_with_a_gap_through_track_and_remove(tmp_path):
    os.umask(0o022)
    src = write_sequence(tmp_path / "src", "plate", "tif", frame16, "uint16")
    out = _track_and_remove(tmp_path, str(src))
    masks = sorted(p.name for p in (out / "masks" / "blob").glob("*.png"))
    plates = sorted(p.name for p in (out / "clean").glob("plate.*"))
    assert masks == [f"blob.{n}.png" for n in NUMBERS]  # each output carries its source number; 1004 stays a gap
    assert plates == [f"plate.{n}.tif" for n in NUMBERS]
    with open_video(src) as video:
        for i, n in enumerate(NUMBERS):
            plate, header = read_rgb(out / "clean" / f"plate.{n}.tif")
            assert (header.pixel_type, header.file_format) == ("uint16", "tiff")
            source = video.read_source(i)
            hole = read_rgb(out / "masks" / "blob" / f"blob.{n}.png")[0][:, :, 0] > 0
            far = ~_grow(hole, 14)
            assert np.array_equal(plate[far], source[far])  # untouched pixels: the source at 16 bits
            assert not np.array_equal(plate[hole], source[hole])  # the object is gone
    # files for a render farm: 0644 under umask 022, results and session alike
    for path in [*out.rglob("*.png"), *out.rglob("*.tif"), out / "session.json"]:
        assert (path.stat().st_mode & 0o777) == 0o644, path


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    import cv2
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def test_half_exr_sequence_gives_half_exr_plate_exr_mattes_and_layers(tmp_path):
    os.umask(0o022)
    src = write_sequence(tmp_path / "src", "shot", "exr", frame_linear, "half", compression="zip")
    out = _track_and_remove(tmp_path, str(src / "shot.%04d.exr"), "--matte-format", "exr", "--exr-compression", "dwaa",
                            extra_remove=("--layers", "--exr-compression", "piz"))
    plate = out / "clean" / "plate.1005.exr"
    header = read_header(plate)
    assert (header.pixel_type, header.file_format) == ("half", "exr")
    assert colour.find_space([header.colorspace]) == colour.linear_space()  # the space is named in the file
    pixels, _ = read_rgb(plate)
    assert pixels[0, 0, 0] == 3.5  # a highlight outside the hole kept, above 1
    with open_video(src) as video:
        far = ~_grow(read_channel(out / "masks" / "blob" / "blob.1005.exr") > 0.5, 14)
        assert np.array_equal(pixels[far], video.read_source(3)[far])  # untouched: the source's half floats
    matte = read_header(out / "masks" / "blob" / "blob.1005.exr")
    assert matte.channels == ("Y", "A") and matte.pixel_type == "half"  # A for compositors, Y for viewers
    matte_file = out / "masks" / "blob" / "blob.1005.exr"
    # DWAA compresses a luminance channel with loss, an alpha one without
    assert np.abs(read_channel(matte_file, "Y") - read_channel(matte_file, "A")).max() < 0.05
    import OpenImageIO as oiio
    assert oiio.ImageInput.open(str(out / "masks" / "blob" / "blob.1005.exr")).spec().get_string_attribute(
        "compression").startswith("dwaa")
    import OpenImageIO as oiio
    layered = oiio.ImageInput.open(str(out / "layers" / "layers.1005.exr"))
    spec = layered.spec()
    assert "blob.A" in spec.channelnames and {"clean.R", "clean.G", "clean.B"} <= set(spec.channelnames)
    assert spec.get_string_attribute("compression") == "piz"
    layered.close()
    for path in out.rglob("*.exr"):  # written through OpenImageIO, still 0644 under umask 022
        assert (path.stat().st_mode & 0o777) == 0o644, path


def test_10bit_dpx_plate_stays_10bit_dpx(tmp_path):
    src = write_sequence(tmp_path / "src", "scan", "dpx", frame16, "uint16", bits=10)
    out = _track_and_remove(tmp_path, str(src))
    header = read_header(out / "clean" / "plate.1001.dpx")
    assert (header.file_format, header.bit_depth) == ("dpx", 10)
    with open_video(src) as video:
        plate, _ = read_rgb(out / "clean" / "plate.1007.dpx")
        source = video.read_source(5)
        far = ~_grow(read_rgb(out / "masks" / "blob" / "blob.1007.png")[0][:, :, 0] > 0, 14)
        assert np.array_equal(plate[far], source[far])  # 10 bits in, the same 10 bits out


def test_movie_keeps_its_names_unless_given_a_start_number(tmp_path):
    movie = CLIP.write_movie(tmp_path / "clip.mkv", codec="ffv1")
    out = _track_and_remove(tmp_path, str(movie))
    assert (out / "masks" / "blob" / "00000.png").is_file() and (out / "clean" / "00006.png").is_file()
    numbered = tmp_path / "numbered"
    numbered.mkdir()
    out = _track_and_remove(numbered, str(movie), "--start-number", "1001", extra_remove=("--start-number", "1001"))
    assert (out / "masks" / "blob" / "blob.1001.png").is_file() and (out / "clean" / "plate.1007.png").is_file()
    view = json.loads((out / "session.json").read_text())
    assert view["numbering"] == {"padding": 4, "runs": [[1001, 1007]]}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _tagged_movie(path: Path) -> Path:
    """The synthetic clip as H.264 tagged BT.709 (primaries, transfer, matrix), limited range."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = CLIP.width, CLIP.height, "yuv420p"
        stream.options = {"crf": "12"}
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 1, 1, 1, 1
        for i in range(len(CLIP)):
            frame = av.VideoFrame.from_ndarray(CLIP.frame(i), format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace=1, dst_color_range=1)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("codec,suffix", [("prores", ".mov"), ("ffv1", ".mkv")])
def test_clean_movie_carries_the_source_colour_tags_and_is_named(tmp_path, codec, suffix):
    import av

    movie = _tagged_movie(tmp_path / "tagged.mp4")
    out = _track_and_remove(tmp_path, str(movie), extra_remove=("--movie", codec))
    clean = out / f"clean{suffix}"
    with av.open(str(clean)) as container:
        ctx = container.streams.video[0].codec_context
        tags = (ctx.color_primaries, ctx.color_trc)
        assert tags == (1, 1)  # BT.709 primaries and transfer, as the source says
        if codec == "prores":  # YUV: the source's matrix and range too
            assert (ctx.colorspace, ctx.color_range) == (1, 1)
        else:  # FFV1 here is RGB-coded: RGB matrix, full range
            assert (ctx.colorspace, ctx.color_range) == (0, 2)
    with open_video(clean) as made, open_video(out / "clean") as plate:
        assert np.abs(made.read(3).astype(int) - plate.read(3)).mean() < 2  # decoded as it was meant
    rerun = vta("remove", str(movie), "--masks", str(out), "--out", str(out), "--movie", codec)
    assert f"movie: {clean}" in rerun.stdout  # the closing message names the file
    assert (clean.stat().st_mode & 0o777) == 0o666 & ~_umask()


def test_track_layers_and_the_session_patterns(tmp_path):
    from engine.session import Session

    src = write_sequence(tmp_path / "src", "plate", "png", CLIP.frame, "uint8")
    out = tmp_path / "out"
    run = vta("track", str(src), "--init-mask", str(_mask_file(tmp_path)), "--frame", "0", "--object", "Boom Mic",
              "--out", str(out), "--layers", "--matte-format", "png16")
    assert run.returncode == 0, run.stderr
    assert "(Boom_Mic.1001.png … Boom_Mic.1007.png)" in run.stdout
    layered = read_header(out / "layers" / "layers.1003.exr")
    assert layered.channels == ("Boom Mic.A",)  # the object's channel, named as the user named it
    assert abs(read_channel(out / "layers" / "layers.1003.exr", "Boom Mic.A").mean() - CLIP.mask(2).mean()) < 0.05
    summary = Session.load(out).summary()
    obj = summary["objects"][0]
    assert summary["numbers"] == NUMBERS
    for frame, number in enumerate(summary["numbers"]):  # what the add-on does with pattern and numbers
        assert (Path(obj["dir"]) / obj["pattern"].format(number=number, frame=frame)).is_file()


def test_a_session_made_before_numbered_outputs_keeps_its_names(tmp_path):
    """Mattes named 00000.png by an older engine for a sequence: a re-run resumes them, remove reads them."""
    src = write_sequence(tmp_path / "src", "plate", "png", CLIP.frame, "uint8")
    out = _track_and_remove(tmp_path, str(src))
    session = json.loads((out / "session.json").read_text())
    for path in (out / "masks" / "blob").glob("blob.*.png"):  # as the older engine named them
        path.rename(path.with_name(f"{NUMBERS.index(int(path.name.split('.')[1])):05d}.png"))
    for path in (out / "clean").glob("plate.*"):
        path.unlink()
    session["numbering"] = None
    (out / "session.json").write_text(json.dumps(session))
    run = vta("track", str(src), "--object", "blob", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert " 0 frames tracked" in run.stdout or ": 0 frames" in run.stdout  # nothing redone
    run = vta("remove", str(src), "--masks", str(out), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert (out / "clean" / "00005.png").is_file()
    assert vta("track", str(src), "--object", "blob", "--out", str(out), "--start-number", "1").returncode == 2


def test_server_gives_numbered_patterns_and_numbers_for_a_sequence(tmp_path):
    """Through a real engine server: a 16-bit TIFF sequence's session, tracked and removed, names
    its files by source number and tells the client the mapping (`pattern` with {number}, `numbers`)."""
    from engine.fileio import encode_png, mask_to_png_array
    from tests.conftest_server import EngineProcess

    proc = EngineProcess(tmp_path / "engine")
    src = write_sequence(proc.home / "clips" / "plate", "plate", "tif", frame16, "uint16")
    proc.start()
    try:
        client = proc.client()
        s = client.open_session(str(src))
        assert s["clip"]["numbers"] == NUMBERS and s["numbers"] == NUMBERS and s["clip"]["gaps"] == [1004]
        obj = client.add_object(s["id"], "blob")
        client.import_mask(s["id"], obj["id"], 0, encode_png(mask_to_png_array(CLIP.mask(0))))
        assert client.wait(client.track(s["id"])["id"])["status"] == "done"
        assert client.wait(client.remove(s["id"], dilate=4)["id"])["status"] == "done"
        results = client.results(s["id"])
        blob = results["objects"][0]
        assert blob["pattern"] == "blob.{number:04d}.png" and results["clean_pattern"] == "plate.{number:04d}.tif"
        assert results["numbers"] == NUMBERS and results["clean"] == list(range(6)) and blob["frames"] == list(range(6))
        for frame, number in enumerate(results["numbers"]):
            assert (Path(blob["dir"]) / blob["pattern"].format(number=number, frame=frame)).is_file()
            assert (Path(results["clean_dir"]) / results["clean_pattern"].format(number=number, frame=frame)).is_file()
        plate = client.download_clean(s["id"], 3, str(tmp_path / "clean.tif"))
        assert read_header(plate).pixel_type == "uint16"
        files = client.download_archive(s["id"], str(tmp_path / "all"))
        assert any(f.endswith("clean/plate.1005.tif") for f in files) and any(f.endswith("blob.1007.png") for f in files)
    finally:
        proc.stop()


# ---- pure mappings: plate formats, numbering, names, colour tags ---------------------------------
def test_plate_format_follows_the_source():
    from engine.errors import EngineError
    from engine.media.info import VideoInfo
    from engine.media.plate import plate_format

    def info(ptype, fmt, bits):
        return VideoInfo("x", "sequence", 4, 4, 24.0, 1, 1, fmt, pixel_type=ptype, file_format=fmt, bit_depth=bits)

    assert plate_format(info("uint8", "jpeg", 8)).name == "png8"
    assert plate_format(info("uint16", "tiff", 16)).ext == ".tif"
    assert plate_format(info("uint16", "png", 16)).name == "png16"
    assert (plate_format(info("uint16", "dpx", 10)).name, plate_format(info("uint16", "dpx", 10)).bits) == ("dpx", 10)
    assert plate_format(info("float", "exr", 32)).stored == "half"
    assert plate_format(info("half", "exr", 16), "tiff16").name == "tiff16"  # the user's choice wins
    with pytest.raises(EngineError, match="plate format"):
        plate_format(info("uint8", "png", 8), "gif")


def test_numbering_names_and_scan(tmp_path):
    from engine.layout import Layout
    from engine.media.numbering import Numbering

    numbering = Numbering(tuple(NUMBERS), 4)
    assert Numbering.from_json(numbering.to_json()) == numbering
    assert numbering.to_json()["runs"] == [[1001, 1003], [1005, 1007]]
    layout = Layout(tmp_path, numbering)
    assert layout.mask_path("car", 3).name == "car.1005.png" and layout.clean_path(0, ".exr").name == "plate.1001.exr"
    for name in ("car.1005.png", "car.1006.exr", "car.1006.png", "00001.png", ".car.1001.png.ab12.tmp", "car.0999.png"):
        (tmp_path / name).write_bytes(b"")
    found = layout.scan(tmp_path, prefer=".exr")
    assert {f: p.name for f, p in found.items()} == {3: "car.1005.png", 4: "car.1006.exr"}
    legacy = Layout(tmp_path)
    assert legacy.pattern("car") == "{frame:05d}.png" and set(legacy.scan(tmp_path)) == {1}


def test_movie_colour_tags():
    from engine.outputs import movie_colour_tags

    bt709_tv = {"color_primaries": 1, "color_trc": 1, "colorspace": 1, "color_range": 1}
    assert movie_colour_tags(bt709_tv, rgb_coded=False) == bt709_tv
    assert movie_colour_tags(bt709_tv, rgb_coded=True) == {**bt709_tv, "colorspace": 0, "color_range": 2}
    unspecified = {"color_primaries": 2, "color_trc": 2, "colorspace": 2, "color_range": 0}
    assert movie_colour_tags(unspecified, rgb_coded=True) == {}  # nothing said, nothing claimed
