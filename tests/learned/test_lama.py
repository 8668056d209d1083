"""The LaMa inpainter: the classical temporal machinery composed with a LaMa spatial fill (a tiny
TorchScript module with big-lama.pt's signature that paints holes one colour, LAMA_FILL)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segment_anything")  # the tiny models fixture also builds a tiny SAM

import numpy as np  # noqa: E402

from engine.backends.classical.inpainter import InpainterParams  # noqa: E402
from engine.backends.learned import lama as li  # noqa: E402
from engine.errors import EngineError  # noqa: E402
from engine.evaluation.synthetic import SyntheticClip  # noqa: E402
from engine.fileio import atomic_write_png  # noqa: E402
from engine.video_io import open_video  # noqa: E402

from .conftest import LAMA_FILL  # noqa: E402


def test_lama_pure_helpers():
    hole = np.zeros((100, 200), bool)
    hole[40:50, 90:100] = True
    assert li.context_box(hole) == (8, 82, 58, 132)
    assert li.context_box(np.zeros((5, 5), bool)) is None
    padded = li.pad_to_multiple(np.arange(15, dtype=np.float32).reshape(3, 5))
    assert padded.shape == (8, 8) and padded[3, 0] == padded[2, 0]


def test_lama_options_are_checked_by_name_and_reach_the_temporal_machinery(learned_env):
    with pytest.raises(EngineError, match="no option 'cache_frames'"):
        li.LamaInpainter.with_options({"cache_frames": 16})
    lama = li.LamaInpainter.with_options({"radius": 5, "max_side": 256}, device="cpu")
    assert lama.temporal.params.radius == 5 and lama.spatial_fill.max_side == 256
    assert lama.temporal.spatial_fill is lama.spatial_fill  # composed, not inherited
    assert isinstance(lama.params, InpainterParams)


@pytest.fixture(scope="module")
def lama(learned_env):
    assert li.LamaInpainter.availability() is None
    return li.LamaInpainter()


def test_lama_fill_pads_and_pastes_only_the_hole(lama):
    image = np.full((37, 53, 3), 10, np.uint8)  # not a multiple of 8: the module insists on padding
    hole = np.zeros((37, 53), bool)
    hole[10:20, 10:30] = True
    out = lama.spatial_fill(image, hole)
    expected = np.round(np.array(LAMA_FILL) * 255)
    assert np.abs(out[hole].astype(float) - expected).max() <= 1
    assert np.array_equal(out[~hole], image[~hole])


def test_lama_bounds_the_working_size(learned_env):
    small = li.LamaInpainter(li.LamaParams(max_side=64))
    image = np.zeros((400, 600, 3), np.uint8)
    hole = np.zeros((400, 600), bool)
    hole[100:300, 100:500] = True
    out = small.spatial_fill(image, hole)
    assert out.shape == image.shape and np.abs(out[200, 300].astype(float) - np.array(LAMA_FILL) * 255).max() <= 2


def test_lama_fills_only_never_seen_pixels(lama, tmp_path):
    """A static object over a static background: no frame ever shows what is behind it, so all of
    it is LaMa's, and the fill is carried from frame to frame (no re-invention per frame)."""
    clip = SyntheticClip(96, 64, 6, seed=5, pan_px_per_frame=0.0)
    still = clip.background(0)
    hole = np.zeros((64, 96), bool)
    hole[20:40, 30:60] = True
    frames = tmp_path / "seq"
    frames.mkdir()
    for i in range(6):
        img = still.copy()
        img[hole] = (200, 30, 30)
        atomic_write_png(frames / f"{i:05d}.png", img)
    lama.spatial_fill.calls = 0
    with open_video(frames) as video:
        out = dict(lama.inpaint(video, lambda i: hole, list(range(6)), dilate=2))
    assert sorted(out) == list(range(6))
    expected = np.round(np.array(LAMA_FILL) * 255)
    inner = np.zeros_like(hole)
    inner[24:36, 34:56] = True
    for i in range(6):
        assert np.abs(out[i][inner].astype(float) - expected).mean() < 12  # LaMa's colour, not the object
        assert np.array_equal(out[i][:10], still[:10])  # outside the hole: original pixels
    assert lama.spatial_fill.calls == 1  # made once, then carried forward, not re-invented
    assert lama.last_stats["spatial_px"] > 0


def test_lama_leaves_seen_background_to_propagation(lama, tmp_path):
    """A moving object over a static background: every pixel it covers is visible in another frame,
    so the clean plate is the true background and LaMa's colour does not appear."""
    clip = SyntheticClip(96, 64, 8, seed=5, pan_px_per_frame=0.0, object_scale=0.15)
    folder = clip.write_frames(tmp_path / "moving")
    lama.spatial_fill.calls, lama.spatial_fill.pixels = 0, 0
    with open_video(folder) as video:
        out = dict(lama.inpaint(video, clip.mask, list(range(8)), dilate=2))
    total_hole = sum(int(clip.mask(i).sum()) for i in range(8))
    assert lama.spatial_fill.pixels < 0.5 * total_hole
    err = np.mean([np.abs(out[i].astype(float) - clip.background(i)).mean() for i in range(8)])
    assert err < 10


def test_lama_missing_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("VTA_MODELS_DIR", str(tmp_path))
    assert "big_lama" in li.LamaInpainter.availability()
    with pytest.raises(EngineError, match="cannot run"):
        li.LamaInpainter()
