"""`vta-engine demo`: the whole pipeline from one click on a generated clip whose truth is known,
so a fresh install proves itself with numbers (J&F of the mattes, PSNR of the clean plate). It
goes through the same workflow functions as the CLI and the server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from . import backends, workflow
from .errors import EngineError
from .evaluation.metrics import boundary_f, jaccard, psnr
from .evaluation.synthetic import SyntheticClip
from .progress import ConsoleProgress
from .session import Click, Session, check_folder, frame_name
from .video_io import open_video


def run_demo(out: Path, frames: int = 48, size: str = "480x270", as_json: bool = False) -> dict:
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise EngineError(f"--size must look like 480x270, got '{size}'") from None
    if not (64 <= width <= 4096 and 64 <= height <= 4096 and 8 <= frames <= 10000):
        raise EngineError("--size must be 64..4096 on each side and --frames 8..10000")
    clip = SyntheticClip(width, height, frames)
    check_folder(out).mkdir(parents=True, exist_ok=True)
    movie = clip.write_movie(out / "clip.mp4")
    session_dir = check_folder(out / "result", "demo result folder")
    if (session_dir / "session.json").exists():  # a demo run is always fresh
        shutil.rmtree(session_dir)
    with open_video(movie) as video:
        session = Session.create(session_dir, str(movie.resolve()), len(video))
        obj = session.add_object("object")
        x, y = clip.click(0)
        segmenter = backends.create("segmenter")
        key = workflow.segment(session, video, segmenter, obj.id, workflow.SegmentRequest(0, (Click(x, y, True),)))
        tracker = backends.create("tracker")
        workflow.track(session, video, tracker, workflow.TrackRequest(preview=True),
                       progress=ConsoleProgress("track", as_json))
        j = [jaccard(session.result_mask(obj.id, i), clip.mask(i)) for i in range(1, frames)]
        f = [boundary_f(session.result_mask(obj.id, i), clip.mask(i)) for i in range(1, frames)]
        inpainter = backends.create("inpainter")
        workflow.remove(session, video, inpainter, workflow.RemoveRequest(start=0, end=frames - 1),
                        progress=ConsoleProgress("remove", as_json))
        p_all, p_hole = [], []
        for i in range(frames):
            clean = cv2.imread(str(session.clean_dir() / frame_name(i)))[:, :, ::-1]
            truth = clip.background(i)
            p_all.append(psnr(clean, truth))
            p_hole.append(psnr(clean, truth, clip.mask(i)))
    result = {
        "click": [x, y], "first_frame_iou": round(jaccard(key.mask, clip.mask(0)), 4),
        "J": round(float(np.mean(j)), 4), "F": round(float(np.mean(f)), 4),
        "JF": round(float(np.mean(j) + np.mean(f)) / 2, 4),
        "psnr_frame": round(float(np.mean(p_all)), 2), "psnr_hole": round(float(np.mean(p_hole)), 2),
        "backends": {"segmenter": segmenter.name, "tracker": tracker.name, "inpainter": inpainter.name},
        "out": str(session_dir),
    }
    result["summary"] = (
        f"demo: {frames} frames {width}x{height}, one click at ({x}, {y})\n"
        f"  mattes:      {session.mask_dir(obj)}/  J={result['J']:.3f} F={result['F']:.3f} J&F={result['JF']:.3f}\n"
        f"  preview:     {session.paths.preview_path}\n"
        f"  clean plate: {session.clean_dir()}/  PSNR {result['psnr_frame']:.2f} dB (frame), "
        f"{result['psnr_hole']:.2f} dB (hole)\n"
        f"  backends:    {json.dumps(result['backends'])}")
    return result
