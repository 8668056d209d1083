"""Corrections: a click on a tracked frame that has no keyframe starts from the tracked matte and
changes it only near the click, so one click fixes the part that is wrong and keeps the rest
(measurements in docs/CONFIDENCE.md)."""

from __future__ import annotations

import cv2
import numpy as np

from .session import Click, Session


def correction_prior(session: Session, obj_id: int, frame: int) -> np.ndarray | None:
    """The tracked matte of a frame without a keyframe, as the segmenter's previous mask: a
    corrective click then fixes the part that is wrong and keeps the rest (SAM takes it as its mask
    prompt, the classical segmenter as its prior); None where nothing was tracked there."""
    try:
        mask = session.result_mask(obj_id, frame)
    except (OSError, ValueError):  # an unreadable matte: start from the clicks alone
        return None
    return mask if mask is not None and mask.any() else None


CLICK_TOUCH = 4  # px: a change region within this of a click is the one it asked for
CORRECTION_REACH = 0.5  # × sqrt(matte area): how far from its click a correction may change the matte


def correct_matte(matte: np.ndarray, answer: np.ndarray, clicks: list[Click],
                  reach: float = CORRECTION_REACH) -> np.ndarray:
    """A tracked matte corrected by clicks (pure function): the parts of the segmenter's answer
    (made from the clicks with the matte as prior) that a positive click touches are added, those
    of the matte a negative click takes away are removed, each only within `reach` × sqrt(matte
    area) of its click. Everything else stays as tracked: on its own the segmenter's answer loses
    far parts the click said nothing about (the rest of the object) or leaks into a neighbour, and
    scores below the tracked matte (docs/CONFIDENCE.md has the measurements)."""
    matte, answer = matte.astype(bool), answer.astype(bool)
    h, w = matte.shape
    radius = reach * float(np.sqrt(max(float(matte.sum()), 100.0)))
    out = matte.copy()
    ys, xs = np.mgrid[0:h, 0:w]
    for change, positive in ((answer & ~matte, True), (matte & ~answer, False)):
        count, labels = cv2.connectedComponents(change.astype(np.uint8), connectivity=8)
        for c in clicks:
            if c.positive != positive or count < 2:
                continue
            x, y = int(round(min(max(c.x, 0), w - 1))), int(round(min(max(c.y, 0), h - 1)))
            disk = np.zeros((h, w), np.uint8)
            cv2.circle(disk, (x, y), CLICK_TOUCH, 1, -1)
            touched = set(np.unique(labels[(disk > 0) & change]).tolist()) - {0}
            if not touched:
                continue
            region = np.isin(labels, list(touched)) & (np.hypot(xs - x, ys - y) <= radius)
            out = out | region if positive else out & ~region
    return out
