"""Classical tracker: optical-flow mask propagation corrected against the image every frame.

Plain flow warping drifts, bleeds and, once a thin or occluded part is lost, never gets it back.
Here each frame the previous probability map is warped by DIS optical flow (computed once per
frame pair for all objects, frame.py) and turned into a shape prior that is firm far from the
warped boundary and soft near it, and weakest where the flow is not self-consistent (prior.py).
The object's colour model (keyframe colours kept for good, plus a slowly adapted copy) decides the
pixels the prior leaves open, a guided filter and a graph cut snap the boundary to image edges,
and blobs that do not touch the warped mask are dropped (segment.py). When the object vanishes
(full occlusion, cut), the tracker searches a growing window for a blob with the keyframe's colours
and a plausible size, and resumes from it (recover.py).

Two guards against the compounding losses of frame-to-frame warping (memory.py, motion.py): the
object's own pixels are matched against the new frame, and when the flow disagrees with that match
(a fence or branches in front, thin fast parts) the matched shift joins the flow as a second
hypothesis; and the keyframe mask, kept for good and carried by the object's accumulated motion,
marks where lost parts may grow back (colour permitting) and pushes back leaks far outside it.
A third (guard.py) watches for a matte left on the background after an occlusion: one that moves
with its surroundings for a few frames while the object usually moves against them is re-detected
by the keyframe colours, or moved along the object's usual velocity; a piece of the matte that
came apart from the object and rides on the background is dropped (docs/TRACKING.md). And the
background, remembered where it was seen away from every matte and carried along the flow, counts
against a matte that spreads back onto it (background.py).

Everything runs at a working resolution (long side ~480 px); the probability is upsampled at the
end. Each object's matte is worked out in a window around its warped mask and carried keyframe
shape (segment.py), so the per-frame cost follows the object's size more than the frame's.
State per object is a few small images and histograms (object_track.py): memory does not grow
with clip length. This module is the driver: one state per run, all objects stepped together (on
two threads when there are several: the graph cut and filters run in OpenCV without the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ...base import Tracker, TrackState
from .background import BackgroundMemory
from .confidence import Confidences, combine_confidence, matte_quality
from .frame import FrameSource
from .object_track import ObjectTrack
from .params import TrackerParams


class ClassicalTrackState(TrackState):
    """One run of the classical tracker: the frame source (previous frame and its flow) and one
    ObjectTrack per object."""

    def __init__(self, video, init_frame: int, init_masks: dict, p: TrackerParams) -> None:
        super().__init__(init_frame)
        self.p = p
        cv2.setRNGSeed(p.seed)  # one object's run: same input, same matte (several objects: step_seed)
        self.source = FrameSource(video, p)
        first = self.source.read(init_frame)
        self.tracks: dict[int, ObjectTrack] = {
            oid: ObjectTrack(first, self.source.shrink_mask(oid, mask), p, self.source.long_side)
            for oid, mask in init_masks.items()}
        self.background = BackgroundMemory(first, p, self.source.long_side) \
            if p.background_gain > 0 and self.tracks else None
        self._workers: ThreadPoolExecutor | None = None  # steps several objects side by side; ends with the run

    def _advance(self, index: int) -> tuple[dict[int, np.ndarray], dict[int, float]]:
        frame = self.source.read(index)
        tracks = self.tracks
        if self.background is not None:
            # the last frame's mattes as they ended (after any correction) leave the background to
            # remember; a lost object may be anywhere, so then nothing is remembered
            if not any(track.lost_frames for track in tracks.values()):
                self.background.learn(self._mattes())
            frame.background = self.background.evidence(frame)
        claims = {oid: track.claim(frame) for oid, track in tracks.items()} if len(tracks) > 1 else {}

        def step(oid: int):
            # OpenCV's random generator (the graph cut's k-means start) is per thread: seeded for
            # each object and frame, the mattes are the same whichever thread steps the object
            cv2.setRNGSeed(step_seed(self.p.seed, index, oid))
            taken = [c for other, c in claims.items() if other != oid and c is not None]
            return tracks[oid].step(frame, np.logical_or.reduce(taken) if taken else None)

        if len(tracks) > 1:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vta-track-objects")
            steps = list(self._workers.map(step, tracks))
        else:  # one object: on this thread, whose generator the run seeded once
            steps = [track.step(frame, None) for track in tracks.values()]
        probs = {oid: prob for oid, (prob, _) in zip(tracks, steps)}
        qualities = {oid: quality for oid, (_, quality) in zip(tracks, steps)}
        if len(tracks) > 1:
            resolve_overlaps(probs, self.p.overlap_loser_scale)
        out_probs, confs, gates = {}, {}, {}
        # the cues behind each confidence, for tools/eval_tracking.py --signals
        self.last_quality = {oid: (q, frame.flow.cut_score, tracks[oid].trust) for oid, q in qualities.items()}
        for oid, track in tracks.items():
            track.prob = probs[oid]
            gates[oid] = combine_confidence(qualities[oid], frame.flow.cut_score, track.trust, self.p)
            confs[oid] = matte_quality(qualities[oid], frame.flow.cut_score, track.trust, self.p)
            track.commit(frame, gates[oid])
            out_probs[oid] = self.source.upsample(probs[oid], index)
        return out_probs, Confidences(confs, gates)

    def _mattes(self) -> np.ndarray:
        """Where any object's matte is, at working resolution."""
        return np.logical_or.reduce([track.prob > 0.5 for track in self.tracks.values()])

    def plan(self, frames, cancel=None) -> None:
        self.source.plan(frames, cancel)

    def close(self) -> None:
        self.source.close()
        if self._workers is not None:
            self._workers.shutdown()
            self._workers = None

    def correct(self, probs: dict[int, np.ndarray]) -> None:
        """Replace the last mattes of some objects (full resolution, bool or 0..1) by better ones,
        e.g. a segmenter's redraw: the next step warps from them, while each object's colour model
        and keyframe shape memory carry on (unlike a new run started from them)."""
        for oid, prob in probs.items():
            self.tracks[oid].correct(self.source.shrink_mask(oid, prob).astype(np.float32))


class ClassicalTracker(Tracker):
    """DIS flow propagation with per-frame colour correction, edge snapping and re-detection."""

    name = "classical"
    Params = TrackerParams

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()

    def start(self, video, init_frame, init_masks) -> ClassicalTrackState:
        return ClassicalTrackState(video, init_frame, init_masks, self.params)


def step_seed(seed: int, frame: int, oid: int) -> int:
    """The random seed of one object's step onto one frame (pure function, 31 bits)."""
    return (seed * 1_000_003 + frame * 7_919 + oid * 104_729) & 0x7FFFFFFF


def resolve_overlaps(probs: dict[int, np.ndarray], loser_scale: float) -> None:
    """A pixel belongs to at most one object: the most probable one keeps it, the others keep
    `loser_scale` (< 0.5) × their probability there."""
    ids = list(probs)
    stack = np.stack([probs[i] for i in ids])
    owner = np.argmax(stack, axis=0)
    for k, oid in enumerate(ids):
        p = probs[oid]
        probs[oid] = np.where((owner != k) & (p > 0.5), np.float32(loser_scale) * p, p).astype(np.float32)
