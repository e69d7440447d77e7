"""Floors as a building counts them: 1 the ground floor, 2 above it, -1 the first basement (B1),
-2 the one below (B2); there is no floor 0. Groups, residents' units and visitor passes carry
these numbers; each lift model maps them to its controller's coils or bits."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

LOWEST, HIGHEST = -9, 200
_LABEL = re.compile(r"^(B?)([1-9][0-9]{0,2})F?$")


def _not_zero(floor: int) -> int:
    if floor == 0:
        raise ValueError("there is no floor 0: the ground floor is 1, the first basement -1 (B1)")
    return floor


Floor = Annotated[int, Field(ge=LOWEST, le=HIGHEST), AfterValidator(_not_zero)]


def _label_or_number(value: object) -> object:
    return parse_floor(value) if isinstance(value, str) else value


# what people type: a number (-1, 12) or the label on the button ("B1", "12F")
FloorIn = Annotated[Floor, BeforeValidator(_label_or_number)]


def floor_label(floor: int) -> str:
    """The label on the button: 'B1' for -1, '12' for 12."""
    return f"B{-floor}" if floor < 0 else str(floor)


def parse_floor(label: str) -> int:
    """'B1' -> -1, '12' or '12F' -> 12; ValueError naming the label otherwise."""
    match = _LABEL.match(label.strip().upper())
    if match is None:
        raise ValueError(f"{label!r} is not a floor label such as B1, 1 or 12")
    number = int(match.group(2))
    floor = -number if match.group(1) else number
    if not LOWEST <= floor <= HIGHEST:
        raise ValueError(f"floor {label!r} is outside {floor_label(LOWEST)} to {HIGHEST}")
    return floor


def served_floors(lowest: int, count: int) -> list[int]:
    """The floors a car serving `count` stops from `lowest` up reaches (skipping 0): what a lift
    model's `floor_access` (lowest_floor, floors) covers, e.g. (-2, 4) -> [-2, -1, 1, 2]."""
    floors: list[int] = []
    floor = lowest
    while len(floors) < count:
        if floor != 0:
            floors.append(floor)
        floor += 1
    return floors


def floor_list(floors: list[int]) -> list[int]:
    """Sorted, each once: the canonical form a snapshot carries."""
    return sorted(set(floors))


__all__ = ["Floor", "FloorIn", "floor_label", "floor_list", "parse_floor", "served_floors"]
