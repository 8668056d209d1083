"""engine.backends.flow.dis_flow: a flow depends on its two images only, not on what the object
computed before (OpenCV's own DIS object lowers its finest level for good after a small image)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.backends.flow import DIS_PRESETS, dis_flow


def _pair(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(h * w)
    first = cv2.GaussianBlur(rng.integers(0, 256, (h, w), dtype=np.uint8), (0, 0), 2.0)
    return first, np.roll(first, (1, 2), axis=(0, 1))


@pytest.mark.parametrize("preset", sorted(DIS_PRESETS))
def test_a_flow_is_the_same_after_the_object_has_seen_a_small_image(preset):
    big, big_next = _pair(270, 480)
    small, small_next = _pair(20, 30)  # small enough to lower every preset's finest level
    fresh = dis_flow(preset).calc(big, big_next, None)
    used = dis_flow(preset)
    used.calc(small, small_next, None)
    assert np.array_equal(used.calc(big, big_next, None), fresh)
    # a small image itself still gets a flow (at the level its size allows)
    assert used.calc(small, small_next, None).shape == (20, 30, 2)


@pytest.mark.parametrize("preset", sorted(DIS_PRESETS))
def test_opencv_alone_changes_the_flow_after_a_small_image(preset):
    """Why the wrapper exists (and why the test above can fail): if OpenCV stops doing this, the
    wrapper can go."""
    big, big_next = _pair(270, 480)
    small, small_next = _pair(20, 30)
    fresh = cv2.DISOpticalFlow_create(DIS_PRESETS[preset]).calc(big, big_next, None)
    used = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    used.calc(small, small_next, None)
    assert not np.array_equal(used.calc(big, big_next, None), fresh)
