""""auto" picks the best backend whose weights are present, else classical, and says why."""

import pytest

torch = pytest.importorskip("torch")

from engine import backends  # noqa: E402
from engine.device import choose_device, choose_dtype  # noqa: E402
from engine.errors import EngineError  # noqa: E402


def test_no_weights_resolves_to_classical_with_reasons(monkeypatch, tmp_path):
    monkeypatch.setenv("VTA_MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("VTA_MODELS_REGISTRY", raising=False)
    report = backends.report()
    assert report["segmenter"]["auto"] == "classical"
    assert report["tracker"]["auto"] == "classical"
    assert report["inpainter"]["auto"] == "classical"
    reason = report["segmenter"]["reasons"]["sam"]
    assert "sam_vit_b" in reason and "fetch_models.py" in reason and str(tmp_path.name) in reason
    assert "big_lama" in report["inpainter"]["reasons"]["lama"]
    with pytest.raises(EngineError, match="not available"):
        backends.resolve("segmenter", "sam")  # asking for it explicitly is an error, not a fallback


def test_present_weights_are_preferred(learned_env):
    assert backends.resolve("segmenter") == "sam"
    assert backends.resolve("inpainter") == "lama"
    expected = "sam2" if "sam2.1_hiera_tiny" in learned_env["files"] else "sam-flow"
    assert backends.resolve("tracker") == expected
    seg = backends.create("segmenter", "auto")
    assert seg.describe()["learned"] is True


def test_device_reaches_learned_backends(learned_env):
    """The device a front end asks for reaches the learned segmenter: one it cannot use is refused
    (a classical backend takes the same request without error: tests/test_backend_registry.py)."""
    assert backends.create("segmenter", "sam", device="cpu").device == "cpu"
    with pytest.raises(EngineError, match="tpu"):
        backends.create("segmenter", "sam", device="tpu")


def test_sam_options_by_name(learned_env):
    """The server's `cache_frames` reaches SAM (it used to vanish into `**_`); a wrong name fails."""
    assert backends.create("segmenter", "sam", cache_frames=3).cache.capacity == 3
    known = r"segmenter 'sam' has no option 'cache_size' \(known: cache_frames, dtype, weights\)"
    with pytest.raises(EngineError, match=known):
        backends.create("segmenter", "sam", cache_size=3)


def test_device_choice(monkeypatch):
    assert choose_device("auto") in ("cuda", "mps", "cpu")
    assert choose_device("cpu") == "cpu"
    assert choose_dtype("cpu") == "float32"
    with pytest.raises(EngineError):
        choose_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="not available"):
            choose_device("cuda")
        with pytest.raises(EngineError):
            choose_dtype("cpu", "float16")
