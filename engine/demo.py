"""`vta-engine demo`: the whole pipeline from one click on a generated clip whose truth is known,
so a fresh install proves itself with numbers (J&F of the mattes, PSNR of the clean plate)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import backends
from .cli import Progress
from .errors import EngineError
from .evaluation.metrics import boundary_f, jaccard, psnr
from .outputs import write_mask_products
from .pipeline import MaskFolders, remove, segment_clicks
from .session import Click, Session
from .evaluation.synthetic import SyntheticClip
from .tracking import TrackRun
from .video_io import open_video


def run_demo(out: Path, frames: int = 48, size: str = "480x270", as_json: bool = False) -> dict:
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise EngineError(f"--size must look like 480x270, got '{size}'") from None
    if not (64 <= width <= 4096 and 64 <= height <= 4096 and 8 <= frames <= 10000):
        raise EngineError("--size must be 64..4096 on each side and --frames 8..10000")
    clip = SyntheticClip(width, height, frames)
    out.mkdir(parents=True, exist_ok=True)
    movie = clip.write_movie(out / "clip.mp4")
    session_dir = out / "result"
    if (session_dir / "session.json").exists():  # a demo run is always fresh
        import shutil
        shutil.rmtree(session_dir)
    with open_video(movie) as video:
        session = Session.create(session_dir, str(movie.resolve()), len(video))
        obj = session.add_object("object")
        x, y = clip.click(0)
        segmenter = backends.create("segmenter")
        mask0, _ = segment_clicks(session, video, segmenter, obj.id, 0, [Click(x, y, True)])
        tracker = backends.create("tracker")
        TrackRun(session, video, tracker, progress=Progress("track", as_json)).run()
        j = [jaccard(session.result_mask(obj.id, i), clip.mask(i)) for i in range(1, frames)]
        f = [boundary_f(session.result_mask(obj.id, i), clip.mask(i)) for i in range(1, frames)]
        write_mask_products(video, [(session.mask_dir(obj), obj.color)], range(frames), session_dir)
        inpainter = backends.create("inpainter")
        masks = MaskFolders.find(session_dir, (video.height, video.width))
        remove(video, inpainter, masks, session_dir, 0, frames - 1, progress=Progress("remove", as_json), resume=False)
        import cv2
        p_all, p_hole = [], []
        for i in range(frames):
            clean = cv2.imread(str(session_dir / "clean" / f"{i:05d}.png"))[:, :, ::-1]
            truth = clip.background(i)
            p_all.append(psnr(clean, truth))
            p_hole.append(psnr(clean, truth, clip.mask(i)))
    result = {
        "click": [x, y], "first_frame_iou": round(jaccard(mask0, clip.mask(0)), 4),
        "J": round(float(np.mean(j)), 4), "F": round(float(np.mean(f)), 4),
        "JF": round(float(np.mean(j) + np.mean(f)) / 2, 4),
        "psnr_frame": round(float(np.mean(p_all)), 2), "psnr_hole": round(float(np.mean(p_hole)), 2),
        "backends": {"segmenter": segmenter.name, "tracker": tracker.name, "inpainter": inpainter.name},
        "out": str(session_dir),
    }
    result["summary"] = (
        f"demo: {frames} frames {width}x{height}, one click at ({x}, {y})\n"
        f"  mattes:      {session_dir}/masks/object/  J={result['J']:.3f} F={result['F']:.3f} J&F={result['JF']:.3f}\n"
        f"  preview:     {session_dir}/preview.mp4\n"
        f"  clean plate: {session_dir}/clean/  PSNR {result['psnr_frame']:.2f} dB (frame), "
        f"{result['psnr_hole']:.2f} dB (hole)\n"
        f"  backends:    {json.dumps(result['backends'])}")
    return result
