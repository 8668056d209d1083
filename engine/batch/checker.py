"""Small typed readers for the shots file: each returns the value, or None after recording an
error, so one pass over the file reports every problem at once instead of stopping at the first."""

from __future__ import annotations

import json
import math


class Checker:
    """Collects every problem of a shots file (one line each, naming the shot and the field)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.where = ""

    def error(self, field: str, message: str) -> None:
        self.errors.append(f"{self.where}field '{field}': {message}" if field else f"{self.where}{message}")

    def keys(self, data: dict, allowed: set[str], field: str) -> None:
        for key in sorted(set(data) - allowed):
            self.error(f"{field}.{key}" if field else key,
                       f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def required(self, data: dict, key: str, field: str) -> bool:
        if key not in data:
            self.error(field, "missing")
            return False
        return True

    def integer(self, value, field: str, low: int | None = None, high: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(field, f"must be an integer, got {json.dumps(value)}")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
            self.error(field, f"must be in {bounds}, got {value}")
            return None
        return value

    def number(self, value, field: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.error(field, f"must be a number, got {json.dumps(value)}")
            return None
        return float(value)

    def text(self, value, field: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.error(field, f"must be a non-empty string, got {json.dumps(value)}")
            return None
        return value

    def boolean(self, value, field: str) -> bool | None:
        if not isinstance(value, bool):
            self.error(field, f"must be true or false, got {json.dumps(value)}")
            return None
        return value

    def choice(self, value, field: str, choices) -> str | None:
        if value not in choices:
            self.error(field, f"must be one of {', '.join(map(str, choices))}, got {json.dumps(value)}")
            return None
        return value
