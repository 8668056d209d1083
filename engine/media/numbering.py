"""Which number each output frame carries: a sequence's own file numbers (gaps stay gaps), a
movie's clip positions from --start-number N, or, for a movie without it, none (today's
`00000.png` names, by clip position). Pure, and stored in session.json as runs of numbers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Numbering:
    numbers: tuple[int, ...]  # the source number of each clip position
    padding: int  # digits a number is written with (zero-filled)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_positions", {n: i for i, n in enumerate(self.numbers)})

    @classmethod
    def of(cls, info, start_number: int | None = None) -> "Numbering | None":
        """The numbering of a clip's outputs: a sequence's file numbers; a movie's positions
        counted from `start_number` when one is given (padding 4, or more for big numbers)."""
        if info.kind == "sequence":
            return cls(tuple(info.frame_numbers), max(1, info.padding))
        if start_number is None:
            return None
        numbers = tuple(range(start_number, start_number + info.frame_count))
        return cls(numbers, max(4, len(str(abs(numbers[-1])))))

    def number(self, frame: int) -> int:
        return self.numbers[frame]

    def position(self, number: int) -> int | None:
        return self._positions.get(number)

    def to_json(self) -> dict:
        runs: list[list[int]] = []
        for n in self.numbers:
            if runs and n == runs[-1][1] + 1:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        return {"padding": self.padding, "runs": runs}

    @classmethod
    def from_json(cls, data: dict | None) -> "Numbering | None":
        if not data:
            return None
        numbers = [n for a, b in data["runs"] for n in range(int(a), int(b) + 1)]
        return cls(tuple(numbers), int(data["padding"]))
