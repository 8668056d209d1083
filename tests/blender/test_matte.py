"""The Track panel's matte settings in real Blender against a real engine: Soft Edges + Feather
give 16-bit mattes with soft edges, which the matte strip hands to a Mask modifier unchanged (the
rendered alpha is the file's value), also after a re-track with other settings rewrote the same
file names; an engine without the matte fields keeps working while nothing is changed and says
why when something is; an exported shot carries the settings to the batch."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from .conftest import ENGINE_PY, REPO
from .test_panels import draw, labels
from .test_jobs import session_with_a_keyframe
from .test_results import click_and_track, rendered_pixels
from .test_workflow import add_source, ctx, scene, wait  # noqa: F401 - scene is a fixture

bpy = pytest.importorskip("bpy")


def png_depth(path: Path) -> int:
    """Bits per channel, from the PNG header."""
    head = Path(path).read_bytes()[:25]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return head[24]


def write_png16(path: Path, values: np.ndarray) -> None:
    """A 16-bit grey PNG of `values` (0..1, top row first), written byte by byte: exact."""
    data = np.round(np.clip(values, 0, 1) * 65535).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in data)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    h, w = data.shape
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0))
                          + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def rendered_alpha(scene, path: Path) -> np.ndarray:
    """Render the current frame (8-bit RGBA PNG) and read its alpha back (top row first)."""
    return rendered_pixels(scene, path, "RGBA")[:, :, 3]


@pytest.fixture
def sent(monkeypatch):
    """Every track request's options as the add-on hands them to the client."""
    from blender_addon import engine_client

    calls, original = [], engine_client.EngineClient.track

    def track(self, session_id, **kwargs):
        calls.append(kwargs)
        return original(self, session_id, **kwargs)
    monkeypatch.setattr(engine_client.EngineClient, "track", track)
    return calls


def test_a_16_bit_png_is_read_with_its_own_values():
    """The preview overlay reads a soft matte's values as the file has them (Blender decodes a
    16-bit PNG through sRGB unless told it is Non-Color: 0.5 came back as 0.21)."""
    import tempfile

    from blender_addon import overlay

    values = np.tile(np.linspace(0, 1, 11, dtype=np.float32), (3, 1))
    with tempfile.TemporaryDirectory() as tmp:
        write_png16(Path(tmp) / "ramp.png", values)
        got = overlay.load_png_mask(str(Path(tmp) / "ramp.png"), soft=True)
    assert got.shape == values.shape and np.abs(got - values).max() < 1e-3, got[0]


def _matte_strip(scene, source):
    from blender_addon import strips

    return strips.own_strips(scene, source.name, f"matte:{scene.vta.objects[0].uid}")[0]


def _file_at(matte, frame: int) -> Path:
    return Path(bpy.path.abspath(matte.directory)) / matte.strip_elem_from_frame(frame).filename


def _mask_shows_the_file(scene, source, frame: int, path: Path, tmp: Path) -> np.ndarray:
    """The Mask modifier fed by the matte strip gives the picture the file's values as alpha."""
    from blender_addon import overlay

    scene.frame_set(frame)
    values = overlay.load_png_mask(str(_file_at(_matte_strip(scene, source), frame)), soft=True)
    alpha = rendered_alpha(scene, tmp / path)
    assert alpha.shape == values.shape
    edge = (values > 0.02) & (values < 0.98)
    diff = np.abs(alpha - values)
    print(f"{path}: {edge.sum()} edge px, alpha - file: mean {diff[edge].mean() if edge.any() else 0:.4f}, "
          f"max {diff.max():.4f}")
    assert diff.max() < 3 / 255, "the Mask modifier does not get the matte file's values"
    return values


def test_soft_edges_and_feather_give_16_bit_mattes_shown_with_their_values(addon, engine_env, clip, scene, sent,
                                                                           tmp_path):
    from blender_addon import strips

    source = add_source(scene, clip)
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        state = scene.vta
        state.matte_soft, state.matte_feather = True, 2.0
        click_and_track(addon, scene, clip, source.frame_final_start)
        assert sent[-1]["matte_format"] == "png16" and sent[-1]["matte"] == {"feather": 2.0}
        matte = _matte_strip(scene, source)
        files = [Path(bpy.path.abspath(matte.directory)) / e.filename for e in matte.elements]
        assert len(files) == source.frame_final_duration and all(png_depth(f) == 16 for f in files)
        assert matte.colorspace_settings.name == strips.matte_colorspace(scene, str(files[0]))
        assert bpy.ops.vta.use_as_mask() == {"FINISHED"}
        t = source.frame_final_start + 5
        soft = _mask_shows_the_file(scene, source, t, Path("feather2.png"), tmp_path)
        assert np.count_nonzero((soft > 0.02) & (soft < 0.98)) >= 100, "no soft edge"

        # other settings, the same file names: the strip shows the new files, not Blender's cached ones
        state.matte_grow, state.matte_feather = -3.0, 6.0
        assert bpy.ops.vta.track(direction="both") == {"FINISHED"}
        wait(addon, timeout=300)
        assert not bpy.context.window_manager.vta.error, bpy.context.window_manager.vta.error
        assert sent[-1]["matte"] == {"grow": -3.0, "feather": 6.0}
        assert _matte_strip(scene, source) == matte
        wider = _mask_shows_the_file(scene, source, t, Path("feather6.png"), tmp_path)
        assert np.count_nonzero((wider > 0.02) & (wider < 0.98)) > np.count_nonzero((soft > 0.02) & (soft < 0.98))

        # Soft Edges off: hard 8-bit mattes again, the session's finish undone
        state.matte_soft, state.matte_grow = False, 0.0
        assert bpy.ops.vta.track(direction="both") == {"FINISHED"}
        wait(addon, timeout=300)
        assert (sent[-1]["matte_format"], sent[-1]["matte"]) == ("png8", {})
        assert all(png_depth(f) == 8 for f in files) and matte.colorspace_settings.name == "Non-Color"
        hard = _mask_shows_the_file(scene, source, t, Path("hard.png"), tmp_path)
        assert set(np.unique(np.round(hard, 3))) <= {0.0, 1.0}


def test_an_engine_without_matte_settings_keeps_working_and_says_why_when_they_are_set(addon, engine_env, clip,
                                                                                      scene, monkeypatch):
    from blender_addon import engine_client, gui, matte_settings

    original = engine_client.EngineClient.track

    def old_engine(self, session_id, **kwargs):  # an engine from before the matte finish: fields it lacks are 422
        extra = [k for k in ("matte_format", "matte") if kwargs.get(k) is not None]
        if extra:
            raise engine_client.EngineHTTPError(422, f"body.{extra[0]}: Extra inputs are not permitted")
        return original(self, session_id, **kwargs)
    monkeypatch.setattr(engine_client.EngineClient, "track", old_engine)
    source = add_source(scene, clip)
    st = bpy.context.window_manager.vta
    with ctx(scene):
        bpy.ops.vta.get_video_info()
        wait(addon)
        click_and_track(addon, scene, clip, source.frame_final_start)  # nothing changed: it tracks
        scene.vta.matte_soft = True
        assert bpy.ops.vta.track(direction="both") == {"FINISHED"}
        wait(addon, timeout=300)
        assert st.error_step == "track" and st.error.startswith("this engine has no matte settings: update it")
        assert "Extra inputs are not permitted" in st.last_report
        assert "this engine has no matte settings: update" in labels(draw(gui.VTA_PT_track)).replace(" | ", " ")
        st.error = ""

    # the real engine's own refusal, in its own words, behind the add-on's line
    with pytest.raises(engine_client.EngineHTTPError) as info:
        original(engine_client.EngineClient(engine_env), scene.vta.session_id, matte_format="png8",
                 matte={"feather": 2.0})
    line = matte_settings.refusal(info.value.status, info.value.message, {"matte": {"feather": 2.0}})
    assert line.startswith("the engine refused the matte settings: ") and "soft mattes only" in line


def test_an_exported_shot_carries_the_matte_to_the_batch(addon, engine_env, clip, scene, tmp_path):
    source = add_source(scene, clip)
    shots = tmp_path / "shots.json"
    with ctx(scene):
        state = session_with_a_keyframe(addon, scene, clip, source)
        state.matte_soft, state.matte_grow, state.matte_feather, state.matte_steady = True, -1.5, 3.0, 0.25
        assert bpy.ops.vta.export_shot(filepath=str(shots), shot_name="sh010", remove=False) == {"FINISHED"}
        shot = json.loads(shots.read_text())["shots"][0]
        assert shot["matte_format"] == "png16"
        assert shot["matte"] == {"grow": -1.5, "feather": 3.0, "temporal": 0.25}
        # a file whose defaults make soft mattes: the artist's hard matte is written out
        doc = json.loads(shots.read_text())
        doc["defaults"]["matte_bits"] = 16
        shots.write_text(json.dumps(doc))
        state.matte_soft, state.matte_grow = False, 0.0
        assert bpy.ops.vta.export_shot(filepath=str(shots), shot_name="sh020", remove=False) == {"FINISHED"}
    hard = json.loads(shots.read_text())["shots"][1]
    assert (hard["matte_format"], hard["matte"]) == ("png8", {})

    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run([str(ENGINE_PY), "-m", "engine.cli", "batch", str(shots), "--check", "--json"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    plans = {p["shot"]: p for p in map(json.loads, run.stdout.splitlines()) if p.get("event") == "plan"}
    soft = next(argv for argv in plans["sh010"]["commands"] if argv[0] == "track")
    assert {"--matte-format", "png16", "--matte-grow=-1.5", "--matte-feather=3", "--matte-steady=0.25"} <= set(soft)
    hard = next(argv for argv in plans["sh020"]["commands"] if argv[0] == "track")
    assert "png8" in hard and "--matte-grow=0" in hard and "--matte-bits" not in hard
