"""A shot's matte in the shots file: `matte_format` and `matte` ({grow, feather, edges, temporal})
are accepted per shot and in the defaults, reach every `track` command as the CLI's own flags,
keep `matte_bits` working, and what the CLI would refuse is refused before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.batch.commands import shot_steps
from engine.batch.shots import Click, Options, Shot, ShotObject, ShotsFileError, parse_shots

from .test_batch import SCHEMA, footage, run_batch, shots_document, write_shots  # noqa: F401 - footage is a fixture


def _steps(options: Options) -> list:
    shot = Shot("s", Path("/v.mp4"), Path("/o"), None, None,
                (ShotObject("car", (Click(0, 1, 1), Click(4, 2, 2))),), True, options, 10)
    return shot_steps(shot)


def _cli(argv: list[str]):
    """The arguments as the CLI's own parser reads them (what the batch runs is engine.cli.main)."""
    from engine.cli import build_parser

    return build_parser().parse_args(argv)


def test_matte_format_and_finish_reach_every_track_command_as_cli_flags():
    finish = {"grow": -2, "feather": 2.5, "edges": "tracker", "temporal": 0.3}
    steps = _steps(Options(matte_format="png16", matte=finish))
    tracks = [s.argv for s in steps if s.argv[0] == "track"]
    assert len(tracks) == 2 and steps[-1].argv[0] == "remove"
    for argv in tracks:  # every keyframe's command: a later one must not fall back to the session's
        args = _cli(argv)
        assert (args.matte_format, args.matte_grow, args.matte_feather, args.matte_edges, args.matte_temporal) == \
            ("png16", -2.0, 2.5, "tracker", 0.3)
    assert not any(a.startswith("--matte") for a in steps[-1].argv)


def test_matte_bits_still_works_and_a_format_wins_over_it():
    args = _cli(_steps(Options(matte_bits=16))[0].argv)
    assert args.matte_bits == 16 and args.matte_format is None and args.matte_grow is None
    argv = _steps(Options(matte_bits=8, matte_format="exr"))[0].argv
    assert "--matte-bits" not in argv and _cli(argv).matte_format == "exr"


def test_a_finish_set_back_to_the_defaults_is_still_passed_so_it_replaces_the_sessions():
    """The CLI keeps the session's finish when no --matte-* flag is given: an empty finish must still
    say grow 0, or a shot re-run after its feather was removed would keep the old feather."""
    args = _cli(_steps(Options(matte_format="png8", matte={}))[0].argv)
    assert args.matte_grow == 0 and args.matte_feather is None
    assert _cli(_steps(Options())[0].argv).matte_grow is None  # no finish in the file: the session's


def _doc(footage: Path, shot: dict | None = None, defaults: dict | None = None) -> dict:
    doc = shots_document(footage, "m")
    doc["shots"] = doc["shots"][:1]
    doc["shots"][0].update(shot or {})
    doc["defaults"].update(defaults or {})
    return doc


def test_shots_file_accepts_matte_fields_per_shot_and_in_the_defaults(footage):
    doc = _doc(footage, {"matte_format": "png16", "matte": {"grow": 1.5, "feather": 2, "temporal": 0.4}},
               {"matte_bits": 8, "matte": {"grow": 3}})
    (shot,) = parse_shots(doc, footage / "m.json")
    assert shot.options.matte_format == "png16"
    assert shot.options.matte == {"grow": 1.5, "feather": 2, "temporal": 0.4}  # the shot's replaces the defaults'
    args = _cli(shot_steps(shot)[0].argv)
    assert (args.matte_format, args.matte_grow, args.matte_feather, args.matte_temporal) == ("png16", 1.5, 2.0, 0.4)
    (plain,) = parse_shots(_doc(footage, defaults={"matte_format": "exr", "matte": {"edges": "tracker"}}),
                           footage / "m.json")
    assert (plain.options.matte_format, plain.options.matte) == ("exr", {"edges": "tracker"})
    assert Shot.from_dict(json.loads(json.dumps(shot.to_dict()))) == shot  # a Ray task gets the same shot


@pytest.mark.parametrize("shot, defaults, message", [
    ({"matte": {"grow": 1, "colour": "red"}}, {},
     "field 'matte.colour': unknown key (allowed: edges, feather, grow, temporal)"),
    ({"matte": {"band": 0.01}}, {}, "field 'matte.band': unknown key"),
    ({"matte_format": "tiff"}, {}, "field 'matte_format': must be one of png8, png16, exr"),
    ({"matte_format": "png16", "matte": {"feather": "2"}}, {}, "field 'matte.feather': must be a number"),
    ({"matte_format": "png16", "matte": {"grow": 600}}, {}, "field 'matte': grow must be between -500 and 500 px"),
    ({"matte_format": "png16", "matte": {"temporal": 1}}, {}, "field 'matte': temporal must be at least 0 and below 1"),
    ({"matte_format": "png16", "matte": {"edges": "soft"}}, {}, "field 'matte.edges': must be one of refined, tracker"),
    ({"matte": [1]}, {}, "field 'matte': must be an object"),
    ({"matte": {"feather": 2}}, {}, "field 'matte': feather applies to soft mattes only"),
    ({"matte_format": "png8"}, {"matte_format": "png16", "matte": {"temporal": 0.2}},
     "field 'matte': temporal applies to soft mattes only"),
    ({}, {"matte_bits": 16, "matte_format": "png8"},
     "field 'defaults.matte_format': png8 disagrees with matte_bits 16"),
    ({}, {"matte": {"grow": 1, "shape": 2}}, "field 'defaults.matte.shape': unknown key"),
])
def test_bad_matte_fields_are_refused_with_the_shot_and_field_named(footage, shot, defaults, message):
    with pytest.raises(ShotsFileError) as info:
        parse_shots(_doc(footage, shot, defaults), footage / "m.json")
    assert any(message in e for e in info.value.errors), "\n".join(info.value.errors)
    assert len(info.value.errors) == 1, "\n".join(info.value.errors)


def test_schema_knows_the_matte_fields(footage):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    good = _doc(footage, {"matte_format": "png16", "matte": {"grow": -1, "feather": 2, "edges": "refined",
                                                             "temporal": 0.5}},
                {"matte_format": "exr", "matte": {"grow": 2}})
    assert not list(validator.iter_errors(good))
    for shot in ({"matte": {"colour": 1}}, {"matte_format": "tiff"}, {"matte": {"temporal": 1}},
                 {"matte": {"feather": -1}}):
        assert list(validator.iter_errors(_doc(footage, shot))), f"schema accepts {shot}"


def test_a_soft_feathered_shot_writes_16_bit_mattes_with_soft_edges(footage, tmp_path):
    """The whole path: shots file → batch → the CLI's track → 16-bit PNG mattes with values
    between 0 and 1 along the edge."""
    import cv2

    doc = _doc(footage, {"out": str(tmp_path / "soft"), "remove": False, "matte_format": "png16",
                         "matte": {"feather": 2}})
    proc = run_batch(write_shots(footage, "soft", doc))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = sorted((tmp_path / "soft" / "masks").rglob("*.png"))
    assert len(files) == 8
    matte = cv2.imread(str(files[3]), cv2.IMREAD_UNCHANGED)
    assert matte.dtype == np.uint16
    soft = np.count_nonzero((matte > 655) & (matte < 64880))  # strictly between 1% and 99%
    assert soft >= 20, f"only {soft} soft edge pixels"
