"""A clip made by a function, for tracker tests that need no files."""

from __future__ import annotations

import numpy as np

from engine.video_io import VideoInfo, VideoReader


class ArrayVideo(VideoReader):
    """A clip made by a function: frame i → RGB array (no files)."""

    def __init__(self, make, count: int, width: int, height: int) -> None:
        self._init_common()
        self.make = make
        self.info = VideoInfo("generated", "sequence", width, height, 24.0, count, 0, "raw")

    def _decode(self, index: int) -> np.ndarray:
        return self.make(index)
