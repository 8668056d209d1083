"""The evaluation tools' `--option NAME=VALUE` pairs reach a backend with the types it expects."""

import pytest

from engine import backends
from engine.errors import EngineError
from engine.evaluation.options import parse_options


def test_values_are_read_as_json_and_words_stay_strings():
    options = parse_options(["blend_tiers=4", "local_weight=8.5", "bidirectional=false",
                             "tier_distances=[1,2,4]", "flow_preset=fast"])
    assert options == {"blend_tiers": 4, "local_weight": 8.5, "bidirectional": False,
                       "tier_distances": [1, 2, 4], "flow_preset": "fast"}


def test_a_pair_without_a_name_or_an_equals_sign_is_refused():
    for bad in ("blend_tiers", "=4"):
        with pytest.raises(SystemExit, match="NAME=VALUE"):
            parse_options([bad])


def test_parsed_options_configure_the_inpainter_and_an_unknown_name_fails_loudly():
    inpainter = backends.create("inpainter", "classical", **parse_options(["blend_tiers=4", "tier_distances=[1,2,4]"]))
    assert inpainter.params.blend_tiers == 4 and inpainter.params.distances == (1, 2, 4)
    with pytest.raises(EngineError, match="blend_tier"):
        backends.create("inpainter", "classical", **parse_options(["blend_tier=4"]))
