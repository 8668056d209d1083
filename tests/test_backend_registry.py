"""engine.backends.create: options by name reach the backend or fail loudly, never silently dropped
(the server's `cache_frames=16` once vanished into SAM's `**_`); `device` reaches learned backends
only (the learned half is in tests/learned/test_auto_selection.py)."""

from __future__ import annotations

import pytest

from engine import backends
from engine.errors import EngineError

KINDS = ("segmenter", "tracker", "inpainter")


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_option_names_the_backend_and_the_option(kind):
    with pytest.raises(EngineError) as caught:
        backends.create(kind, "classical", cache_size=16)
    message = str(caught.value)
    assert kind in message and "classical" in message and "cache_size" in message
    assert "\n" not in message


@pytest.mark.parametrize("kind, known", [("segmenter", "cache_frames"), ("tracker", "work_size"), ("inpainter", "radius")])
def test_an_unknown_option_lists_the_known_ones(kind, known):
    with pytest.raises(EngineError, match=rf"{kind} 'classical' has no option 'colour' \(known: .*\b{known}\b"):
        backends.create(kind, "classical", colour=1)


def test_every_unknown_option_is_named_at_once():
    with pytest.raises(EngineError, match=r"no option 'a', 'b' \(known"):
        backends.create("segmenter", "classical", b=1, a=2)


def test_the_server_option_name_reaches_the_segmenter():
    segmenter = backends.create("segmenter", "classical", cache_frames=16)
    assert segmenter.params.cache_frames == 16 and segmenter.cache.capacity == 16


def test_none_means_the_default():
    assert backends.create("segmenter", "classical", cache_frames=None).cache.capacity == 6
    backends.create("inpainter", "classical", radius=None)


def test_a_bad_value_is_an_engine_error():
    with pytest.raises(EngineError, match="segmenter 'classical': cache_frames must be at least 1"):
        backends.create("segmenter", "classical", cache_frames=0)


@pytest.mark.parametrize("kind", KINDS)
def test_device_does_not_reach_classical_backends(kind):
    """A device no learned backend accepts (see test_auto_selection) is no error for a CPU-only one."""
    backend = backends.create(kind, "classical", device="tpu")
    assert backend.describe()["device"] == "cpu"


def test_unknown_backend_name():
    with pytest.raises(EngineError, match=r"unknown segmenter 'grabcut' \(known: auto, sam, classical\)"):
        backends.create("segmenter", "grabcut")
