"""The add-on's matte settings (blender_addon/matte_settings.py, pure): what the Track panel's
Soft Edges, Grow/Choke, Feather and Steady send to the engine and write into a shots file. Nothing
is sent while the panel and the session are at the defaults (engines without the fields refuse
them), and a session left soft by an earlier track is set back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# import the module by path: the add-on package's __init__ imports bpy
_spec = importlib.util.spec_from_file_location(
    "vta_matte_settings", Path(__file__).resolve().parents[1] / "blender_addon" / "matte_settings.py")
ms = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = ms
_spec.loader.exec_module(ms)

OLD_ENGINE_VIEW = {"matte_format": "png8", "matte_bits": 8}  # a session view from before the matte finish


def test_defaults_are_the_engines():
    from engine.matte.params import MatteParams

    engine = MatteParams()
    assert ms.DEFAULTS == {k: getattr(engine, k) for k in ms.DEFAULTS}


def test_the_panels_defaults_send_nothing_so_an_old_engine_keeps_working():
    wanted = ms.finish(False, 0.0, 0.0, 0.6)
    assert wanted.is_default and ms.request_fields(wanted, OLD_ENGINE_VIEW) == {}
    # Feather and Steady are greyed out without Soft Edges: what they still hold is not sent
    assert ms.request_fields(ms.finish(False, 0.0, 5.0, 0.2), OLD_ENGINE_VIEW) == {}


def test_soft_edges_send_png16_and_only_the_changed_options():
    wanted = ms.finish(True, 0.0, 2.0, 0.6000000238418579)  # Blender's float32 of 0.6
    assert ms.request_fields(wanted, OLD_ENGINE_VIEW) == {"matte_format": "png16", "matte": {"feather": 2.0}}
    wanted = ms.finish(False, -1.5, 0.0, 0.6)  # a choke is fine on a hard matte
    assert ms.request_fields(wanted, OLD_ENGINE_VIEW) == {"matte": {"grow": -1.5}}
    assert ms.finish(True, 0.30000001192092896, 0, 0).options == {"grow": 0.3, "temporal": 0.0}


def test_back_to_the_defaults_undoes_what_the_session_holds():
    soft_session = {"matte_format": "png16", "matte": {"feather": 2.0}}
    assert ms.request_fields(ms.finish(False, 0, 0, 0.6), soft_session) == {"matte_format": "png8", "matte": {}}
    assert ms.request_fields(ms.finish(False, 0, 0, 0.6), {"matte_format": "png8", "matte": {"grow": 2}}) == \
        {"matte": {}}


def test_a_refusal_over_the_matte_fields_says_what_to_do_and_keeps_the_engines_words():
    fields = {"matte_format": "png16"}
    old = ms.refusal(422, "body.matte_format: Extra inputs are not permitted", fields)
    assert old.startswith("this engine has no matte settings: update it") and "Extra inputs" in old
    new = ms.refusal(400, "matte: feather must be between 0 and 200 px, not 300.0", {"matte": {"feather": 300}})
    assert new == "the engine refused the matte settings: matte: feather must be between 0 and 200 px, not 300.0"
    assert ms.refusal(400, "nothing to track", fields) is None  # not about the matte
    assert ms.refusal(400, "matte: feather ...", {}) is None  # nothing of the matte was sent
    assert ms.refusal(404, "unknown session; matte", fields) is None


def test_a_shot_carries_its_matte_unless_everything_is_the_default():
    assert ms.shot_fields(ms.finish(False, 0, 0, 0.6), {"tracker": "classical"}) == {}
    assert ms.shot_fields(ms.finish(True, 1, 2, 0.5), None) == \
        {"matte_format": "png16", "matte": {"grow": 1.0, "feather": 2.0, "temporal": 0.5}}
    # the farm's defaults set a soft matte: the artist's hard one is written out, or theirs would apply
    assert ms.shot_fields(ms.finish(False, 0, 0, 0.6), {"matte_bits": 16}) == {"matte_format": "png8", "matte": {}}
