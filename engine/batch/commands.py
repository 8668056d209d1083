"""A shot as the `vta-engine` commands an artist would type for it (a pure mapping).

The batch never calls the pipeline directly: every shot goes through exactly the CLI's code path,
so a batch run, a farm task and a hand-typed command give the same files, and the batch inherits
the CLI's checks and its resume (re-running a command skips what is finished)."""

from __future__ import annotations

from dataclasses import dataclass

from .matte import track_flags
from .shots import Options, Shot


@dataclass(frozen=True)
class Step:
    label: str        # "track car@12", "remove": what the progress line shows
    argv: list[str]   # arguments of engine.cli.main, without --json (the runner adds it)


def _range(shot: Shot) -> list[str]:
    argv = []
    if shot.start is not None:
        argv += ["--start", str(shot.start)]
    if shot.end is not None:
        argv += ["--end", str(shot.end)]
    return argv


def _backend(options: Options, kinds: tuple[str, ...]) -> list[str]:
    argv = []
    for kind in kinds:
        argv += [f"--{kind}", getattr(options, kind)]
    if options.device:
        argv += ["--device", options.device]
    return argv


def _click(c) -> str:
    return f"--click={c.x:.10g},{c.y:.10g},{'+' if c.positive else '-'}"


def shot_steps(shot: Shot) -> list[Step]:
    """`track` once per object and keyframe frame (in frame order, all into the shot's `out`), then
    `remove` when asked. Every keyframe but an object's last is tracked on its own frame only
    (`--start F --end F`: the keyframe is set, nothing else is computed), so the last `track`
    tracks each frame once, between all the keyframes. Only the shot's last `track` writes the
    preview, which shows every object."""
    opts = shot.options
    tracking = ["--direction", opts.direction, *_backend(opts, ("segmenter", "tracker")),
                *track_flags(opts.matte, opts.matte_format, opts.matte_bits)]
    steps: list[Step] = []
    for obj in shot.objects:
        if obj.init_mask is not None:
            keyframes = [(obj.frame, ["--init-mask", str(obj.init_mask)])]
        else:
            keyframes = [(frame, [_click(c) for c in obj.clicks if c.frame == frame])
                         for frame in sorted({c.frame for c in obj.clicks})]
        for i, (frame, keys) in enumerate(keyframes):
            span = _range(shot) if i == len(keyframes) - 1 else ["--start", str(frame), "--end", str(frame)]
            argv = ["track", str(shot.video), "--object", obj.name, *keys, "--frame", str(frame),
                    *span, *tracking, "--out", str(shot.out)]
            steps.append(Step(f"track {obj.name}@{frame}", argv))
    if opts.preview and steps:
        steps[-1].argv.insert(-2, "--preview")
    if shot.remove:
        argv = ["remove", str(shot.video), "--masks", str(shot.out), *_range(shot),
                "--dilate", str(opts.dilate), "--resize-ratio", repr(opts.resize_ratio),
                *_backend(opts, ("inpainter",)), "--out", str(shot.out)]
        if opts.movie:
            argv[-2:-2] = ["--movie", opts.movie]
        steps.append(Step("remove", argv))
    return steps
