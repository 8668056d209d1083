"""Real-window screenshots of the add-on for the README: the panel with clicks and the mask overlay
in the preview, and the result strips in the sequencer.

Run it with any Python; it starts Blender with a window under Xvfb (Debian's blender 3.4 works):

    python3 tools/screenshot_addon.py --out docs/img        # needs: apt-get install blender xvfb

(that runs `xvfb-run blender blank.blend --python tools/screenshot_addon.py -- ...`; a .blend on the
command line keeps the splash screen away).

It generates a clip with the engine venv, starts a real engine on a free port, drives the add-on's
operators step by step from a timer (the UI stays live, as for an artist), and saves PNGs with
`screen.screenshot_area`, scaled down to keep the repository small. Blender 3.4 cannot switch the
sidebar tab from Python, so this throwaway session unregisters the other sequencer sidebar panels
to bring the "Track Anything" tab forward.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

try:
    import bpy
except ImportError:  # launcher mode: start Blender under Xvfb with this script
    bpy = None

REPO = Path(__file__).resolve().parents[1]
ENGINE_PY = Path(os.environ.get("VTA_ENGINE_PYTHON", REPO / ".venv" / "bin" / "python"))
sys.path.insert(0, str(REPO))


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=str(REPO / "docs" / "img"))
    p.add_argument("--width", type=int, default=900, help="width of the saved PNGs")
    p.add_argument("--keep", action="store_true", help="leave Blender open at the end")
    return p.parse_args(argv)


def launch() -> int:
    """Outside Blender: write a blank .blend, then run this script in a windowed Blender."""
    p = argparse.ArgumentParser(description="Screenshots of the add-on in a real Blender window")
    p.add_argument("--blender", default=os.environ.get("BLENDER", "blender"))
    p.add_argument("--out", default=str(REPO / "docs" / "img"))
    p.add_argument("--width", type=int, default=900)
    args = p.parse_args()
    # a pyenv/venv python first on PATH makes a system-Python Blender pick up the wrong stdlib
    env = dict(os.environ, PATH=os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                                                 if ".pyenv" not in d and "/.venv" not in d))
    for key in [k for k in env if k.startswith("PYENV") or k in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")]:
        env.pop(key)
    with tempfile.TemporaryDirectory(prefix="vta_blank_") as tmp:
        blank = os.path.join(tmp, "blank.blend")
        subprocess.run([args.blender, "-b", "--factory-startup", "--python-expr",
                        f"import bpy; bpy.ops.wm.save_as_mainfile(filepath={blank!r})"], check=True,
                       stdout=subprocess.DEVNULL, env=env)
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1400x1100x24", args.blender, "--factory-startup",
               "--window-geometry", "0", "0", "1400", "1100", blank, "--python", __file__, "--",
               "--out", args.out, "--width", str(args.width)]
        code = subprocess.run(cmd, timeout=600, env=env).returncode
    if code == 0 and shutil.which("convert"):  # ImageMagick: 8-bit palette PNGs, a third of the size
        for name in ("addon_panel.png", "addon_tracking.png", "addon_result.png"):
            path = os.path.join(args.out, name)
            if os.path.exists(path):
                if subprocess.run(["convert", path, "+dither", "-colors", "160", "PNG8:" + path]).returncode:
                    print(f"could not reduce {path} to 160 colours; kept as it is")
    return code


if bpy is None:
    sys.exit(launch())

ARGS = parse_args()
WORK = Path(tempfile.mkdtemp(prefix="vta_shots_"))
STATE: dict = {"proc": None}


def log(msg: str) -> None:
    print(f"[screenshot] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clip() -> dict:
    out = WORK / "clip"
    script = f"""
import json
from pathlib import Path
from engine.evaluation.synthetic import SyntheticClip
c = SyntheticClip(width=480, height=270, frames=48)
out = Path({str(out)!r})
c.write_movie(out / "shot010.mp4")
m = c.mask(4)
import numpy as np, cv2
ys, xs = np.nonzero(cv2.erode(m.astype(np.uint8), np.ones((9, 9), np.uint8)))
far = int(np.argmax((xs - c.click(4)[0]) ** 2 + (ys - c.click(4)[1]) ** 2))
json.dump({{"click": c.click(4), "second": [int(xs[far]), int(ys[far])]}}, open(out / "clip.json", "w"))
"""
    subprocess.run([str(ENGINE_PY), "-c", script], cwd=REPO, check=True, timeout=180)
    info = json.loads((out / "clip.json").read_text())
    info["movie"] = str(out / "shot010.mp4")
    return info


def start_engine() -> str:
    port = free_port()
    env = dict(os.environ, HOME=str(WORK), VTA_STATE_DIR=str(WORK / "state"))
    logf = open(WORK / "engine.log", "wb")
    STATE["proc"] = subprocess.Popen([str(ENGINE_PY), "-m", "engine.server", "--port", str(port), "--root", str(WORK),
                                      "--log-level", "warning"], cwd=REPO, env=env, stdout=logf,
                                     stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(address + "/v1/health", timeout=1)
            return address
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("engine did not start")


def stop_engine() -> None:
    proc = STATE.get("proc")
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(15)


def sequencer_area():
    win = bpy.context.window_manager.windows[0]
    return win, max(win.screen.areas, key=lambda a: a.width * a.height)


def setup_ui(scene):
    win, area = sequencer_area()
    # one big sequencer area: close the others' clutter by making the biggest area the sequencer
    area.type = "SEQUENCE_EDITOR"
    space = area.spaces.active
    space.view_type = "SEQUENCER_PREVIEW"
    space.show_region_ui = True
    for panel in list(bpy.types.Panel.__subclasses__()):
        if (getattr(panel, "bl_space_type", "") == "SEQUENCE_EDITOR" and getattr(panel, "bl_region_type", "") == "UI"
                and getattr(panel, "bl_category", "") != "Track Anything" and panel.__module__.startswith("bl_ui")):
            try:
                bpy.utils.unregister_class(panel)
            except RuntimeError:
                pass
    return win, area


def view_all(win, area):
    for region in area.regions:
        if region.type == "PREVIEW":
            with bpy.context.temp_override(window=win, area=area, region=region):
                bpy.ops.sequencer.view_all_preview()
        if region.type == "WINDOW":
            with bpy.context.temp_override(window=win, area=area, region=region):
                bpy.ops.sequencer.view_all()


def shoot(name: str) -> None:
    win, area = sequencer_area()
    out = Path(ARGS.out)
    out.mkdir(parents=True, exist_ok=True)
    path = str(out / name)
    with bpy.context.temp_override(window=win, area=area):
        bpy.ops.screen.screenshot_area(filepath=path)
    img = bpy.data.images.load(path)
    w, h = img.size
    if w > ARGS.width:
        img.scale(ARGS.width, int(h * ARGS.width / w))
        img.filepath_raw = path
        img.file_format = "PNG"
        img.save()
    bpy.data.images.remove(img)
    log(f"saved {path}")


def steps():
    """A generator of steps; each yields a condition (callable) to wait for, or a delay in seconds."""
    import blender_addon
    from blender_addon import worker

    clip = make_clip()
    address = start_engine()
    os.environ["VTA_ENGINE_ADDRESS"] = address
    blender_addon.register()
    st = bpy.context.window_manager.vta

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 480, 270
    scene.render.fps = 24
    scene.view_settings.view_transform = "Standard"
    ed = scene.sequence_editor_create()
    coll = ed.strips if hasattr(ed, "strips") else ed.sequences
    source = coll.new_movie("shot010", clip["movie"], channel=1, frame_start=1)
    ed.active_strip = source
    scene.frame_start, scene.frame_end = 1, source.frame_final_end - 1
    win, area = setup_ui(scene)
    scene.frame_set(5)
    yield 0.5
    view_all(win, area)

    bpy.ops.vta.connect()
    yield lambda: not worker.busy()
    bpy.ops.vta.get_video_info()
    yield lambda: not worker.busy() and scene.vta.session_id
    bpy.ops.vta.object_add(name="drone")
    x, y = clip["click"]
    x2, y2 = clip["second"]
    if shutil.which("xdotool"):
        # real mouse clicks through the click tool: X server → Blender keymap → operator → mapping
        preview = next(r for r in area.regions if r.type == "PREVIEW")
        with bpy.context.temp_override(window=win, screen=win.screen):
            bpy.ops.vta.use_click_tool()  # the panel's Click Tool button
        tool = bpy.context.workspace.tools.from_space_sequencer("SEQUENCER_PREVIEW")
        log(f"active preview tool: {tool.idname if tool else None}; window {win.width}x{win.height}, preview at "
            f"{preview.x},{preview.y} {preview.width}x{preview.height}")
        from blender_addon import mapping, overlay, strips
        for px, py in ((x + 0.5, y + 0.5), (x2 + 0.5, y2 + 0.5)):
            view = overlay.region_view(preview)
            rx, ry = mapping.image_to_region(px, py, view, strips.strip_transform(source, 480, 270))
            sx, sy = preview.x + rx, win.height - (preview.y + ry)
            log(f"clicking at screen {sx:.0f},{sy:.0f}")
            subprocess.run(["xdotool", "mousemove", str(int(round(sx))), str(int(round(sy))), "click", "1"], check=True)
            yield 0.6
        got = [(round(c.x, 1), round(c.y, 1)) for c in scene.vta.clicks]
        log(f"tool clicks at {got}, aimed at {[(x + 0.5, y + 0.5), (x2 + 0.5, y2 + 0.5)]}")
        if len(got) != 2 or any(abs(a - b) > 1.0 for g, t in zip(got, [(x + .5, y + .5), (x2 + .5, y2 + .5)])
                                for a, b in zip(g, t)):
            raise RuntimeError("the click tool did not land where aimed")
    else:
        bpy.ops.vta.add_click(x=x + 0.5, y=y + 0.5, positive=True)
        bpy.ops.vta.add_click(x=x2 + 0.5, y=y2 + 0.5, positive=True)
    yield lambda: not worker.busy()
    yield 1.0
    shoot("addon_panel.png")

    bpy.ops.vta.track(direction="both")
    yield 0.4
    shoot("addon_tracking.png")
    yield lambda: not st.busy
    bpy.ops.vta.remove()
    yield lambda: not st.busy
    if st.error:
        log(f"error: {st.error}")
    scene.frame_set(20)
    scene.vta.show_overlay = False  # show the clean plate itself
    view_all(win, area)
    yield 1.0
    shoot("addon_result.png")


def run() -> None:
    gen = steps()
    state = {"wait": None, "until": 0.0}

    def tick():
        try:
            if state["wait"] is not None and not state["wait"]():
                return 0.1
            if time.monotonic() < state["until"]:
                return 0.1
            state["wait"] = None
            item = next(gen)
            if callable(item):
                state["wait"] = item
            else:
                state["until"] = time.monotonic() + float(item)
            return 0.1
        except StopIteration:
            finish(0)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            finish(1)
        return None

    bpy.app.timers.register(tick, first_interval=1.0)


def finish(code: int) -> None:
    stop_engine()
    log("done" if code == 0 else "failed")
    if not ARGS.keep:
        bpy.app.timers.register(lambda: bpy.ops.wm.quit_blender() and None, first_interval=0.2)


run()
