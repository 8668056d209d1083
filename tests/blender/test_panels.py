"""What the panels say, read from their draw() with a layout that records what is drawn (headless
Blender has no region to draw into): errors next to the step that failed, the stale clean plate
line with its button, the range before Get Video Info, the object list's counts."""

from __future__ import annotations

import pytest

from .test_workflow import add_source, ctx, scene  # noqa: F401 - scene is a fixture

bpy = pytest.importorskip("bpy")


class Recorder:
    """Stands in for bpy.types.UILayout: every label and operator button drawn lands in `drawn`;
    `editable` says, per property drawn, whether it can be changed there (a layout is disabled
    when it or any layout it is in has `enabled` off, as in Blender)."""

    def __init__(self, drawn=None, parent=None, editable=None):
        self.drawn = [] if drawn is None else drawn
        self.editable = {} if editable is None else editable
        self.parent = parent
        self.enabled, self.alert = True, False

    def _child(self, *args, **kwargs):
        return Recorder(self.drawn, self, self.editable)

    def _is_enabled(self) -> bool:
        return self.enabled and (self.parent is None or self.parent._is_enabled())

    row = column = box = split = _child

    def label(self, text="", icon="NONE"):
        self.drawn.append(("label", text))

    def operator(self, idname, text="", icon="NONE", **kwargs):
        self.drawn.append(("operator", idname, text))
        return type("Props", (), {})()

    def operator_menu_enum(self, idname, prop, text="", icon="NONE"):
        self.drawn.append(("operator", idname, text))

    def prop(self, data, name, **kwargs):
        self.drawn.append(("prop", name))
        self.editable[name] = self._is_enabled()

    def template_list(self, *args, **kwargs):
        self.drawn.append(("list",))

    def progress(self, **kwargs):
        self.drawn.append(("progress", kwargs.get("text", "")))


def draw(panel_cls, layout=None) -> list:
    """Run a panel's draw() on a stand-in panel that has only a recording layout (a registered
    Panel cannot be made outside a region; draw uses nothing but self.layout and the context)."""
    layout = layout or Recorder()
    panel_cls.draw(type("Drawn", (), {"layout": layout})(), bpy.context)
    return layout.drawn


def labels(drawn) -> str:
    return " | ".join(d[1] for d in drawn if d[0] == "label")


def test_panels_say_where_it_failed_and_what_is_stale(addon, engine_env, clip, scene):
    from blender_addon import gui, state as addon_state

    st = bpy.context.window_manager.vta
    source = add_source(scene, clip)
    with ctx(scene):
        text = labels(draw(gui.VTA_PT_objects))
        assert f"Range: {source.frame_final_start}–{source.frame_final_end - 1} (the active strip)" in text
        assert ("operator", "vta.use_click_tool", "") in draw(gui.VTA_PT_objects)

        addon_state.report("ERROR", "the engine cannot read 'x.mov': " + "very long reason " * 20, step="clip")
        assert "the engine cannot read" in labels(draw(gui.VTA_PT_clip))
        assert "the engine cannot read" not in labels(draw(gui.VTA_PT_engine))
        assert "the engine cannot read" not in labels(draw(gui.VTA_PT_track))
        assert all(len(line) <= 40 for line in labels(draw(gui.VTA_PT_clip)).split(" | ") if "reason" in line)
        addon_state.report("ERROR", "track failed: no keyframe", step="track")
        assert "track failed" in labels(draw(gui.VTA_PT_track)) and "track failed" not in labels(draw(gui.VTA_PT_clip))

        state = scene.vta
        state.strip_name = source.name
        state.clean_placed, state.clean_dir, state.clean_rev, state.matte_rev = True, clip["bg"], 1, 2
        drawn = draw(gui.VTA_PT_remove)
        assert "The clean plate is older than the mattes" in labels(drawn)
        assert ("operator", "vta.remove", "Update Clean Plate") in drawn
        state.clean_rev = 2
        assert "older than the mattes" not in labels(draw(gui.VTA_PT_remove))
        st.error = ""


def test_panels_offer_the_new_buttons(addon, clip, scene):
    """Weak-frame navigation with the engine's threshold in words, the preview mode, the results
    folder and Export Shot for Batch are on the panels."""
    from blender_addon import gui

    add_source(scene, clip)
    with ctx(scene):
        scene.vta.weak_below = 0.55
        drawn = draw(gui.VTA_PT_track)
        assert "Weak frames (confidence < 0.55)" in labels(drawn)
        assert ("operator", "vta.prev_weak_frame", "Previous Weak") in drawn
        assert ("operator", "vta.next_weak_frame", "Next Weak") in drawn
        assert ("prop", "preview_mode") in draw(gui.VTA_PT_objects)
        drawn = draw(gui.VTA_PT_remove)
        assert ("prop", "results_folder") in drawn and ("operator", "vta.export_shot", "") in drawn


def test_feather_and_steady_are_greyed_out_without_soft_edges(addon, clip, scene):
    """The Track panel's Matte box: Soft Edges and Grow/Choke always; Feather and Steady shape
    soft edges only, so they can be changed only while Soft Edges is on."""
    from blender_addon import gui

    add_source(scene, clip)
    with ctx(scene):
        scene.vta.matte_soft = False
        layout = Recorder()
        drawn = draw(gui.VTA_PT_track, layout)
        assert "Matte" in labels(drawn)
        assert [d[1] for d in drawn if d[0] == "prop" and d[1].startswith("matte_")] == \
            ["matte_soft", "matte_grow", "matte_feather", "matte_steady"]
        assert layout.editable["matte_soft"] and layout.editable["matte_grow"]
        assert not layout.editable["matte_feather"] and not layout.editable["matte_steady"]
        scene.vta.matte_soft = True
        layout = Recorder()
        draw(gui.VTA_PT_track, layout)
        assert layout.editable["matte_feather"] and layout.editable["matte_steady"]

