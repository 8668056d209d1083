"""The shots file: load it, check all of it, and turn it into resolved `Shot`s.

A farm run of hundreds of shots must not stop at shot 80 on a typo, so the whole file is checked
before any work starts and every problem is reported at once, each naming the shot and the field.
The structure mirrors `shots.schema.json` (shipped for editors and pipeline tools); the checks a
schema cannot express — files that must exist, names that must be unique, clicks inside the frame —
are done here too, with each shot's video opened once for its size and length.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineError
from .checker import Checker
from .matte import check_matte, matte_finish, matte_format_of, matte_formats

VERSION = 1
BACKEND_KINDS = ("segmenter", "tracker", "inpainter")
DIRECTIONS = ("forward", "backward", "both")
MOVIES = ("ffv1", "prores")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

TOP_KEYS = {"version", "defaults", "shots"}
SHOT_KEYS = {"name", "video", "out", "start", "end", "objects", "remove", "matte_format", "matte"}
OBJECT_KEYS = {"name", "init_mask", "frame", "clicks"}
CLICK_KEYS = {"frame", "x", "y", "positive"}
REMOVE_KEYS = {"dilate", "resize_ratio", "movie"}
SHOT_MATTE_KEYS = {"matte_format", "matte"}  # a shot's own matte (matte.py)


@dataclass(frozen=True)
class Options:
    """Backend and output options, as on the CLI (defaults are the CLI's)."""

    segmenter: str = "auto"
    tracker: str = "auto"
    inpainter: str = "auto"
    device: str | None = None
    direction: str = "both"
    matte_bits: int | None = None
    matte_format: str | None = None  # png8, png16, exr; wins over matte_bits
    matte: dict | None = None  # the matte finish by name (matte.MATTE_KEYS); None: the session's
    preview: bool = False
    dilate: int = 8
    resize_ratio: float = 1.0
    movie: str | None = None


OPTION_KEYS = set(Options.__dataclass_fields__)


@dataclass(frozen=True)
class Click:
    frame: int
    x: float
    y: float
    positive: bool = True


@dataclass(frozen=True)
class ShotObject:
    name: str
    clicks: tuple[Click, ...] = ()
    init_mask: Path | None = None
    frame: int | None = None


@dataclass(frozen=True)
class Shot:
    name: str
    video: Path
    out: Path
    start: int | None
    end: int | None
    objects: tuple[ShotObject, ...]
    remove: bool
    options: Options
    frames: int  # length of the shot's range, for the summary

    def to_dict(self) -> dict:
        """Plain data, for sending a shot to another process (a Ray task)."""
        return {"name": self.name, "video": str(self.video), "out": str(self.out), "start": self.start,
                "end": self.end, "remove": self.remove, "frames": self.frames,
                "options": dict(self.options.__dict__),
                "objects": [{"name": o.name, "init_mask": str(o.init_mask) if o.init_mask else None,
                             "frame": o.frame, "clicks": [c.__dict__ for c in o.clicks]} for o in self.objects]}

    @classmethod
    def from_dict(cls, d: dict) -> "Shot":
        objects = tuple(ShotObject(o["name"], tuple(Click(**c) for c in o["clicks"]),
                                   Path(o["init_mask"]) if o["init_mask"] else None, o["frame"])
                        for o in d["objects"])
        return cls(d["name"], Path(d["video"]), Path(d["out"]), d["start"], d["end"], objects, d["remove"],
                   Options(**d["options"]), d["frames"])


class ShotsFileError(EngineError):
    """The shots file has problems; `errors` holds one line per problem."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{path}: {len(errors)} error{'s' * (len(errors) != 1)} in the shots file; no shot was run")


def _backend_names(kind: str) -> list[str]:
    from ..backends import REGISTRY
    return ["auto", *REGISTRY[kind]]


def _options(chk: Checker, data, field: str, base: Options, allowed: set[str]) -> Options:
    """Options from a dict, on top of `base`; bad entries are recorded and left at `base`."""
    if not isinstance(data, dict):
        chk.error(field, "must be an object")
        return base
    chk.keys(data, allowed, field)
    values = dict(base.__dict__)
    for key in sorted(set(data) & allowed):
        value, f = data[key], (f"{field}.{key}" if field else key)
        if key in BACKEND_KINDS:
            got = chk.choice(value, f, _backend_names(key))
        elif key == "device":
            got = value if value is None or (isinstance(value, str) and _DEVICE.match(value)) else None
            if got is None and value is not None:
                chk.error(f, f"must be auto, cpu, mps, cuda or cuda:N, got {json.dumps(value)}")
            values[key] = None if got == "auto" else got
            continue
        elif key == "direction":
            got = chk.choice(value, f, DIRECTIONS)
        elif key == "matte_bits":
            got = chk.choice(value, f, (8, 16)) if chk.integer(value, f) is not None else None
        elif key == "matte_format":
            got = chk.choice(value, f, matte_formats())
        elif key == "matte":
            got = matte_finish(chk, value, f)
        elif key == "preview":
            got = chk.boolean(value, f)
        elif key == "dilate":
            got = chk.integer(value, f, 0, 200)
        elif key == "resize_ratio":
            got = chk.number(value, f)
            if got is not None and not 0 < got <= 1:
                chk.error(f, f"must be in (0, 1], got {value}")
                got = None
        else:  # movie
            got = value if value is None else chk.choice(value, f, MOVIES)
        if got is not None or (key == "movie" and value is None):
            values[key] = got
    return Options(**values)


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _probe_video(path: Path):
    """(frame_count, width, height) of a video, or the reason it cannot be read."""
    from ..video_io import open_video

    try:
        with open_video(path) as video:
            return (len(video), video.width, video.height), None
    except EngineError as exc:
        return None, str(exc)


def _click(chk: Checker, data, field: str) -> Click | None:
    if not isinstance(data, dict):
        chk.error(field, "must be an object {frame, x, y, positive}")
        return None
    chk.keys(data, CLICK_KEYS, field)
    got = {}
    for key in ("frame", "x", "y"):
        if chk.required(data, key, f"{field}.{key}"):
            got[key] = (chk.integer(data[key], f"{field}.{key}", 0) if key == "frame"
                        else chk.number(data[key], f"{field}.{key}"))
    positive = chk.boolean(data["positive"], f"{field}.positive") if "positive" in data else True
    if None in got.values() or len(got) < 3 or positive is None:
        return None
    return Click(got["frame"], got["x"], got["y"], positive)


def _object(chk: Checker, data, field: str, base: Path) -> ShotObject | None:
    if not isinstance(data, dict):
        chk.error(field, "must be an object {name, clicks} or {name, init_mask, frame}")
        return None
    chk.keys(data, OBJECT_KEYS, field)
    name = chk.text(data["name"], f"{field}.name") if chk.required(data, "name", f"{field}.name") else None
    has_clicks, has_mask = "clicks" in data, "init_mask" in data
    if has_clicks == has_mask:
        chk.error(field, "needs either 'clicks' or 'init_mask' + 'frame'" if not has_clicks
                  else "has both 'clicks' and 'init_mask'; give one")
        return None
    if has_mask:
        if "frame" not in data:
            chk.error(f"{field}.frame", "missing (the frame the init_mask is on)")
            return None
        frame = chk.integer(data["frame"], f"{field}.frame", 0)
        mask = chk.text(data["init_mask"], f"{field}.init_mask")
        if mask is not None:
            mask = _resolve(base, mask)
            if not mask.is_file():
                chk.error(f"{field}.init_mask", f"file '{mask}' does not exist")
                mask = None
        return ShotObject(name, (), mask, frame) if None not in (name, frame, mask) else None
    if "frame" in data:
        chk.error(f"{field}.frame", "only goes with init_mask (each click has its own frame)")
    clicks = data["clicks"]
    if not isinstance(clicks, list) or not clicks:
        chk.error(f"{field}.clicks", "must be a non-empty list of {frame, x, y, positive}")
        return None
    parsed = [_click(chk, c, f"{field}.clicks[{i}]") for i, c in enumerate(clicks)]
    if name is None or None in parsed:
        return None
    for frame in sorted({c.frame for c in parsed}):
        if not any(c.positive for c in parsed if c.frame == frame):
            chk.error(f"{field}.clicks", f"frame {frame} has only negative clicks; add a positive one")
            return None
    return ShotObject(name, tuple(parsed))


def _check_against_video(chk: Checker, shot: Shot, size: tuple[int, int, int]) -> Shot | None:
    """Range, click and keyframe checks that need the video's length and size."""
    count, width, height = size
    ok = True
    for key, value in (("start", shot.start), ("end", shot.end)):
        if value is not None and value >= count:
            chk.error(key, f"frame {value} is out of range: the video has frames 0..{count - 1}")
            ok = False
    start = shot.start or 0
    end = count - 1 if shot.end is None else shot.end
    if ok and start > end:
        chk.error("start", f"start {start} is after end {end}")
        ok = False
    for i, obj in enumerate(shot.objects):
        frames = [obj.frame] if obj.init_mask else sorted({c.frame for c in obj.clicks})
        for frame in frames:
            if ok and not start <= frame <= end:
                chk.error(f"objects[{i}]", f"keyframe on frame {frame} is outside the shot's frames {start}..{end}")
                ok = False
        for j, c in enumerate(obj.clicks):
            if not (0 <= c.x < width and 0 <= c.y < height):
                chk.error(f"objects[{i}].clicks[{j}]", f"({c.x:g}, {c.y:g}) is outside the {width}x{height} frame")
                ok = False
    if not ok:
        return None
    return Shot(**{**shot.__dict__, "frames": end - start + 1})


def _shot(chk: Checker, data: dict, base: Path, defaults: Options) -> Shot | None:
    chk.keys(data, SHOT_KEYS, "")
    got = {}
    for key in ("video", "out"):
        if chk.required(data, key, key):
            got[key] = chk.text(data[key], key)
    for key in ("start", "end"):
        got[key] = chk.integer(data[key], key, 0) if key in data else None
    objects = []
    if chk.required(data, "objects", "objects"):
        if not isinstance(data["objects"], list) or not data["objects"]:
            chk.error("objects", "must be a non-empty list")
        else:
            objects = [_object(chk, o, f"objects[{i}]", base) for i, o in enumerate(data["objects"])]
            seen: set[str] = set()  # names as typed: each object of a shot needs its own
            for i, o in enumerate(objects):
                if o is None:
                    continue
                if not o.name.strip():
                    chk.error(f"objects[{i}].name", "must not be empty")
                elif o.name in seen:
                    chk.error(f"objects[{i}].name", f"'{o.name}' names two objects of this shot; names must differ")
                else:
                    seen.add(o.name)
                    continue
                objects[i] = None
    remove, options = False, defaults
    if "remove" in data:
        value = data["remove"]
        if isinstance(value, dict):
            remove, options = True, _options(chk, value, "remove", defaults, REMOVE_KEYS)
        elif isinstance(value, bool):
            remove = value
        else:
            chk.error("remove", "must be true, false or {dilate, resize_ratio, movie}")
    finish = {key: data[key] for key in SHOT_MATTE_KEYS if key in data}
    if finish:  # the shot's own matte: its format, and a finish that replaces the defaults' whole
        before = len(chk.errors)
        options = _options(chk, finish, "", options, SHOT_MATTE_KEYS)
        if len(chk.errors) > before:
            return None
    if not check_matte(chk, options.matte, options.matte_format, options.matte_bits):
        return None
    if (got.get("video") is None or got.get("out") is None or not objects or None in objects
            or any(key in data and got[key] is None for key in ("start", "end"))):
        return None
    video = _resolve(base, got["video"])
    size, reason = _probe_video(video)
    if size is None:
        chk.error("video", reason if str(video) in reason else f"'{video}': {reason}")
        return None
    shot = Shot(data["name"], video, _resolve(base, got["out"]), got["start"], got["end"], tuple(objects),
                remove, options, 0)
    return _check_against_video(chk, shot, size)


def parse_shots(data, path: Path) -> list[Shot]:
    """Check a loaded shots document; raise ShotsFileError listing every problem, or return the shots."""
    chk = Checker()
    base = path.resolve().parent
    chk.where = f"{path}: "
    if not isinstance(data, dict):
        raise ShotsFileError(path, [f"{path}: the file must hold a JSON object with 'version' and 'shots'"])
    chk.keys(data, TOP_KEYS, "")
    if chk.required(data, "version", "version") and data["version"] != VERSION:
        chk.error("version", f"must be {VERSION}, got {json.dumps(data['version'])}")
    defaults = _options(chk, data.get("defaults", {}), "defaults", Options(), OPTION_KEYS)
    if defaults.matte_format and defaults.matte_bits and \
            defaults.matte_format != matte_format_of(None, defaults.matte_bits):
        chk.error("defaults.matte_format", f"{defaults.matte_format} disagrees with matte_bits "
                                           f"{defaults.matte_bits}; give one")
    shots_data = data.get("shots")
    if not chk.required(data, "shots", "shots") or not isinstance(shots_data, list) or not shots_data:
        if shots_data is not None:
            chk.error("shots", "must be a non-empty list")
        raise ShotsFileError(path, chk.errors)
    shots: list[Shot | None] = []
    names: dict[str, int] = {}
    outs: dict[Path, str] = {}
    for i, item in enumerate(shots_data):
        name = item.get("name") if isinstance(item, dict) else None
        label = f"'{name}' (shots[{i}])" if isinstance(name, str) and name.strip() else f"shots[{i}]"
        chk.where = f"{path}: shot {label}: "
        if not isinstance(item, dict):
            chk.error("", "must be an object")
            shots.append(None)
            continue
        if chk.required(item, "name", "name") and chk.text(item["name"], "name") is not None:
            if name in names:
                chk.error("name", f"'{name}' is also the name of shots[{names[name]}]")
            names.setdefault(name, i)
        shot = _shot(chk, item, base, defaults)
        if isinstance(item.get("out"), str) and item["out"].strip():
            out = _resolve(base, item["out"]).resolve()
            if out in outs:
                chk.error("out", f"'{item['out']}' is also the out of {outs[out]}; each shot needs its own")
            outs.setdefault(out, label)
        shots.append(shot)
    if chk.errors:
        raise ShotsFileError(path, chk.errors)
    return shots  # type: ignore[return-value]


def load_shots(path: str | Path) -> list[Shot]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EngineError(f"cannot read shots file '{path}': {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ShotsFileError(path, [f"{path}: not valid JSON: {exc}"]) from None
    return parse_shots(data, path)


def select(shots: list[Shot], names: list[str] | None) -> list[Shot]:
    """The shots named on the command line (all when none), in file order."""
    if not names:
        return shots
    known = {s.name for s in shots}
    missing = [n for n in names if n not in known]
    if missing:
        raise EngineError(f"no shot named {', '.join(repr(n) for n in missing)} in the shots file "
                          f"(shots: {', '.join(s.name for s in shots)})")
    return [s for s in shots if s.name in set(names)]
