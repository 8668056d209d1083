"""The parameters object every backend takes: a frozen dataclass built from options by name.

An option with a wrong name is an error that lists the names the backend knows, never silently
dropped (a misspelt cache size used to vanish into `**_`). `None` means "the default", so callers
can pass through options they did not set."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from ..errors import EngineError

P = TypeVar("P", bound="BackendParams")


@dataclasses.dataclass(frozen=True)
class BackendParams:
    """Subclass as a frozen dataclass; each field a tuning number or switch with its default."""

    @classmethod
    def from_options(cls: type[P], owner: str, options: dict[str, Any] | None = None) -> P:
        options = {k: v for k, v in (options or {}).items() if v is not None}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise EngineError(f"{owner} has no option {', '.join(repr(u) for u in unknown)} "
                              f"(known: {', '.join(sorted(known)) or 'none'})")
        try:
            return cls(**options)
        except (TypeError, ValueError) as exc:
            raise EngineError(f"{owner}: {exc}") from None
