"""Lazy, frame-accurate video access (kept importable here; the code lives in engine/media/).

Nothing holds more than a handful of decoded frames. `read` gives the RGB uint8 display-referred
frames the backends take; `read_source` the frame at full depth for the outputs.
"""

from __future__ import annotations

from .media import (DEFAULT_SEQUENCE_FPS, IMAGE_EXTENSIONS, ImageSequenceReader, MovieReader,  # noqa: F401
                    VideoInfo, VideoReader, list_sequence, open_video)
