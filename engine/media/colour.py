"""Colour conversions through OpenColorIO, by colour-space name, never a hand-written curve.

The backends work on display-referred sRGB 8-bit frames; a scene-linear source (EXR) is turned
into that with a processor from its colour space to the sRGB-encoded space, and the fill of a
clean plate goes back through the inverse. `$OCIO` names the config when set (OpenColorIO reads
it itself); otherwise the ACES studio config OCIO 2.x ships built in (`ocio://studio-config-latest`)
is used.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import VideoError

BUILTIN_CONFIG = "ocio://studio-config-latest"
#: the display-referred space the backends see (the studio config's name, then common aliases)
DISPLAY_SPACES = ("sRGB Encoded Rec.709 (sRGB)", "srgb_rec709_scene", "srgb_tx", "sRGB")
#: what an EXR without a colour-space attribute is taken to be (Blender's and OIIO's default)
LINEAR_SPACES = ("Linear Rec.709 (sRGB)", "lin_rec709_scene", "lin_rec709", "scene_linear")


@functools.lru_cache(maxsize=1)
def _config_and_name():
    """OpenColorIO's own reading of $OCIO; its "raw" config (the variable unset) means none was
    named, and the built-in studio config is used."""
    import PyOpenColorIO as ocio

    level = ocio.GetLoggingLevel()
    ocio.SetLoggingLevel(ocio.LOGGING_LEVEL_WARNING)  # no "colour management disabled" line when unset
    try:
        env = ocio.Config.CreateFromEnv()
    except Exception as exc:  # OCIO raises its own Exception type for bad configs
        raise VideoError(f"cannot load the OpenColorIO config $OCIO names: {exc}") from None
    finally:
        ocio.SetLoggingLevel(level)
    if len(list(env.getColorSpaceNames())) > 1:
        return env, f"$OCIO ({env.getName() or 'unnamed'})"
    return ocio.Config.CreateFromFile(BUILTIN_CONFIG), BUILTIN_CONFIG


def config():
    return _config_and_name()[0]


def config_name() -> str:
    return _config_and_name()[1]


def find_space(candidates) -> str:
    """The config's canonical name for the first candidate it knows."""
    cfg = config()
    for name in candidates:
        if name and cfg.getColorSpace(name) is not None:
            return cfg.getColorSpace(name).getName()
    raise VideoError(f"the OpenColorIO config '{config_name()}' has none of the colour spaces "
                     f"{', '.join(c for c in candidates if c)}")


def display_space() -> str:
    return find_space(DISPLAY_SPACES)


def linear_space(tagged: str | None = None) -> str:
    """The colour space of a float image: its own tag when the config knows it, else linear Rec.709."""
    return find_space(((tagged,) if tagged else ()) + LINEAR_SPACES)


@functools.lru_cache(maxsize=8)
def _processor(src: str, dst: str):
    return config().getProcessor(src, dst).getDefaultCPUProcessor()


def convert(rgb: np.ndarray, src: str, dst: str) -> np.ndarray:
    """float32 RGB (H, W, 3) from colour space `src` to `dst` (a new array)."""
    out = np.ascontiguousarray(rgb, dtype=np.float32).copy()
    if src != dst:
        _processor(src, dst).applyRGB(out)
    return out


def float_to_display8(rgb: np.ndarray, space: str) -> np.ndarray:
    """A float image in `space` → display-referred sRGB uint8 (values above 1 clip)."""
    shown = convert(rgb, space, display_space())
    return np.clip(shown * 255.0 + 0.5, 0, 255).astype(np.uint8)


def display8_to_float(rgb8: np.ndarray, space: str) -> np.ndarray:
    """Display-referred sRGB uint8 → float32 in `space` (the inverse of float_to_display8)."""
    return convert(rgb8.astype(np.float32) / np.float32(255.0), display_space(), space)
