"""The generated clip the demo and the benchmarks run on: a pan of any length has no hidden cut."""

import numpy as np

from engine.synthetic import SyntheticClip


def test_the_pan_goes_on_past_the_end_of_the_canvas_without_a_cut():
    clip = SyntheticClip(64, 36, 1000, pan_px_per_frame=2.0)
    laps = 2 * clip.canvas_w // 2  # frames that pan twice across the whole canvas
    for i in range(laps):
        assert np.array_equal(clip.background(i + 1)[:, :-2], clip.background(i)[:, 2:]), f"cut after frame {i}"
