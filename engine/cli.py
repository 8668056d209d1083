"""`vta-engine`: the headless path. Every subcommand validates all its input before it writes
anything, prints one line on error (exit 2) and never a traceback, so scripts can rely on it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__, backends
from .errors import Cancelled, EngineError
from .fileio import read_mask
from .pipeline import MaskFolders, check_clicks, parse_click, remove, segment_clicks, import_mask
from .session import Session
from .tracking import DIRECTIONS, TrackRun
from .video_io import open_video


# ---- progress ------------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on stderr, or JSON lines on stdout with --json."""

    def __init__(self, label: str, as_json: bool) -> None:
        self.label, self.as_json, self.t0, self.last = label, as_json, time.monotonic(), 0.0

    def __call__(self, done: int, total: int, frame: int | None = None) -> None:
        now = time.monotonic()
        if self.as_json:
            print(json.dumps({"event": "progress", "stage": self.label, "done": done, "total": total,
                              "frame": frame}), flush=True)
            return
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-6)
        width = 30
        fill = int(width * done / total) if total else width
        sys.stderr.write(f"\r{self.label:8s} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {rate:5.1f} fps")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def emit(args, message: str, **data) -> None:
    if args.json:
        print(json.dumps({"event": "done", **data}), flush=True)
    else:
        print(message)


# ---- helpers -------------------------------------------------------------------------------------
def _clicks(args, video) -> list:
    clicks = [parse_click(c) for c in (args.click or [])]
    check_clicks(clicks, video.width, video.height)
    return clicks


def _frame(video, frame: int | None, default: int) -> int:
    frame = default if frame is None else frame
    if not 0 <= frame < len(video):
        raise EngineError(f"frame {frame} is out of range: the clip has frames 0..{len(video) - 1}")
    return frame


def _prepare_keyframe(args, video, clicks):
    """Everything a keyframe needs, checked before the session is touched."""
    frame = _frame(video, args.frame, args.start if args.start is not None else 0)
    mask = None
    if getattr(args, "init_mask", None):
        try:
            mask = read_mask(args.init_mask)
        except FileNotFoundError:
            raise EngineError(f"cannot read mask '{args.init_mask}'") from None
        if mask.shape != (video.height, video.width):
            raise EngineError(f"mask '{args.init_mask}' is {mask.shape[1]}x{mask.shape[0]}, "
                              f"the video is {video.width}x{video.height}")
        if not mask.any():
            raise EngineError(f"mask '{args.init_mask}' is empty")
    elif not clicks:
        raise EngineError("give at least one --click X,Y (or --init-mask PNG)")
    return frame, mask


def _session_with_object(args, video):
    session = Session.open_or_create(args.out, str(Path(args.video).resolve()), len(video))
    name = args.object or "object1"
    try:
        obj = session.get_object(name)
    except EngineError:
        obj = session.add_object(name)
    bits = getattr(args, "matte_bits", None)
    if bits and bits != session.matte_bits:
        session.matte_bits = bits
        session.save()
    return session, obj


def _set_keyframe(args, session, obj, video, frame, clicks, mask) -> float:
    if mask is not None:
        import_mask(session, video, obj.id, frame, mask)
        return 1.0
    segmenter = backends.create("segmenter", args.segmenter, device=args.device)
    _, confidence = segment_clicks(session, video, segmenter, obj.id, frame, clicks)
    return confidence


def _track(args, session, video, objects=None) -> dict:
    start = _frame(video, args.start, 0)
    end = _frame(video, args.end, len(video) - 1)
    if start > end:
        raise EngineError(f"--start {start} is after --end {end}")
    tracker = backends.create("tracker", args.tracker, device=args.device)
    run = TrackRun(session, video, tracker, objects, args.direction, start, end,
                   progress=Progress("track", args.json))
    return run.run()


def _remove(args, video, masks_dir, out) -> dict:
    masks = MaskFolders.find(masks_dir, (video.height, video.width), args.objects.split(",") if args.objects else None)
    inpainter = backends.create("inpainter", args.inpainter, device=args.device)
    result = remove(video, inpainter, masks, out, args.start, args.end, args.dilate, args.resize_ratio,
                    progress=Progress("remove", args.json))
    if getattr(args, "movie", None):
        from .outputs import write_clean_movie
        frames = range(args.start if args.start is not None else masks.frames()[0],
                       (args.end if args.end is not None else masks.frames()[-1]) + 1)
        suffix = ".mkv" if args.movie == "ffv1" else ".mov"
        result["movie"] = str(write_clean_movie(Path(out) / "clean", frames, video.fps,
                                                Path(out) / f"clean{suffix}", args.movie))
    return result


# ---- subcommands ---------------------------------------------------------------------------------
def cmd_info(args) -> None:
    with open_video(args.video) as video:
        info = video.info.to_dict()
    info["backends"] = backends.report()
    from .device import choose_device, describe
    info["device"] = describe(choose_device())
    if args.json:
        print(json.dumps(info), flush=True)
        return
    print(f"{info['path']}: {info['kind']} {info['width']}x{info['height']} {info['fps']:.3f} fps, "
          f"{info['frame_count']} frames ({info['codec']}); device {info['device']}")
    for kind, rep in info["backends"].items():
        notes = "; ".join(f"{n}: {r}" for n, r in rep["reasons"].items())
        print(f"  {kind:9s} {rep['auto']}" + (f"   (not available: {notes})" if notes else ""))


def cmd_segment(args) -> None:
    with open_video(args.video) as video:
        clicks = _clicks(args, video)
        frame, _ = _prepare_keyframe(args, video, clicks)
        session, obj = _session_with_object(args, video)
        conf = _set_keyframe(args, session, obj, video, frame, clicks, None)
        # the segmentation is also the result for that frame (a keyframe needs no tracker)
        TrackRun(session, video, None, [obj.id], "forward", frame, frame).run()
        path = session.result_path(obj, frame)
    emit(args, f"{path} (confidence {conf:.2f})", mask=str(path), confidence=conf, frame=frame)


def cmd_track(args) -> None:
    with open_video(args.video) as video:
        clicks = _clicks(args, video)
        frame, mask = _prepare_keyframe(args, video, clicks)
        session, obj = _session_with_object(args, video)
        if clicks or mask is not None:
            _set_keyframe(args, session, obj, video, frame, clicks, mask)
        result = _track(args, session, video, [obj.id])
        mask_dir = session.mask_dir(obj)
        if args.preview:
            from .outputs import write_mask_products
            write_mask_products(video, [(session.mask_dir(o), o.color) for o in session.objects.values()],
                                range(_frame(video, args.start, 0), _frame(video, args.end, len(video) - 1) + 1),
                                args.out)
        low = sorted(f for f, c in session.confidence(obj.id).items() if c < 0.5)
    emit(args, f"{mask_dir}: {result['frames']} frames tracked" +
         (f"; low confidence on {len(low)} frames (first: {low[:10]})" if low else ""),
         masks=str(mask_dir), low_confidence=low, **result)


def cmd_remove(args) -> None:
    with open_video(args.video) as video:
        result = _remove(args, video, args.masks, args.out)
    emit(args, f"{result['out']}: {result['frames']} frames cleaned ({result['skipped']} kept from before)", **result)


def cmd_run(args) -> None:
    with open_video(args.video) as video:
        clicks = _clicks(args, video)
        frame, mask = _prepare_keyframe(args, video, clicks)
        session, obj = _session_with_object(args, video)
        _set_keyframe(args, session, obj, video, frame, clicks, mask)
        tracked = _track(args, session, video, [obj.id])
        args.objects = None
        removed = _remove(args, video, args.out, args.out)
    emit(args, f"masks: {session.mask_dir(obj)} ({tracked['frames']} frames), clean plate: {removed['out']}",
         masks=str(session.mask_dir(obj)), clean=removed["out"])


def cmd_demo(args) -> None:
    from .demo import run_demo
    result = run_demo(Path(args.out), frames=args.frames, size=args.size, as_json=args.json)
    emit(args, result["summary"], **{k: v for k, v in result.items() if k != "summary"})


def cmd_serve(args) -> None:
    from .server.cli import run_serve
    run_serve(args)


# ---- parser --------------------------------------------------------------------------------------
def _add_backend_options(p, kinds) -> None:
    for kind in kinds:
        p.add_argument(f"--{kind}", default="auto", help=f"{kind} backend (default: auto = best available)")
    if not any(a.dest == "device" for a in p._actions):
        p.add_argument("--device", metavar="DEVICE",
                       help="cuda, cuda:N, mps or cpu for learned backends (default: the best present)")


def _add_range(p) -> None:
    p.add_argument("--start", type=int, help="first frame (0-based; default: first)")
    p.add_argument("--end", type=int, help="last frame, inclusive (default: last)")


def _add_keyframe_options(p, mask: bool = True) -> None:
    p.add_argument("--click", action="append", metavar="X,Y[,+|-]", help="a click in image pixels; repeat")
    if mask:
        p.add_argument("--init-mask", metavar="PNG", help="start from this mask instead of clicks")
    p.add_argument("--frame", type=int, help="frame the clicks/mask are on (default: --start or 0)")
    p.add_argument("--object", metavar="NAME", help="object name (default: object1)")


def _add_remove_options(p) -> None:
    p.add_argument("--dilate", type=int, default=8, metavar="PX", help="grow the masks by PX pixels (default 8)")
    p.add_argument("--resize-ratio", type=float, default=1.0, metavar="R",
                   help="inpaint at R times the size, 0<R<=1, to save memory and time (default 1)")
    p.add_argument("--movie", choices=["ffv1", "prores"], help="also write the clean plate as a lossless movie")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vta-engine", description="VSE Track Anything engine")
    parser.add_argument("--version", action="version", version=f"vta-engine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable JSON lines on stdout")

    p = sub.add_parser("info", parents=[common], help="video size, fps, frame count; backends in use")
    p.add_argument("video")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("segment", parents=[common], help="mask of one frame from clicks")
    p.add_argument("video")
    _add_keyframe_options(p, mask=False)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_segment, start=None)
    _add_backend_options(p, ["segmenter"])

    p = sub.add_parser("track", parents=[common], help="matte sequence from clicks or a mask on one frame")
    p.add_argument("video")
    _add_keyframe_options(p)
    _add_range(p)
    p.add_argument("--direction", choices=DIRECTIONS, default="both")
    p.add_argument("--preview", action="store_true", help="also write combined/ mattes and preview.mp4")
    p.add_argument("--matte-bits", type=int, choices=(8, 16), default=None,
                   help="8 (hard matte, default) or 16 (soft edges) bits per matte pixel")
    p.add_argument("--out", required=True)
    _add_backend_options(p, ["segmenter", "tracker"])
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("remove", parents=[common], help="clean plate from matte sequences")
    p.add_argument("video")
    p.add_argument("--masks", required=True, help="a track output folder, or a folder of matte PNGs")
    p.add_argument("--objects", help="comma-separated object names to remove (default: all)")
    _add_range(p)
    _add_remove_options(p)
    p.add_argument("--out", required=True)
    _add_backend_options(p, ["inpainter"])
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("run", parents=[common], help="segment, track and remove in one go")
    p.add_argument("video")
    _add_keyframe_options(p)
    _add_range(p)
    _add_remove_options(p)
    p.add_argument("--direction", choices=DIRECTIONS, default="both")
    p.add_argument("--out", required=True)
    _add_backend_options(p, ["segmenter", "tracker", "inpainter"])
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", parents=[common], help="whole pipeline on a generated clip with known truth")
    p.add_argument("--out", default="vta-demo", help="output folder (default ./vta-demo)")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", default="480x270", help="WxH (default 480x270)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("batch", parents=[common], help="many shots from a shots file, optionally on Ray")
    from .batch import add_batch_arguments, cmd_batch
    add_batch_arguments(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("serve", help="HTTP engine for the Blender add-on and pipeline tools")
    try:
        from .server.cli import add_serve_arguments
        add_serve_arguments(p)
    except ImportError:
        pass
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
        return 0
    except EngineError as exc:
        _fail(args, str(exc))
        return 2
    except (Cancelled, KeyboardInterrupt):
        _fail(args, "cancelled; finished frames are kept and the next run resumes from them")
        return 130
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("VTA_DEBUG"):
            raise
        _fail(args, f"internal error: {type(exc).__name__}: {exc} (set VTA_DEBUG=1 for details)")
        return 1


def _fail(args, message: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"event": "error", "message": message}), flush=True)
    print(f"vta-engine: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
