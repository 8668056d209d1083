"""The workflow: one function per operation (segment, import a mask, track, remove), each taking a
request object that owns the operation's defaults, limits and checks. The CLI, the demo and the
server all call these, so an operation behaves the same whichever front end asks for it, and a
run resumed from any of them skips exactly the frames an earlier run finished.

A request is checked in two steps: on construction for what it says alone (a direction, a
dilation, a start after its end), and against the clip or session (`check`/`resolve`) for
frame numbers, click positions and objects, before anything is written.
"""

from __future__ import annotations

import shutil
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from .backends.base import Inpainter, Segmenter, Tracker
from .correction import correct_matte, correction_prior
from .errors import EngineError, NotFound
from .atomic import sweep_partial_files
from .fileio import read_jsonl, read_mask
from .matte.params import check_soft_only, checked_request
from .media.images import EXR_COMPRESSIONS
from .media.info import VideoInfo
from .media.plate import PLATE_FORMATS, plate_format, plate_linear_space
from .media.reader import HeldFrames
from .outputs import PlateWriter, write_clean_movie, write_layers, write_mask_products
from .pipeline import Behind
from .progress import CancelToken, no_progress
from .session import Click, Keyframe, Layout, Session, TrackedObject
from .tracking import DIRECTIONS, TrackRun

DILATE_DEFAULT = 8  # pixels the masks grow by before removal: covers motion blur and matte edges
DILATE_MAX = 200
RESIZE_RATIO_DEFAULT = 1.0
MOVIE_CODECS = ("ffv1", "prores")  # lossless clean-plate movies
_MOVIE_SUFFIX = {"ffv1": ".mkv", "prores": ".mov"}


# ---- what requests are checked against --------------------------------------------------------------
@dataclass(frozen=True)
class Clip:
    width: int
    height: int
    frame_count: int

    @classmethod
    def of(cls, video) -> "Clip":
        return cls(video.width, video.height, len(video))

    def check_frame(self, frame: int, what: str = "frame") -> int:
        if not isinstance(frame, int) or not 0 <= frame < self.frame_count:
            raise EngineError(f"{what} {frame} is out of range: the clip has frames 0..{self.frame_count - 1}")
        return frame

    def check_range(self, start: int | None, end: int | None, first: int = 0, last: int | None = None) -> tuple[int, int]:
        """(start, end) with defaults `first`/`last` (default: the whole clip), both checked."""
        start = first if start is None else start
        end = (self.frame_count - 1 if last is None else last) if end is None else end
        self.check_frame(start, "start frame")
        self.check_frame(end, "end frame")
        if start > end:
            raise EngineError(f"start {start} is after end {end}")
        return start, end


def _unique(refs) -> tuple | None:
    """Object references in order with duplicates collapsed; None (= all) stays None."""
    return None if refs is None else tuple(dict.fromkeys(refs))


def _check_order(start: int | None, end: int | None) -> None:
    if start is not None and end is not None and start > end:
        raise EngineError(f"start {start} is after end {end}")


def select_objects(session: Session, ids: tuple[int, ...] | None, what: str) -> list[TrackedObject]:
    """The objects an operation works on (None = all of them), each named once."""
    objs = list(session.objects.values()) if ids is None else [session.get_object(i) for i in _unique(ids)]
    if not objs:
        raise EngineError(f"the session has no objects: add one and click on it first ({what})")
    return objs


# ---- clicks → keyframe ----------------------------------------------------------------------------
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


@dataclass(frozen=True)
class SegmentRequest:
    """All clicks of one object on one frame; their mask becomes that frame's keyframe."""

    frame: int
    clicks: tuple[Click, ...]

    def __post_init__(self) -> None:
        if not self.clicks:
            raise EngineError("give at least one click on the object")

    def check(self, clip: Clip) -> "SegmentRequest":
        clip.check_frame(self.frame)
        for c in self.clicks:
            if not (np.isfinite(c.x) and np.isfinite(c.y) and 0 <= c.x < clip.width and 0 <= c.y < clip.height):
                raise EngineError(f"click ({c.x:g}, {c.y:g}) is outside the {clip.width}x{clip.height} frame")
        return self


@dataclass(frozen=True)
class ImportMaskRequest:
    """A mask made elsewhere, set as one object's keyframe on one frame."""

    frame: int
    mask: np.ndarray = field(compare=False, repr=False)
    what: str = "the mask"

    def check(self, clip: Clip) -> "ImportMaskRequest":
        clip.check_frame(self.frame)
        h, w = self.mask.shape[:2]
        if (h, w) != (clip.height, clip.width):
            raise EngineError(f"{self.what} is {w}x{h}, the video is {clip.width}x{clip.height}")
        if not np.asarray(self.mask).any():
            raise EngineError(f"{self.what} is empty")
        return self


@dataclass
class KeyframeResult:
    mask: np.ndarray
    confidence: float
    keyframe: Keyframe


def segment(session: Session, video, segmenter: Segmenter, obj_id: int, req: SegmentRequest) -> KeyframeResult:
    """Segment the request's clicks and store the mask as the frame's keyframe. The same clicks as
    the stored keyframe give it back untouched (no new revision: nothing downstream is redone);
    on failure nothing stored changes, so earlier clicks are never lost. The segmenter starts from
    the frame's keyframe, or, on a frame without one, from its tracked matte (a correction)."""
    obj = session.get_object(obj_id)
    req.check(Clip.of(video))
    session.check_frame(req.frame)
    key = obj.keyframes.get(req.frame)
    clicks = list(req.clicks)
    if key is not None and key.source == "clicks" and key.clicks == clicks:
        return KeyframeResult(session.keyframe_mask(obj.id, req.frame), key.confidence, key)
    image = video.read(req.frame)
    prev = session.keyframe_mask(obj.id, req.frame) if key is not None else correction_prior(session, obj.id, req.frame)
    if prev is None and not any(c.positive for c in clicks):
        raise EngineError("add a positive click on the object first (negative clicks only remove, "
                          "from a keyframe or a tracked matte)")
    points = np.array([[c.x, c.y] for c in clicks], np.float32)
    labels = np.array([1 if c.positive else 0 for c in clicks], np.int32)
    result = segmenter.segment(image, points, labels, prev_mask=prev, cache_key=(session.video, req.frame))
    if key is None and prev is not None:  # a correction of the tracked matte: change it only near the clicks
        result = replace(result, mask=correct_matte(prev, result.mask, clicks))
    if not result.mask.any():
        raise EngineError("these clicks give an empty mask; click inside the object")
    confidence = float(result.confidence)
    key = session.set_keyframe(obj.id, req.frame, result.mask, clicks, source="clicks", confidence=confidence)
    return KeyframeResult(result.mask, confidence, key)


def add_click(session: Session, video, segmenter: Segmenter, obj_id: int, frame: int, click: Click) -> KeyframeResult:
    """One more click on a frame: the frame's keyframe from all its clicks so far."""
    return segment(session, video, segmenter, obj_id, SegmentRequest(frame, tuple(session.clicks(obj_id, frame)) + (click,)))


def undo_click(session: Session, video, segmenter: Segmenter, obj_id: int, frame: int) -> KeyframeResult | None:
    """Drop the frame's last click; None when it was the only one (the keyframe goes too)."""
    clicks = session.clicks(obj_id, frame)
    if not clicks:
        raise NotFound(f"no clicks on frame {frame} for object '{session.get_object(obj_id).name}'")
    if len(clicks) == 1:
        session.remove_keyframe(obj_id, frame)
        return None
    return segment(session, video, segmenter, obj_id, SegmentRequest(frame, tuple(clicks[:-1])))


def import_mask(session: Session, video, obj_id: int, req: ImportMaskRequest) -> Keyframe:
    req.check(Clip.of(video))
    return session.set_keyframe(obj_id, req.frame, req.mask, [], source="mask", confidence=1.0)


# ---- tracking -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackRequest:
    """Track objects (ids; None = all) over start..end (None = the session's range)."""

    objects: tuple[int, ...] | None = None
    start: int | None = None
    end: int | None = None
    direction: str = "both"
    preview: bool = False  # also write combined/ and preview.mp4
    matte_format: str | None = None  # png8, png16 or exr (None: the session's)
    matte: dict | None = None  # the matte finish (engine.matte.MatteParams by name; None: the session's)

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise EngineError(f"direction must be one of: {', '.join(DIRECTIONS)}")
        _check_order(self.start, self.end)
        object.__setattr__(self, "objects", _unique(self.objects))
        object.__setattr__(self, "matte", checked_request(self.matte_format, self.matte))

    def resolve(self, session: Session) -> tuple[list[TrackedObject], int, int]:
        check_soft_only(self.matte, self.matte_format or session.matte_format)
        objs = select_objects(session, self.objects, "nothing to track")
        for obj in objs:
            if not obj.keyframes:
                raise EngineError(f"object '{obj.name}' has no keyframe: click on it first")
        clip = Clip(0, 0, session.frame_count)
        start, end = clip.check_range(self.start, self.end, session.start, session.end)
        return objs, start, end

    def to_params(self) -> dict:
        return {"objects": list(self.objects) if self.objects is not None else None, "start": self.start,
                "end": self.end, "direction": self.direction, "matte_format": self.matte_format, "matte": self.matte}


def track(session: Session, video, tracker: Tracker, req: TrackRequest, cancel: CancelToken | None = None,
          progress: Callable = no_progress, on_frame=None) -> dict:
    """Track what is not up to date (a resumed or repeated run redoes no finished frame), then make
    the combined matte and preview agree with the mattes: rebuilt when asked for, else removed
    when the mattes they were made from changed."""
    objs, start, end = req.resolve(session)
    session.set_matte(req.matte_format, req.matte)
    for obj in objs:  # a job runs alone on its objects' folders: what is half-written there is a crash's
        sweep_partial_files(session.mask_dir(obj))
    run = TrackRun(session, video, tracker, [o.id for o in objs], req.direction, start, end, cancel, progress, on_frame)
    finished = False
    try:
        result = run.run()
        finished = True
    finally:
        if run.written and not (finished and req.preview):
            drop_mask_products(session.paths)
    if req.preview and (result["written"] or not session.paths.preview_path.exists()):
        everything = list(session.objects.values())
        write_mask_products(video, [(session.result_files(o), o.color) for o in everything], range(start, end + 1),
                            session.paths, cancel=cancel)
        result["preview"] = str(session.paths.preview_path)
    return result


def drop_mask_products(layout: Layout) -> None:
    """Delete combined/ and preview.mp4: made from mattes that have since changed."""
    shutil.rmtree(layout.combined_dir, ignore_errors=True)
    layout.preview_path.unlink(missing_ok=True)


# ---- removal --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RemoveRequest:
    """Remove objects (None = all) over start..end (None = the frames that have mattes)."""

    objects: tuple | None = None
    start: int | None = None
    end: int | None = None
    dilate: int = DILATE_DEFAULT
    resize_ratio: float = RESIZE_RATIO_DEFAULT
    movie: str | None = None  # also write the clean plate as a lossless movie: "ffv1" or "prores"
    plate_format: str = "source"  # the source's format and depth, or png8/png16/tiff16/exr/dpx
    compression: str = "zip"  # of an EXR plate: zip, piz or dwaa

    def __post_init__(self) -> None:
        if self.plate_format not in PLATE_FORMATS:
            raise EngineError(f"plate format must be one of: {', '.join(PLATE_FORMATS)}")
        if self.compression not in EXR_COMPRESSIONS:
            raise EngineError(f"EXR compression must be one of: {', '.join(EXR_COMPRESSIONS)}")
        if not (isinstance(self.resize_ratio, (int, float)) and 0 < self.resize_ratio <= 1):
            raise EngineError(f"resize ratio must be in (0, 1], got {self.resize_ratio}")
        if not 0 <= self.dilate <= DILATE_MAX:
            raise EngineError(f"dilation must be 0..{DILATE_MAX} pixels, got {self.dilate}")
        if self.movie is not None and self.movie not in MOVIE_CODECS:
            raise EngineError(f"movie must be one of: {', '.join(MOVIE_CODECS)}")
        _check_order(self.start, self.end)
        object.__setattr__(self, "objects", _unique(self.objects))

    def resolve(self, session: Session) -> list[TrackedObject]:
        """The objects to remove, each with mattes; frames checked against the clip."""
        objs = select_objects(session, self.objects, "nothing to remove")
        for f in (self.start, self.end):
            if f is not None:
                session.check_frame(f)
        missing = [o.name for o in objs if not session.confidence(o.id)]
        if missing:
            raise EngineError(f"track {', '.join(missing)} first: there are no mattes to remove")
        return objs

    def to_params(self) -> dict:
        return {"objects": list(self.objects) if self.objects is not None else None, "start": self.start,
                "end": self.end, "dilate": self.dilate, "resize_ratio": self.resize_ratio,
                "plate_format": self.plate_format, "compression": self.compression}


class MaskFolders:
    """The union of several objects' matte sequences, read lazily: for each object, clip position →
    its matte file (named by the output's numbering, engine/layout.py)."""

    def __init__(self, files: list[dict[int, Path]], shape: tuple[int, int], names: list[str] | None = None) -> None:
        self.files, self.shape = files, shape
        self.names = names or [f"object{i + 1}" for i in range(len(files))]  # for the layers' channels

    @classmethod
    def of_session(cls, session: Session, objs: list[TrackedObject], shape: tuple[int, int]) -> "MaskFolders":
        return cls([session.result_files(o) for o in objs], shape, [o.name for o in objs])

    def objects(self) -> list[tuple[str, dict[int, Path]]]:
        return list(zip(self.names, self.files))

    @classmethod
    def find(cls, root: str | Path, shape: tuple[int, int], objects: list[str] | None = None,
             layout: Layout | None = None) -> "MaskFolders":
        """Folders of matte frames not made by a session: a folder of object folders, or one
        folder of frames; `objects` are folder names. A file is a frame's when its name ends in
        the frame's number (`layout`'s numbering: a sequence's file numbers; else clip positions)."""
        root = Path(root)
        if not root.is_dir():
            raise EngineError(f"mask folder '{root}' does not exist")
        names = Layout(root, layout.numbering if layout else None)
        base = names.masks_dir if names.masks_dir.is_dir() else root
        folders = [d for d in sorted(base.iterdir()) if d.is_dir() and not d.name.startswith((".", "_"))]
        if objects:
            by_name = {d.name: d for d in folders}
            missing = [o for o in objects if o not in by_name]
            if missing:
                raise EngineError(f"unknown object {', '.join(missing)} in '{base}' (have: {', '.join(by_name) or 'none'})")
            folders = [by_name[o] for o in objects]
        if not folders and (names.scan(base) or Layout(root).scan(base)):
            folders = [base]
        scanned = [(d.name, names.scan(d)) for d in folders]
        if names.numbering is not None and not any(found for _, found in scanned):
            positions = Layout(root)  # mattes made before outputs carried numbers: 00000.png
            scanned = [(d.name, positions.scan(d)) for d in folders]
        files = [found for _, found in scanned if found]
        if not files:
            expected = names.pattern("<name>").format(frame=0, number=names.numbers(1)[0]) if names.numbering else "00000.png"
            raise EngineError(f"no mask frames (like {expected}) found in '{root}'")
        return cls(files, shape, [name for name, found in scanned if found])

    def stamp(self) -> str:
        """A digest of which matte files there are and when each was last written: a clean frame
        made under another stamp was made from other mattes (a re-track, other objects)."""
        import hashlib

        h = hashlib.sha1()
        for found in self.files:
            for frame in sorted(found):
                f = found[frame]
                st = f.stat()
                h.update(f"{f.parent}/{frame:05d}.png:{st.st_size}:{st.st_mtime_ns};".encode())
        return h.hexdigest()[:16]

    def frames(self) -> list[int]:
        return sorted(set().union(*(found.keys() for found in self.files)))

    def __call__(self, frame: int) -> np.ndarray:
        union = np.zeros(self.shape, bool)
        for found in self.files:
            path = found.get(frame)
            if path is not None and path.exists():
                mask = read_mask(path)
                if mask.shape != self.shape:
                    raise EngineError(f"mask '{path}' is {mask.shape[1]}x{mask.shape[0]}, "
                                      f"the video is {self.shape[1]}x{self.shape[0]}")
                union |= mask
        return union


def remove(session: Session, video, inpainter: Inpainter, req: RemoveRequest, cancel: CancelToken | None = None,
           progress: Callable = no_progress) -> dict:
    """The clean plate of a session's objects, into the session's clean/."""
    objs = req.resolve(session)
    masks = MaskFolders.of_session(session, objs, (video.height, video.width))
    return remove_masks(video, inpainter, masks, session.paths, req, cancel, progress)


def _reported(frames: list[int], finished: int, total: int, progress: Callable) -> int:
    for finished, frame in enumerate(frames, finished + 1):
        progress(finished, total, frame)
    return finished


def remove_masks(video, inpainter: Inpainter, masks: MaskFolders, out: Layout, req: RemoveRequest,
                 cancel: CancelToken | None = None, progress: Callable = no_progress) -> dict:
    """Write the clean plate to out's clean/. Frames finished by an earlier run with the same
    parameters from the same mattes are skipped (resume); after a re-track every frame is made
    again. Nothing is deleted before its replacement exists."""
    have = masks.frames()
    start, end = Clip.of(video).check_range(req.start, req.end, have[0], have[-1])
    clean_dir, log = out.clean_dir, out.clean_log
    sweep_partial_files(clean_dir)
    fmt = plate_format(video.info, req.plate_format)
    linear = plate_linear_space(video.info, fmt.name)
    params = {"dilate": req.dilate, "resize_ratio": req.resize_ratio, "backend": inpainter.name}
    if fmt.name != "png8":  # (8-bit plates keep the parameters older runs logged, so they resume)
        params["plate"] = fmt.name + (f"-{req.compression}" if fmt.name == "exr" else "")
    stamp = masks.stamp()
    done = {int(r["frame"]) for r in read_jsonl(log) if r.get("params") == params and r.get("masks") == stamp}
    frames = list(range(start, end + 1))
    while frames and frames[0] in done and out.clean_path(frames[0], fmt.ext).exists():
        frames.pop(0)
    total = end - start + 1
    finished = total - len(frames)
    progress(finished, total, None)
    # written on a thread behind the inpainter from the frames it read (held); reported once on disk
    write = PlateWriter(video, masks, out, fmt, linear, req.compression, {"params": params, "masks": stamp})
    held = HeldFrames(video)
    with Behind(depth=2, cancel=cancel, name="vta-plate-writer") as writer, \
            closing(inpainter.inpaint(held, masks, frames, dilate=req.dilate, resize_ratio=req.resize_ratio,
                                      cancel=cancel)) as cleaned:
        for frame, image in cleaned:
            writer.submit(partial(write, frame, image, held.take(frame)))
            finished = _reported(writer.results(), finished, total, progress)
    _reported(writer.results(), finished, total, progress)
    result = {"frames": len(frames), "skipped": total - len(frames), "out": str(clean_dir), "format": fmt.name,
              "pattern": out.clean_pattern(fmt.ext), "files": [out.clean_path(f, fmt.ext).name for f in (start, end)]}
    if req.movie:
        path = out.clean_movie(_MOVIE_SUFFIX[req.movie])
        result["movie"] = str(write_clean_movie(out.scan(clean_dir, prefer=fmt.ext), range(start, end + 1), video.fps,
                                                path, req.movie, getattr(video, "colour_tags", None), video.info))
    return result


def layers(out: Layout, objects: list[tuple[str, dict[int, Path]]], compression: str = "zip",
           cancel: CancelToken | None = None, source: VideoInfo | None = None) -> dict:
    """The multi-layer EXRs (layers/): one per frame that has a matte or a clean plate, a layer per
    object named as the user named it (`<name>.A`), the clean plate as `clean.R/G/B` where removal
    has run; each with the `source` clip's timecode and pixel aspect for its frame."""
    if compression not in EXR_COMPRESSIONS:
        raise EngineError(f"EXR compression must be one of: {', '.join(EXR_COMPRESSIONS)}")
    clean = out.scan(out.clean_dir)
    frames = sorted(set(clean).union(*(found.keys() for _, found in objects)))
    folder = write_layers(out, objects, frames, clean, compression, cancel, source)
    return {"layers": str(folder), "layers_pattern": out.pattern("layers", ".exr"), "layer_frames": len(frames)}
