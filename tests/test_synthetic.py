"""The generated clip the demo and the benchmarks run on: a pan of any length has no hidden cut."""

import numpy as np

from engine.evaluation.synthetic import SyntheticClip


def test_the_pan_goes_on_past_the_end_of_the_canvas_without_a_cut():
    clip = SyntheticClip(64, 36, 1000, pan_px_per_frame=2.0)
    for i in range(clip.canvas_w):  # at 2 px a frame: twice across the whole canvas
        assert np.array_equal(clip.background(i + 1)[:, :-2], clip.background(i)[:, 2:]), f"cut after frame {i}"
