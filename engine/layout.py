"""Every path inside a session (or CLI output) folder, and every output file's name: the one place
they are spelled out (docs/OUTPUTS.md describes the files).

Output frames are named by one rule. A clip with a numbering (an image sequence, or a movie given
--start-number) names each frame `<name>.<number>.<ext>` with the source frame's own number,
zero-filled to the source's padding: `masks/car/car.1001.png`, `clean/plate.1001.exr`. A movie
without one keeps the names sessions have always had, the clip position in five digits
(`00000.png`). Internal files (keyframes, a blend's forward pass) are always by clip position.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from .errors import EngineError
from .media.numbering import Numbering

SESSION_FILE = "session.json"

#: a frame's file name by clip position: internal files, and outputs of a movie without numbering
FRAME_PATTERN = "{frame:05d}.png"
CLEAN_NAME, COMBINED_NAME, LAYERS_NAME = "plate", "combined", "layers"
OUTPUT_EXTENSIONS = (".png", ".exr", ".tif", ".tiff", ".dpx")
_TRAILING_NUMBER = re.compile(r"(-?\d+)(\.[A-Za-z0-9]+)$")


def frame_name(frame: int) -> str:
    return FRAME_PATTERN.format(frame=frame)


class Layout:
    """The paths of one output folder, named with the clip's numbering (None: clip positions)."""

    def __init__(self, root: str | Path, numbering: Numbering | None = None) -> None:
        self.root = Path(root)
        self.numbering = numbering

    # ---- names of output frames -----------------------------------------------------------------
    def pattern(self, name: str, ext: str = ".png") -> str:
        """The str.format pattern of a sequence's file names: `{number}` is the source number,
        `{frame}` the clip position (`car.{number:04d}.png`, or `{frame:05d}.png`)."""
        if self.numbering is None:
            return "{frame:05d}" + ext
        return f"{name}.{{number:0{self.numbering.padding}d}}{ext}"

    def frame_file(self, folder: Path, name: str, frame: int, ext: str = ".png") -> Path:
        number = self.numbering.number(frame) if self.numbering else frame
        return folder / self.pattern(name, ext).format(frame=frame, number=number)

    def numbers(self, frame_count: int) -> list[int]:
        """The source number of each clip position (clip positions when not numbered)."""
        return list(self.numbering.numbers) if self.numbering else list(range(frame_count))

    def scan(self, folder: Path, prefer: str | None = None) -> dict[int, Path]:
        """clip position → file, for the image files in `folder` named as a frame of this clip
        (`<name>.1001.png` for a number of its numbering; `00012.png` when not numbered, the
        position); with two files for one frame
        (a format changed), the one with extension `prefer`."""
        found: dict[int, Path] = {}
        if not folder.is_dir():
            return found
        for path in sorted(folder.iterdir()):
            match = _TRAILING_NUMBER.search(path.name)
            if not match or path.name.startswith(".") or match.group(2).lower() not in OUTPUT_EXTENSIONS:
                continue
            prefix = path.name[:match.start()]
            if (prefix and not prefix.endswith(".")) if self.numbering else prefix:
                continue  # `00012.png` is not a numbered frame, nor `car.1001.png` a frame by position
            number = int(match.group(1))
            frame = self.numbering.position(number) if self.numbering else number
            if frame is None or frame < 0:
                continue
            if frame not in found or path.suffix == prefer:
                found[frame] = path
        return found

    # ---- the folders and files --------------------------------------------------------------------
    @property
    def session_file(self) -> Path:
        return self.root / SESSION_FILE

    def keyframe_dir(self, obj_id: int) -> Path:
        return self.root / "keyframes" / str(obj_id)

    def keyframe_path(self, obj_id: int, frame: int) -> Path:
        return self.keyframe_dir(obj_id) / frame_name(frame)

    @property
    def masks_dir(self) -> Path:
        return self.root / "masks"

    def mask_dir(self, folder: str) -> Path:
        return self.masks_dir / folder

    def mask_path(self, folder: str, frame: int, ext: str = ".png") -> Path:
        return self.frame_file(self.mask_dir(folder), folder, frame, ext)

    def mask_pattern(self, folder: str, ext: str = ".png") -> str:
        return self.pattern(folder, ext)

    def track_log(self, folder: str) -> Path:
        return self.mask_dir(folder) / "track.jsonl"

    @property
    def clean_dir(self) -> Path:
        return self.root / "clean"

    def clean_path(self, frame: int, ext: str = ".png") -> Path:
        return self.frame_file(self.clean_dir, CLEAN_NAME, frame, ext)

    def clean_pattern(self, ext: str = ".png") -> str:
        return self.pattern(CLEAN_NAME, ext)

    @property
    def clean_log(self) -> Path:
        return self.clean_dir / "clean.jsonl"

    @property
    def combined_dir(self) -> Path:
        return self.root / "combined"

    def combined_path(self, frame: int) -> Path:
        return self.frame_file(self.combined_dir, COMBINED_NAME, frame)

    @property
    def layers_dir(self) -> Path:
        return self.root / "layers"

    def layers_path(self, frame: int) -> Path:
        return self.frame_file(self.layers_dir, LAYERS_NAME, frame, ".exr")

    @property
    def preview_path(self) -> Path:
        return self.root / "preview.mp4"

    def clean_movie(self, suffix: str) -> Path:
        return self.root / f"clean{suffix}"

    def work_dir(self, obj_id: int, key: str) -> Path:
        return self.root / ".work" / str(obj_id) / key


# ---- folders ------------------------------------------------------------------------------------
_FOLDER_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_FOLDER_MAX = 48


def check_folder(path: str | Path, what: str = "--out") -> Path:
    """`path` as an output folder: an EngineError (not an OSError later) when it names a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise EngineError(f"{what} '{path}' is a file, not a folder; choose a folder")
    return path


def legacy_folder(name: str) -> str:
    """The folder name sessions made before names and folders were separate (kept for them)."""
    return _FOLDER_CHARS.sub("_", name.strip()).strip("._")[:64]


def folder_slug(name: str) -> str:
    """A readable ASCII folder name for an object name (accents dropped, other runs → "_");
    empty when nothing readable is left (a name in another script)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _FOLDER_CHARS.sub("_", ascii_name.strip()).strip("._")[:_FOLDER_MAX]


def object_folder(name: str, taken: set[str]) -> str:
    """The folder for a new object name (pure): its slug when that is free (compared without case,
    for case-insensitive file systems), else the slug plus a short hash of the exact name, which is
    stable and tells apart names that share a slug (`boom mic`, `boom_mic`, `犬`, `猫`)."""
    slug = folder_slug(name)
    taken = {t.casefold() for t in taken}
    if slug and slug.casefold() not in taken:
        return slug
    digest = hashlib.sha1(name.encode()).hexdigest()
    for n in range(6, len(digest) + 1):
        folder = f"{slug or 'object'}-{digest[:n]}"
        if folder.casefold() not in taken:
            return folder
    raise EngineError(f"no free folder name for object '{name}'")
