"""Deliverables: lossless clean-plate movie, preview movie, combined matte; atomic on failure."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import Cancelled
from engine.fileio import atomic_write_png, encode_png, mask_to_png_array, read_mask
from engine.outputs import MovieWriter, write_clean_movie, write_mask_products
from engine.session import Layout
from engine.progress import CancelToken
from engine.video_io import open_video


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_keeps_every_colour_channel_in_its_place(channels, dtype):
    import cv2
    image = np.random.default_rng(channels).integers(0, np.iinfo(dtype).max, (6, 9, channels)).astype(dtype)
    image[0, 0] = np.arange(1, channels + 1)  # R, G, B(, A) told apart
    back = cv2.imdecode(np.frombuffer(encode_png(image), np.uint8), cv2.IMREAD_UNCHANGED)  # BGR(A) in OpenCV
    assert back.dtype == dtype
    assert np.array_equal(back[:, :, :3], image[:, :, 2::-1]) and np.array_equal(back[:, :, 3:], image[:, :, 3:])
    assert list(back[0, 0]) == ([3, 2, 1, 4] if channels == 4 else [3, 2, 1])


def png_row_filters(data: bytes, row_bytes: int) -> set[int]:
    """The filter byte that starts each row of a PNG after its first (which has no row above)."""
    import struct
    import zlib
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        idat += data[pos + 8:pos + 8 + length] if kind == b"IDAT" else b""
        pos += 12 + length
    raw = zlib.decompress(idat)
    return {raw[i] for i in range(row_bytes + 1, len(raw), row_bytes + 1)}


@pytest.mark.parametrize("shape", [(40, 30), (40, 30, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_mattes_are_stored_unfiltered_and_pictures_by_the_row_above_reading_back_the_same(shape, dtype):
    """libpng's default tries every row filter on every row (1.5-3x the time); one fixed filter is
    chosen by content, and the pixels come back bit for bit either way."""
    import cv2
    image = np.random.default_rng(7).integers(0, np.iinfo(dtype).max, shape).astype(dtype)
    image[10:30, 5:20] = np.iinfo(dtype).max  # a flat run, as in a matte
    data = encode_png(image)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(back if back.ndim == 2 else back[:, :, ::-1], image)
    channels = shape[2] if len(shape) == 3 else 1
    up, none = 2, 0
    assert png_row_filters(data, shape[1] * channels * image.itemsize) == ({up} if channels > 1 else {none})


def test_clean_movie_is_lossless(tmp_path, synthetic_clip):
    for i in range(4):
        atomic_write_png(tmp_path / "clean" / f"{i:05d}.png", synthetic_clip.frame(i))
    clean = Layout(tmp_path).scan(tmp_path / "clean")
    path = write_clean_movie(clean, range(4), 24.0, tmp_path / "clean.mkv", "ffv1")
    with open_video(path) as video:
        assert len(video) == 4 and np.array_equal(video.read(2), synthetic_clip.frame(2))


def test_failed_movie_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with MovieWriter(tmp_path / "x.mp4", 64, 48, 24) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("boom")
    assert not list(tmp_path.iterdir())


def test_combined_and_preview(tmp_path, synthetic_movie, synthetic_clip):
    a, b = tmp_path / "masks" / "a", tmp_path / "masks" / "b"
    for i in range(3):
        m = synthetic_clip.mask(i)
        atomic_write_png(a / f"{i:05d}.png", mask_to_png_array(m))
        atomic_write_png(b / f"{i:05d}.png", mask_to_png_array(np.roll(m, 40, axis=1)))
    with open_video(synthetic_movie) as video:
        write_mask_products(video, [(a, (255, 0, 0)), (b, (0, 255, 0))], range(3), Layout(tmp_path))
        with pytest.raises(Cancelled):
            token = CancelToken()
            token.cancel()
            write_mask_products(video, [(a, (255, 0, 0))], range(3), Layout(tmp_path / "cancelled"), cancel=token)
    union = read_mask(tmp_path / "combined" / "00001.png")
    assert np.array_equal(union, synthetic_clip.mask(1) | np.roll(synthetic_clip.mask(1), 40, axis=1))
    with open_video(tmp_path / "preview.mp4") as preview:
        assert len(preview) == 3
    assert not (tmp_path / "cancelled" / "preview.mp4").exists()
