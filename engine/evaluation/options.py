"""`--option NAME=VALUE` pairs of the evaluation tools, turned into a backend's keyword arguments;
the backend's parameters object rejects unknown names, so a typo fails loudly."""

from __future__ import annotations

import json


def parse_options(pairs: list[str]) -> dict:
    """["seed=1", "grabcut_band=0.03"] → {"seed": 1, "grabcut_band": 0.03} (pure function; a value
    that is not JSON stays a string, so `flow_preset=fast` needs no quotes)."""
    options = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"an option is NAME=VALUE, not {pair!r}")
        try:
            options[name] = json.loads(value)
        except json.JSONDecodeError:
            options[name] = value
    return options
