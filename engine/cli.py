"""`vta-engine`: the headless path. Every subcommand validates all its input before it writes
anything, prints one line on error (exit 2) and never a traceback, so scripts can rely on it.
The operations themselves are engine/workflow.py's, the same the server and the demo call."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from . import __version__, backends, config, workflow
from .errors import Cancelled, EngineError
from .fileio import MATTE_FORMATS, read_mask
from .malloc import tune_allocator
from .matte.params import EDGE_MODES
from .media.images import EXR_COMPRESSIONS
from .media.numbering import Numbering
from .media.plate import PLATE_FORMATS
from .progress import ConsoleProgress
from .quality import is_weak
from .session import Layout, Session, check_folder
from .tracking import DIRECTIONS
from .video_io import open_video
from .workflow import Clip, ImportMaskRequest, RemoveRequest, SegmentRequest, TrackRequest

SETTINGS = config.Settings()  # replaced by config.load() in main()
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cmd | head`


def emit(args, message: str, **data) -> None:
    if args.json:
        print(json.dumps({"event": "done", **data}), flush=True)
    else:
        print(message)


# ---- helpers: everything checked before the output folder is touched -------------------------------
def _backend(args, kind: str):
    return backends.create(kind, getattr(args, kind), device=args.device or SETTINGS.device)


def _keyframe_request(args, clip: Clip) -> SegmentRequest | ImportMaskRequest | None:
    """The keyframe the command line asks for (clicks or --init-mask), checked against the clip."""
    start = getattr(args, "start", None)
    frame = args.frame if args.frame is not None else (start if start is not None else 0)
    path = getattr(args, "init_mask", None)
    if path:
        try:
            mask = read_mask(path)
        except FileNotFoundError:
            raise EngineError(f"cannot read mask '{path}'") from None
        return ImportMaskRequest(frame, mask, what=f"mask '{path}'").check(clip)
    clicks = tuple(workflow.parse_click(c) for c in (args.click or []))
    if clicks:
        return SegmentRequest(frame, clicks).check(clip)
    clip.check_frame(frame)
    return None


def _object_name(args) -> str:
    return (args.object or "object1").strip()


def _require_keyframe(args, request) -> None:
    """Without clicks or a mask, the object must already have a keyframe in --out (a re-run)."""
    if request is not None:
        return
    if Layout(args.out).session_file.exists():
        obj = Session.load(args.out).find_object(_object_name(args))
        if obj is not None and obj.keyframes:
            return
    raise EngineError("give at least one --click X,Y (or --init-mask PNG)")


def _numbering(args, video) -> Numbering | None:
    return Numbering.of(video.info, getattr(args, "start_number", None))


def _session_with_object(args, video):
    session = Session.open_or_create(args.out, str(Path(args.video).resolve()), len(video), _numbering(args, video),
                                     strict=getattr(args, "start_number", None) is not None)
    obj = session.find_object(_object_name(args)) or session.add_object(_object_name(args))
    compression = getattr(args, "exr_compression", None) if _matte_format(args) == "exr" else None
    if compression and compression != session.exr_compression:
        session.exr_compression = compression
        session.save()
    return session, obj


def _matte_format(args) -> str | None:
    return getattr(args, "matte_format", None) or {8: "png8", 16: "png16"}.get(getattr(args, "matte_bits", None))


def _matte_finish(args) -> dict | None:
    """The --matte-* finish options given (None: keep the session's)."""
    given = {k: getattr(args, f"matte_{k}", None) for k in ("grow", "feather", "edges", "temporal")}
    return {k: v for k, v in given.items() if v is not None} or None


def _set_keyframe(session, obj, video, request, segmenter) -> float:
    if isinstance(request, ImportMaskRequest):
        return workflow.import_mask(session, video, obj.id, request).confidence
    return workflow.segment(session, video, segmenter, obj.id, request).confidence


# ---- subcommands ---------------------------------------------------------------------------------
def _open(args):
    """The clip, with the rate and numbering of the command line (--fps, --start-number)."""
    fps = getattr(args, "fps", None)
    if fps is not None and not 0 < fps < 1000:
        raise EngineError(f"--fps must be a rate in frames per second, got {fps:g}")
    return open_video(args.video, fps=fps, start_number=getattr(args, "start_number", None))


def describe_source(info: dict) -> list[str]:
    """`info`'s lines about the source: format, depth, colour, frame numbers and gaps, timecode, aspect."""
    from .media.info import describe_gaps

    depth = f"{info['pixel_type']}, {info['bit_depth']}-bit"
    colour = f", colour space {info['colorspace']}" if info.get("colorspace") else ""
    rotation = f", rotated {info['rotation']}° on display (read upright)" if info.get("rotation") else ""
    numbers = info["frame_numbers"]
    lines = [f"  format {info['file_format']} ({depth}){colour}{rotation}",
             f"  frames {numbers[0]}-{numbers[-1]}" + (f", padding {info['padding']}" if info.get("padding") else "")
             + (f"; gaps (missing numbers): {describe_gaps(info['gaps'])}" if info.get("gaps") else "")]
    stamps = ([f"timecode {info['timecode']}"] if info.get("timecode") else []) + \
        ([f"pixel aspect {info['pixel_aspect']:g}"] if info.get("pixel_aspect", 1.0) != 1.0 else [])
    if stamps:
        lines.append("  " + ", ".join(stamps))
    if info.get("fps_source") == "default":
        lines.append(f"  rate: the files give none, {info['fps']:g} fps assumed (--fps to say otherwise)")
    return lines


def cmd_info(args) -> None:
    with _open(args) as video:
        info = video.info.to_dict()
    info["backends"] = backends.report()
    from .device import choose_device, describe
    info["device"] = describe(choose_device(SETTINGS.device))
    if args.json:
        print(json.dumps(info), flush=True)
        return
    print(f"{info['path']}: {info['kind']} {info['width']}x{info['height']} {info['fps']:.3f} fps, "
          f"{info['frame_count']} frames ({info['codec']}); device {info['device']}")
    for line in describe_source(info):
        print(line)
    for kind, rep in info["backends"].items():
        notes = "; ".join(f"{n}: {r}" for n, r in rep["reasons"].items())
        print(f"  {kind:9s} {rep['auto']}" + (f"   (not available: {notes})" if notes else ""))


def cmd_segment(args) -> None:
    check_folder(args.out)
    with _open(args) as video:
        request = _keyframe_request(args, Clip.of(video))
        if request is None:
            raise EngineError("give at least one --click X,Y")
        segmenter = _backend(args, "segmenter")
        session, obj = _session_with_object(args, video)
        conf = _set_keyframe(session, obj, video, request, segmenter)
        # the keyframe is also the result for its frame (it needs no tracker)
        workflow.track(session, video, None, TrackRequest((obj.id,), request.frame, request.frame, "forward"))
        path = session.result_path(obj, request.frame)
    emit(args, f"{path} (confidence {conf:.2f})", mask=str(path), confidence=conf, frame=request.frame)


def _track(args, video) -> tuple:
    """Keyframe (if given) then track, for `track` and `run`: (session, object, result)."""
    clip = Clip.of(video)
    request = _keyframe_request(args, clip)
    _require_keyframe(args, request)
    start, end = clip.check_range(args.start, args.end)
    track_request = TrackRequest(None, start, end, args.direction, getattr(args, "preview", False),
                                 _matte_format(args), _matte_finish(args))
    segmenter = _backend(args, "segmenter") if isinstance(request, SegmentRequest) else None
    tracker = _backend(args, "tracker")
    session, obj = _session_with_object(args, video)
    if request is not None:
        _set_keyframe(session, obj, video, request, segmenter)
    result = workflow.track(session, video, tracker, replace(track_request, objects=(obj.id,)),
                            progress=ConsoleProgress("track", args.json))
    result["files"] = [session.result_path(obj, f).name for f in (start, end)]  # the first and last matte
    if getattr(args, "layers", False) and args.command == "track":
        result.update(workflow.layers(session.paths, [(o.name, session.result_files(o))
                                                      for o in session.objects.values()], args.exr_compression,
                                      source=video.info))
    return session, obj, result


def cmd_track(args) -> None:
    check_folder(args.out)
    with _open(args) as video:
        session, obj, result = _track(args, video)
        keys = session.objects[obj.id].keyframes
        low = sorted(f for f, c in session.confidence(obj.id).items() if is_weak(c, f in keys))
    mask_dir = session.mask_dir(obj)
    pattern = session.object_files(obj)["pattern"]
    named = " … ".join(dict.fromkeys(result["files"]))
    emit(args, f"{mask_dir}: {result['frames']} frames tracked ({named})" +
         (f"; low confidence on {len(low)} frames (first: {low[:10]})" if low else "") +
         (f"; layers in {result['layers']}" if result.get("layers") else ""),
         masks=str(mask_dir), pattern=pattern, low_confidence=low, **result)


def _remove(args, video, masks_root) -> dict:
    names = [n for n in args.objects.split(",") if n] if getattr(args, "objects", None) else None
    request = _remove_request(args)
    numbering = _numbering(args, video)
    shape = (video.height, video.width)
    if Layout(masks_root).session_file.exists():  # a track output folder: its objects by name
        session = Session.load(masks_root)
        ids = tuple(session.get_object(n, by_name=True).id for n in names) if names else None
        request = replace(request, objects=ids)
        objs = request.resolve(session)
        masks = workflow.MaskFolders.of_session(session, objs, shape)
        if args.start_number is None:
            numbering = session.numbering  # the clean plate numbered like the mattes it comes from
    else:
        masks = workflow.MaskFolders.find(masks_root, shape, names, Layout(masks_root, numbering))
    out = Layout(check_folder(args.out), numbering)
    inpainter = _backend(args, "inpainter")
    result = workflow.remove_masks(video, inpainter, masks, out, request,
                                   progress=ConsoleProgress("remove", args.json))
    if args.layers:
        result.update(workflow.layers(out, masks.objects(), args.exr_compression, source=video.info))
    return result


def _remove_request(args) -> RemoveRequest:
    return RemoveRequest(None, args.start, args.end, args.dilate, args.resize_ratio, args.movie, args.plate_format,
                         args.exr_compression)


def _removed_message(result: dict) -> str:
    text = f"{result['out']}: {result['frames']} frames cleaned ({result['skipped']} kept from before), " \
           f"{result['format']} ({' … '.join(dict.fromkeys(result['files']))})"
    if result.get("movie"):
        text += f"; movie: {result['movie']}"
    if result.get("layers"):
        text += f"; layers in {result['layers']}"
    return text


def cmd_remove(args) -> None:
    check_folder(args.out)
    with _open(args) as video:
        result = _remove(args, video, Path(args.masks))
    emit(args, _removed_message(result), **result)


def cmd_run(args) -> None:
    check_folder(args.out)
    with _open(args) as video:
        _remove_request(args)  # checked first
        session, obj, tracked = _track(args, video)
        args.objects = None
        removed = _remove(args, video, Path(args.out))
    emit(args, f"masks: {session.mask_dir(obj)} ({tracked['frames']} frames), clean plate: "
         + _removed_message(removed), masks=str(session.mask_dir(obj)), clean=removed["out"],
         movie=removed.get("movie"), layers=removed.get("layers"))


def cmd_demo(args) -> None:
    from .demo import run_demo
    result = run_demo(Path(args.out), frames=args.frames, size=args.size, as_json=args.json)
    emit(args, result["summary"], **{k: v for k, v in result.items() if k != "summary"})


def cmd_serve(args) -> None:
    from .server.cli import run_serve
    run_serve(args, SETTINGS)


# ---- parser --------------------------------------------------------------------------------------
def _add_range(p) -> None:
    p.add_argument("--start", type=int, help="first frame (0-based; default: first)")
    p.add_argument("--end", type=int, help="last frame, inclusive (default: last)")


def _add_source_options(p, numbering: bool = True) -> None:
    p.add_argument("--fps", type=float, metavar="FPS",
                   help="frame rate of an image sequence (default: from the files' metadata, else 24)")
    if numbering:
        p.add_argument("--start-number", type=int, metavar="N",
                       help="number a movie's output frames from N, e.g. 1001 (default: 00000.png, 00001.png, "
                            "...); an image sequence's outputs always carry its own file numbers")


def _add_keyframe_options(p, mask: bool = True) -> None:
    p.add_argument("--click", action="append", metavar="X,Y[,+|-]",
                   help="a click in image pixels, '-' last for background; repeat for more. A value that "
                        "starts with '-' must be joined with '=': --click=-1,5")
    if mask:
        p.add_argument("--init-mask", metavar="PNG", help="start from this mask instead of clicks")
    p.add_argument("--frame", type=int, help="frame the clicks/mask are on (default: --start or 0)")
    p.add_argument("--object", metavar="NAME", help="object name, any characters (default: object1)")


def _add_remove_options(p) -> None:
    p.add_argument("--dilate", type=int, default=workflow.DILATE_DEFAULT, metavar="PX",
                   help=f"grow the masks by PX pixels, 0..{workflow.DILATE_MAX} (default {workflow.DILATE_DEFAULT})")
    p.add_argument("--resize-ratio", type=float, default=workflow.RESIZE_RATIO_DEFAULT, metavar="R",
                   help="inpaint at R times the size, 0<R<=1, to save memory and time (default 1)")
    p.add_argument("--movie", choices=workflow.MOVIE_CODECS, help="also write the clean plate as a lossless movie")
    p.add_argument("--plate-format", choices=PLATE_FORMATS, default="source",
                   help="clean plate files: the source's format and bit depth (default), or png8, png16, tiff16, "
                        "exr (half float) or dpx")
    _add_layer_options(p)


def _add_matte_options(p) -> None:
    p.add_argument("--matte-bits", type=int, choices=(8, 16), default=None,
                   help="8 (hard matte, default) or 16 (soft edges) bits per matte pixel")
    p.add_argument("--matte-format", choices=MATTE_FORMATS, default=None,
                   help="png8 (hard matte, default), png16 (soft edges) or exr (half float, channels Y and A)")
    p.add_argument("--matte-grow", type=float, metavar="PX", help="move the edge out by PX (negative: in); 0")
    p.add_argument("--matte-feather", type=float, metavar="PX", help="Gaussian softening of the edge (png16/exr); 0")
    p.add_argument("--matte-edges", choices=EDGE_MODES, help="soft edges from the image near the edge (refined, "
                   "default) or the tracker's own probability")
    p.add_argument("--matte-steady", type=float, metavar="0..1", dest="matte_temporal",
                   help="how much a soft edge keeps its previous frame's alpha where the image agrees; 0.6")


def _add_layer_options(p) -> None:
    p.add_argument("--layers", action="store_true",
                   help="also write one multi-layer EXR per frame to OUT/layers/: a layer per object (<name>.A), "
                        "the clean plate as clean.R/G/B once removed")
    p.add_argument("--exr-compression", choices=EXR_COMPRESSIONS, default="zip",
                   help="compression of the EXRs written: layers, EXR mattes, an EXR plate (default zip; piz, dwaa)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vta-engine", description="VSE Track Anything engine")
    parser.add_argument("--version", action="version", version=f"vta-engine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable JSON lines on stdout")

    p = sub.add_parser("info", parents=[common], help="video size, fps, frame count; backends in use")
    p.add_argument("video")
    _add_source_options(p, numbering=False)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("segment", parents=[common], help="mask of one frame from clicks")
    p.add_argument("video")
    _add_keyframe_options(p, mask=False)
    _add_source_options(p)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_segment, start=None)
    config.add_backend_arguments(p, ["segmenter"])

    p = sub.add_parser("track", parents=[common], help="matte sequence from clicks or a mask on one frame")
    p.add_argument("video")
    _add_keyframe_options(p)
    _add_range(p)
    p.add_argument("--direction", choices=DIRECTIONS, default="both")
    p.add_argument("--preview", action="store_true", help="also write combined/ mattes and preview.mp4")
    _add_matte_options(p)
    _add_layer_options(p)
    _add_source_options(p)
    p.add_argument("--out", required=True)
    config.add_backend_arguments(p, ["segmenter", "tracker"])
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("remove", parents=[common], help="clean plate from matte sequences")
    p.add_argument("video")
    p.add_argument("--masks", required=True, help="a track output folder, or a folder of matte PNGs")
    p.add_argument("--objects", help="comma-separated object names to remove (default: all)")
    _add_range(p)
    _add_remove_options(p)
    _add_source_options(p)
    p.add_argument("--out", required=True)
    config.add_backend_arguments(p, ["inpainter"])
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("run", parents=[common], help="segment, track and remove in one go")
    p.add_argument("video")
    _add_keyframe_options(p)
    _add_range(p)
    _add_remove_options(p)
    p.add_argument("--direction", choices=DIRECTIONS, default="both")
    _add_matte_options(p)
    _add_source_options(p)
    p.add_argument("--out", required=True)
    config.add_backend_arguments(p, ["segmenter", "tracker", "inpainter"])
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", parents=[common], help="whole pipeline on a generated clip with known truth")
    p.add_argument("--out", default="vta-demo", help="output folder (default ./vta-demo)")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", default="480x270", help="WxH (default 480x270)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("batch", parents=[common], help="many shots from a shots file, optionally on Ray")
    from .batch import add_batch_arguments, cmd_batch
    add_batch_arguments(p)
    p.set_defaults(func=functools.partial(cmd_batch, run_command=main))

    p = sub.add_parser("serve", help="HTTP engine for the Blender add-on and pipeline tools")
    try:
        from .server.cli import add_serve_arguments
        add_serve_arguments(p)
    except ImportError:
        pass
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    global SETTINGS
    tune_allocator()
    args = build_parser().parse_args(argv)
    try:
        SETTINGS = config.load()
        args.func(args)
        sys.stdout.flush()
        return 0
    except BrokenPipeError:  # the reader went away (`| head`): not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except EngineError as exc:
        _fail(args, str(exc))
        return 2
    except (Cancelled, KeyboardInterrupt):
        _fail(args, "cancelled; finished frames are kept and the next run resumes from them")
        return 130
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if SETTINGS.debug:
            raise
        _fail(args, f"internal error: {type(exc).__name__}: {exc} (set VTA_DEBUG=1 for details)")
        return 1


def _fail(args, message: str) -> None:
    if getattr(args, "json", False):
        try:
            print(json.dumps({"event": "error", "message": message}), flush=True)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    ConsoleProgress.end_line()
    print(f"vta-engine: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
