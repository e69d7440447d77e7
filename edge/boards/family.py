"""A controller family: how a page becomes writes to a board, and how the board's own report
of what it shows is read. Another family (Onbon BX, Huidu …) is one more module with these two
methods; the supervisor knows only this protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edge.boards.pages import Page
from edge.sensors.device import Values, Write


@dataclass(frozen=True, slots=True)
class Shown:
    """What the board reports it shows: the page sequence it latched and its dots as a PNG."""

    seq: int
    png: bytes


class BoardFamily(Protocol):
    cells: int  # what one line holds, in half-width cells (a Chinese character takes two)

    def writes(self, page: Page, seq: int) -> list[Write]:
        """The writes that put `page` on the board, in order (the last commits it)."""
        ...

    def shown(self, values: Values) -> Shown | None:
        """From a poll of the board: what it shows now (None: not read yet)."""
        ...
