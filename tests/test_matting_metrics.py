"""The video-matting scores (engine/evaluation/matting.py) on cases whose value is known."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluation.matting import MattingScores, dtssd, grad, mad, mse


def ramp(shift: int = 0) -> np.ndarray:
    a = np.zeros((40, 60), np.float32)
    a[:, 20 + shift:30 + shift] = np.linspace(0, 1, 10, dtype=np.float32)
    a[:, 30 + shift:] = 1.0
    return a


def test_mad_and_mse_are_scaled_means_of_the_error():
    true = ramp()
    assert mad(np.full((4, 4), 0.3), np.full((4, 4), 0.5)) == pytest.approx(200.0)
    assert mad(true, true) == 0 and mse(true, true) == 0
    assert mse(np.zeros((4, 4)), np.full((4, 4), 0.1)) == pytest.approx(10.0)


def test_grad_sees_a_blurred_edge_but_not_an_offset():
    true = ramp()
    assert grad(true, true) == 0
    hard = (true >= 0.5).astype(np.float32)
    assert grad(hard, true) > 0.01
    assert grad(0.8 * true + 0.1, 0.8 * true) == pytest.approx(0.0, abs=1e-9)


def test_dtssd_is_zero_when_the_prediction_moves_with_the_truth_and_not_when_it_stands_still():
    assert dtssd(ramp(2), ramp(2), ramp(0), ramp(0)) == 0
    assert dtssd(ramp(0), ramp(2), ramp(0), ramp(0)) > 1.0
    # a constant error does not count as flicker
    assert dtssd(ramp(2) * 0.9, ramp(2), ramp(0) * 0.9, ramp(0)) < dtssd(ramp(0), ramp(2), ramp(0), ramp(0))


def test_scores_average_over_frames_and_dtssd_over_pairs():
    scores = MattingScores()
    for shift in range(4):
        scores.add(ramp(0), ramp(shift))
    means = scores.means()
    assert len(scores.rows["dtSSD"]) == 3 and means["dtSSD"] > 0
    assert means["MAD"] == pytest.approx(np.mean([mad(ramp(0), ramp(s)) for s in range(4)]))
    with pytest.raises(ValueError, match="shape"):
        scores.add(np.zeros((2, 2)), np.zeros((3, 3)))
