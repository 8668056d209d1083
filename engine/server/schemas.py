"""Request bodies of the HTTP API, with the bounds that turn bad input into a 422 before any work."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import MAX_FRAME_INDEX
from ..workflow import DILATE_DEFAULT, DILATE_MAX, RESIZE_RATIO_DEFAULT

Channel = Annotated[int, Field(ge=0, le=255)]
ObjectIds = list[Annotated[int, Field(ge=1, le=1_000_000)]]  # object ids, never names


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenSession(Strict):
    path: str | None = Field(None, max_length=4096, description="clip on the engine's disk (absolute path)")
    upload: str | None = Field(None, max_length=64, description="sha256 of a finished upload")
    start: int | None = Field(None, ge=0, le=MAX_FRAME_INDEX)
    end: int | None = Field(None, ge=0, le=MAX_FRAME_INDEX)
    reuse: bool = Field(True, description="return the newest existing session for the same clip")


class RangeBody(Strict):
    start: int | None = Field(None, ge=0, le=MAX_FRAME_INDEX)
    end: int | None = Field(None, ge=0, le=MAX_FRAME_INDEX)


class NewObject(Strict):
    name: str | None = Field(None, min_length=1, max_length=128)
    color: list[Channel] | None = Field(None, min_length=3, max_length=3)


class UpdateObject(Strict):
    name: str | None = Field(None, min_length=1, max_length=128)
    color: list[Channel] | None = Field(None, min_length=3, max_length=3)


class ClickBody(Strict):
    frame: int = Field(ge=0, le=MAX_FRAME_INDEX)
    x: float = Field(ge=0, le=1_000_000, allow_inf_nan=False)
    y: float = Field(ge=0, le=1_000_000, allow_inf_nan=False)
    positive: bool = True
    format: Literal["rle", "png", "both", "none"] = "rle"


class TrackBody(Strict):
    objects: ObjectIds | None = Field(None, max_length=256, description="object ids (repeats count once); default: all")
    start: int | None = Field(None, ge=0, le=MAX_FRAME_INDEX)
    end: int | None = Field(None, ge=0, le=MAX_FRAME_INDEX)
    direction: Literal["forward", "backward", "both"] = "both"
    matte_format: Literal["png8", "png16", "exr"] | None = Field(
        None, description="png8 hard mattes, png16 or exr soft ones; default: the session's (png8 at first)")
    matte: dict[str, float | str] | None = Field(
        None, description="the matte finish by name: grow, feather (px), edges ('refined' or 'tracker'), "
                          "temporal (0..1), band, eps; replaces the session's; unknown names are refused")


class RemoveBody(Strict):
    objects: ObjectIds | None = Field(None, max_length=256, description="object ids (repeats count once); default: all")
    start: int | None = Field(None, ge=0, le=MAX_FRAME_INDEX)
    end: int | None = Field(None, ge=0, le=MAX_FRAME_INDEX)
    dilate: int = Field(DILATE_DEFAULT, ge=0, le=DILATE_MAX)
    resize_ratio: float = Field(RESIZE_RATIO_DEFAULT, gt=0, le=1, allow_inf_nan=False)


class StartUpload(Strict):
    sha256: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]{64}$")
    size: int = Field(gt=0, le=1 << 50)
    filename: str = Field("clip.mp4", max_length=255)
