"""Keyframe-aware tracking: which frames each keyframe governs, and running the tracker over them.

Each frame's matte depends only on the keyframes on either side of it. Its track.jsonl record holds
that dependency as a signature ((left keyframe, revision), (right keyframe, revision)), so
re-tracking after a correction recomputes exactly the frames whose signature changed, and resuming
after a crash or a cancel skips the frames already finished.

Between two keyframes the tracker runs forward from the left one (intermediate results go to disk,
not memory) and backward from the right one, and the two are blended, each weighted by its
confidence and by how near its keyframe is.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from .backends.base import Tracker
from .fileio import append_jsonl, atomic_write_png, mask_to_png_array, read_coverage, read_jsonl, read_mask
from .matte import MatteFinisher
from .media.info import image_attributes
from .pipeline import Behind
from .progress import CancelToken, no_progress
from .quality import is_weak
from .session import Session, TrackedObject, frame_name
from .video_io import VideoReader

DIRECTIONS = ("forward", "backward", "both")
Anchor = tuple[int, int] | None  # (keyframe frame, revision)


@dataclass
class Segment:
    """Frames (in order of computation) governed by the same left/right keyframes."""

    left: Anchor
    right: Anchor
    frames: list[int]
    objects: list[int] = field(default_factory=list)

    @property
    def signature(self) -> list:
        return [list(self.left) if self.left else None, list(self.right) if self.right else None]


def plan_segments(keyframes: dict[int, int], start: int, end: int, direction: str = "both") -> list[Segment]:
    """Split [start, end] into the runs of frames between consecutive keyframes (pure function).

    keyframes: frame → revision. Frames before the first keyframe only exist going backward, after
    the last only going forward; between two keyframes, "both" blends, "forward"/"backward" take
    one side. Keyframe frames themselves are returned as one-frame segments anchored on themselves.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    keys = sorted(k for k in keyframes if start <= k <= end)
    segments: list[Segment] = [Segment((k, keyframes[k]), (k, keyframes[k]), [k]) for k in keys]
    if not keys:
        return segments
    go_back = direction in ("backward", "both")
    go_fwd = direction in ("forward", "both")
    if go_back and keys[0] > start:
        k = keys[0]
        segments.append(Segment(None, (k, keyframes[k]), list(range(k - 1, start - 1, -1))))
    for a, b in zip(keys, keys[1:]):
        if b - a < 2:
            continue
        inner = list(range(a + 1, b))
        if direction == "both":
            segments.append(Segment((a, keyframes[a]), (b, keyframes[b]), inner))
        elif go_fwd:
            segments.append(Segment((a, keyframes[a]), None, inner))
        else:
            segments.append(Segment(None, (b, keyframes[b]), inner[::-1]))
    if go_fwd and keys[-1] < end:
        k = keys[-1]
        segments.append(Segment((k, keyframes[k]), None, list(range(k + 1, end + 1))))
    return segments


def blend_weights(frame: int, left: int, right: int, conf_fwd: float, conf_bwd: float) -> tuple[float, float]:
    """Weights of the forward and backward passes for a frame between two keyframes (sum to 1)."""
    span = right - left
    w_f = (right - frame) / span * (conf_fwd + 1e-3)
    w_b = (frame - left) / span * (conf_bwd + 1e-3)
    total = w_f + w_b
    return w_f / total, w_b / total


def blend_confidence(confs: dict, oid: int) -> float:
    """How much to trust a pass where two meet: the tracker's own blend weight when it gives one
    (the classical tracker's `Confidences.blend`), else its confidence."""
    return float(getattr(confs, "blend", confs)[oid])


class TrackRun:
    """One tracking job over a session: plans, skips what is up to date, writes as it goes.
    Its arguments are already checked (engine/workflow.py's TrackRequest); front ends call
    workflow.track, not this."""

    def __init__(self, session: Session, video: VideoReader, tracker: Tracker | None, objects: Iterable[int],
                 direction: str, start: int, end: int, cancel: CancelToken | None = None,
                 progress: Callable = no_progress, on_frame: Callable[[int, int, float], None] | None = None) -> None:
        self.session, self.video, self.tracker = session, video, tracker
        self.direction = direction
        self.start, self.end = start, end
        self.objects: list[TrackedObject] = [session.objects[i] for i in objects]
        self.cancel = cancel or CancelToken()
        self.progress = progress
        self.on_frame = on_frame or (lambda obj, frame, conf: None)
        self.done = 0
        params = session.matte_params()
        self.finish = MatteFinisher(params, session.matte_format)
        self.finish_tag = params.tag(session.matte_format)

    def _sig(self, seg: Segment) -> list:
        """A frame's signature: its keyframes and, unless it is the default hard PNG, the finish
        (so changing the matte's format or finish redoes the frames made otherwise)."""
        return seg.signature + ([self.finish_tag] if self.finish_tag else [])

    # ---- planning ------------------------------------------------------------------------------
    def pending(self) -> list[Segment]:
        """Segments with at least one frame whose stored signature is not the current one, grouped
        across objects that share the same anchors and frames (so the tracker shares its flow)."""
        groups: dict[tuple, Segment] = {}
        for obj in self.objects:
            records = self.session.track_records(obj.id)
            keys = {f: k.rev for f, k in obj.keyframes.items()}
            for seg in plan_segments(keys, self.start, self.end, self.direction):
                todo = [f for f in seg.frames if not self._is_current(obj, f, records.get(f), self._sig(seg))]
                if not todo:
                    continue
                # keep whole segment: a propagation cannot start in the middle unless resuming
                key = (seg.left, seg.right, tuple(seg.frames))
                groups.setdefault(key, Segment(seg.left, seg.right, seg.frames)).objects.append(obj.id)
        return list(groups.values())

    def _is_current(self, obj: TrackedObject, frame: int, record: dict | None, signature: list) -> bool:
        return bool(record) and record.get("sig") == signature and self.session.result_path(obj, frame).exists()

    @staticmethod
    def total_steps(segments: list[Segment]) -> int:
        """Progress units: a frame between two keyframes is passed twice (the forward pass to disk,
        then the backward pass that blends and writes it), every other frame once."""
        return sum(len(s.frames) * len(s.objects) * (2 if _blended(s) else 1) for s in segments)

    # ---- running --------------------------------------------------------------------------------
    def run(self) -> dict:
        """Track what is pending; however it ends (done, cancelled, an error), each object's
        track.jsonl is left compacted to one current record per frame."""
        segments = self.pending()
        total = self._total = self.total_steps(segments)
        self.written = self.steps = 0
        self.progress(0, total, None)
        try:
            with Behind(depth=2, cancel=self.cancel, name="vta-matte-writer") as self._writer:
                for seg in segments:
                    if seg.left and seg.right and seg.left[0] == seg.right[0]:
                        self._write_keyframe(seg)
                    elif _blended(seg):
                        self._run_blended(seg, total)
                    else:
                        self._run_one_way(seg, total)
            self._report_written()
        finally:
            if self.written:
                for obj in self.objects:
                    self.session.compact_track_log(obj.id)
        return {"frames": self.done, "written": self.written, "segments": len(segments)}

    def _write_keyframe(self, seg: Segment) -> None:
        frame = seg.frames[0]
        for oid in seg.objects:
            obj = self.session.objects[oid]
            mask = self.session.keyframe_mask(oid, frame)
            conf = obj.keyframes[frame].confidence
            self._write_result(obj, frame, mask.astype(np.float32), conf, self._sig(seg), keyframe=True)

    def _resume_point(self, seg: Segment, objects: list[TrackedObject]) -> int:
        """How many leading frames of a one-way segment are already finished for every object."""
        n = 0
        records = {o.id: self.session.track_records(o.id) for o in objects}
        for frame in seg.frames:
            if all(self._is_current(o, frame, records[o.id].get(frame), self._sig(seg)) for o in objects):
                n += 1
            else:
                break
        return n

    def _run_one_way(self, seg: Segment, total: int) -> None:
        objects = [self.session.objects[i] for i in seg.objects]
        anchor = seg.left or seg.right
        skip = self._resume_point(seg, objects)
        if skip:  # resume from the last finished frame's own matte instead of redoing the run
            init_frame = seg.frames[skip - 1]
            init = {o.id: self.session.result_mask(o.id, init_frame) for o in objects}
            self._advance(skip * len(objects), total)
        else:
            init_frame = anchor[0]
            init = {o.id: self.session.keyframe_mask(o.id, init_frame) for o in objects}
        frames = seg.frames[skip:]
        if not frames:
            return
        for frame, probs, confs in self.tracker.propagate(self.video, init_frame, init, frames, self.cancel):
            for obj in objects:
                self._write_result(obj, frame, probs[obj.id], confs[obj.id], self._sig(seg))

    def _work_dir(self, obj: TrackedObject, seg: Segment):
        return self.session.paths.work_dir(obj.id, f"{seg.left[0]}-{seg.left[1]}_{seg.right[0]}-{seg.right[1]}")

    def _run_blended(self, seg: Segment, total: int) -> None:
        objects = [self.session.objects[i] for i in seg.objects]
        left, right = seg.left[0], seg.right[0]
        # forward pass → probability maps on disk (bounded memory), resumable per frame
        work = {o.id: self._work_dir(o, seg) for o in objects}
        have_fwd = [f for f in seg.frames if all((work[o.id] / frame_name(f)).exists() for o in objects)]
        start_idx = len(have_fwd) if have_fwd == seg.frames[:len(have_fwd)] else 0
        self._count_steps(start_idx * len(objects), total)
        if start_idx < len(seg.frames):
            init_frame = seg.frames[start_idx - 1] if start_idx else left
            init = {o.id: (read_mask(work[o.id] / frame_name(init_frame)) if start_idx
                           else self.session.keyframe_mask(o.id, left)) for o in objects}
            for frame, probs, confs in self.tracker.propagate(self.video, init_frame, init, seg.frames[start_idx:], self.cancel):
                for obj in objects:
                    prob16 = mask_to_png_array(probs[obj.id], bits=16)
                    append_jsonl(work[obj.id] / "fwd.jsonl", {"frame": frame, "confidence": float(confs[obj.id]),
                                                              "blend": blend_confidence(confs, obj.id)})
                    atomic_write_png(work[obj.id] / frame_name(frame), prob16)
                    self._count_steps(1, total, frame)
                self._report_written()  # mattes written meanwhile (a keyframe's) count now, not after the pass
        fwd_conf = {o.id: {} for o in objects}
        fwd_blend = {o.id: {} for o in objects}
        for obj in objects:
            for rec in read_jsonl(work[obj.id] / "fwd.jsonl"):
                fwd_conf[obj.id][int(rec["frame"])] = float(rec["confidence"])
                fwd_blend[obj.id][int(rec["frame"])] = float(rec.get("blend", rec["confidence"]))
        # backward pass from the right keyframe, blended with the forward result frame by frame
        backward = seg.frames[::-1]
        skip = self._resume_point(Segment(seg.left, seg.right, backward), objects)
        if skip:
            init_frame = backward[skip - 1]
            init = {o.id: self.session.result_mask(o.id, init_frame) for o in objects}
            self._advance(skip * len(objects), total)
        else:
            init_frame = right
            init = {o.id: self.session.keyframe_mask(o.id, right) for o in objects}
        if backward[skip:]:
            for frame, probs, confs in self.tracker.propagate(self.video, init_frame, init, backward[skip:], self.cancel):
                for obj in objects:
                    fwd = read_coverage(work[obj.id] / frame_name(frame))
                    c_f = fwd_conf[obj.id].get(frame, 0.5)
                    w_f, w_b = blend_weights(frame, left, right, fwd_blend[obj.id].get(frame, c_f),
                                             blend_confidence(confs, obj.id))
                    prob = w_f * fwd + w_b * probs[obj.id]
                    self._write_result(obj, frame, prob, w_f * c_f + w_b * confs[obj.id], self._sig(seg))
        for obj in objects:
            shutil.rmtree(work[obj.id], ignore_errors=True)

    def _write_result(self, obj: TrackedObject, frame: int, prob: np.ndarray, conf: float, signature: list,
                      keyframe: bool = False) -> None:
        """The matte and its track.jsonl record, made and written on the writer thread while the
        tracker goes on (the finish, PNG/EXR encoding and the fsync'd record release the GIL);
        progress and `on_frame` follow once both are on disk. "weak" is engine.quality's flag
        (never on a keyframe's own frame: that matte is the artist's). The probability gets the
        session's finish (engine/matte); an EXR matte carries the frame's timecode and pixel aspect."""
        record = {"frame": frame, "confidence": round(float(conf), 4), "weak": is_weak(conf, keyframe), "sig": signature}

        def write() -> tuple[int, int, float]:
            coverage = self.finish(obj.id, frame, prob, lambda: self.video.read(frame))
            self.session.write_result(obj, frame, coverage, image_attributes(self.video.info, frame))
            append_jsonl(self.session.track_log_path(obj), record)
            self.written += 1  # only this thread counts; read once it has stopped
            return obj.id, frame, float(conf)

        self._writer.submit(write)
        self._report_written()

    def _report_written(self) -> None:
        for oid, frame, conf in self._writer.results():
            self.on_frame(oid, frame, conf)
            self._advance(1, self._total, frame)

    def _advance(self, n: int, total: int, frame: int | None = None) -> None:
        """`n` frames finished (written or found current)."""
        self.done += n
        self._count_steps(n, total, frame)

    def _count_steps(self, n: int, total: int, frame: int | None = None) -> None:
        self.steps += n
        self.progress(self.steps, total, frame)


def _blended(seg: Segment) -> bool:
    """Between two different keyframes: a forward pass, then a backward one that blends."""
    return bool(seg.left and seg.right and seg.left[0] != seg.right[0])

