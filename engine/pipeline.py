"""The steps of the workflow as functions over a Session: click → keyframe mask, track, remove.

The CLI and the HTTP server both call these; neither knows which backend is behind them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np

from .backends.base import Inpainter, Segmenter, Tracker
from .errors import EngineError
from .fileio import append_jsonl, atomic_write_png, read_jsonl, read_mask
from .progress import CancelToken, no_progress
from .session import Click, Session, frame_name
from .tracking import TrackRun
from .video_io import VideoReader


# ---- clicks ---------------------------------------------------------------------------------------
def parse_click(text: str) -> Click:
    """'X,Y[,+|-]' → Click; raises EngineError with the expected form."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3):
        raise EngineError(f"click '{text}' must look like X,Y or X,Y,+ or X,Y,-")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise EngineError(f"click '{text}': X and Y must be numbers") from None
    sign = parts[2] if len(parts) == 3 else "+"
    if sign not in ("+", "-", "1", "0"):
        raise EngineError(f"click '{text}': the third part must be + or -")
    return Click(x, y, sign in ("+", "1"))


def check_clicks(clicks: list[Click], width: int, height: int) -> None:
    for c in clicks:
        if not (np.isfinite(c.x) and np.isfinite(c.y) and 0 <= c.x < width and 0 <= c.y < height):
            raise EngineError(f"click ({c.x:g}, {c.y:g}) is outside the {width}x{height} frame")


def segment_clicks(session: Session, video: VideoReader, segmenter: Segmenter, obj_ref, frame: int,
                   clicks: list[Click]) -> tuple[np.ndarray, float]:
    """Segment `clicks` (all clicks of this object on this frame) and store the result as the frame's
    keyframe. On failure nothing stored changes, so earlier clicks are never lost."""
    obj = session.get_object(obj_ref)
    session.check_frame(frame)
    check_clicks(clicks, video.width, video.height)
    if not any(c.positive for c in clicks):
        raise EngineError("add a positive click on the object first (negative clicks only remove)")
    image = video.read(frame)
    prev = session.keyframe_mask(obj.id, frame) if frame in obj.keyframes else None
    points = np.array([[c.x, c.y] for c in clicks], np.float32)
    labels = np.array([1 if c.positive else 0 for c in clicks], np.int32)
    result = segmenter.segment(image, points, labels, prev_mask=prev, cache_key=(session.video, frame))
    if not result.mask.any():
        raise EngineError("these clicks give an empty mask; click inside the object")
    session.set_keyframe(obj.id, frame, result.mask, clicks, source="clicks")
    return result.mask, float(result.confidence)


def add_click(session: Session, video: VideoReader, segmenter: Segmenter, obj_ref, frame: int,
              click: Click) -> tuple[np.ndarray, float]:
    return segment_clicks(session, video, segmenter, obj_ref, frame, session.clicks(obj_ref, frame) + [click])


def import_mask(session: Session, video: VideoReader, obj_ref, frame: int, mask: np.ndarray) -> None:
    mask = np.asarray(mask).astype(bool)
    if mask.shape != (video.height, video.width):
        raise EngineError(f"mask is {mask.shape[1]}x{mask.shape[0]}, the video is {video.width}x{video.height}")
    session.set_keyframe(obj_ref, frame, mask, [], source="mask")


# ---- tracking -------------------------------------------------------------------------------------
def track(session: Session, video: VideoReader, tracker: Tracker, objects=None, direction: str = "both",
          start: int | None = None, end: int | None = None, cancel: CancelToken | None = None,
          progress: Callable = no_progress, on_frame=None) -> dict:
    return TrackRun(session, video, tracker, objects, direction, start, end, cancel, progress, on_frame).run()


# ---- removal --------------------------------------------------------------------------------------
_FRAME_FILE = re.compile(r"^(\d+)\.png$")


class MaskFolders:
    """The union of several objects' matte sequences (folders of <frame>.png), read lazily."""

    def __init__(self, folders: list[Path], shape: tuple[int, int]) -> None:
        self.folders, self.shape = folders, shape

    @classmethod
    def find(cls, root: str | Path, shape: tuple[int, int], objects: list[str] | None = None) -> "MaskFolders":
        """Accepts a track output folder (with masks/<object>/), a folder of object folders, or one
        folder of frames."""
        root = Path(root)
        if not root.is_dir():
            raise EngineError(f"mask folder '{root}' does not exist")
        base = root / "masks" if (root / "masks").is_dir() else root
        folders = [d for d in sorted(base.iterdir()) if d.is_dir() and not d.name.startswith((".", "_"))]
        if objects:
            by_name = {d.name: d for d in folders}
            missing = [o for o in objects if o not in by_name]
            if missing:
                raise EngineError(f"unknown object {', '.join(missing)} in '{base}' (have: {', '.join(by_name) or 'none'})")
            folders = [by_name[o] for o in objects]
        if not folders and any(_FRAME_FILE.match(f.name) for f in base.iterdir()):
            folders = [base]
        folders = [d for d in folders if any(_FRAME_FILE.match(f.name) for f in d.iterdir())]
        if not folders:
            raise EngineError(f"no mask frames (NNNNN.png) found in '{root}'")
        return cls(folders, shape)

    def frames(self) -> list[int]:
        found = set()
        for d in self.folders:
            found.update(int(m.group(1)) for f in d.iterdir() if (m := _FRAME_FILE.match(f.name)))
        return sorted(found)

    def __call__(self, frame: int) -> np.ndarray:
        union = np.zeros(self.shape, bool)
        for d in self.folders:
            path = d / frame_name(frame)
            if path.exists():
                mask = read_mask(path)
                if mask.shape != self.shape:
                    raise EngineError(f"mask '{path}' is {mask.shape[1]}x{mask.shape[0]}, "
                                      f"the video is {self.shape[1]}x{self.shape[0]}")
                union |= mask
        return union


def remove(video: VideoReader, inpainter: Inpainter, masks: MaskFolders, out_dir: str | Path,
           start: int | None = None, end: int | None = None, dilate: int = 8, resize_ratio: float = 1.0,
           cancel: CancelToken | None = None, progress: Callable = no_progress, resume: bool = True) -> dict:
    """Write the clean plate to out_dir/clean/<frame>.png. Frames finished by an earlier run with
    the same parameters are skipped (resume); nothing is deleted before its replacement exists."""
    if not 0 < resize_ratio <= 1:
        raise EngineError(f"resize ratio must be in (0, 1], got {resize_ratio}")
    if dilate < 0 or dilate > 200:
        raise EngineError(f"dilation must be 0..200 pixels, got {dilate}")
    have = masks.frames()
    start = have[0] if start is None else start
    end = have[-1] if end is None else end
    for f in (start, end):
        if not 0 <= f < len(video):
            raise EngineError(f"frame {f} is out of range: the clip has frames 0..{len(video) - 1}")
    if start > end:
        raise EngineError(f"start {start} is after end {end}")
    clean_dir = Path(out_dir) / "clean"
    log = clean_dir / "clean.jsonl"
    params = {"dilate": dilate, "resize_ratio": resize_ratio, "backend": inpainter.name}
    done = {int(r["frame"]) for r in read_jsonl(log) if r.get("params") == params} if resume else set()
    frames = list(range(start, end + 1))
    while frames and frames[0] in done and (clean_dir / frame_name(frames[0])).exists():
        frames.pop(0)
    total = end - start + 1
    finished = total - len(frames)
    progress(finished, total, None)
    for frame, image in inpainter.inpaint(video, masks, frames, dilate=dilate, resize_ratio=resize_ratio, cancel=cancel):
        atomic_write_png(clean_dir / frame_name(frame), image)
        append_jsonl(log, {"frame": frame, "params": params})
        finished += 1
        progress(finished, total, frame)
    return {"frames": len(frames), "skipped": total - len(frames), "out": str(clean_dir)}
