"""Matching a camera's reading to the registered plates, and the near-miss rule.

Cameras confuse a few characters: 0/D/O/Q, 8/B, 1/I, 2/Z, 5/S. The rule, in order:
1. the reading is exactly a registered plate: that plate;
2. otherwise its confusable form (each of those characters folded to one) matches exactly
   one registered plate: that plate, flagged `near_miss`;
3. it matches several: nothing, flagged `ambiguous`.
Whether a match may grant is the lane's call (a confidence below the site's threshold never
grants a household); a blocked plate is refused on an exact or near match alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from wire.vehicles import normalise_plate

_FOLD = str.maketrans({"D": "0", "O": "0", "Q": "0", "B": "8", "I": "1", "Z": "2", "S": "5"})


def confusable_form(plate: str) -> str:
    """The plate with each easily confused character folded to one representative."""
    return normalise_plate(plate).translate(_FOLD)


@dataclass(frozen=True, slots=True)
class PlateMatch:
    plate: str | None  # the registered plate, None when none or several
    flag: Literal["near_miss", "ambiguous"] | None


class PlateIndex:
    """Registered plates by exact text and by confusable form."""

    def __init__(self, plates: Iterable[str]) -> None:
        self._exact: set[str] = set()
        self._folded: dict[str, list[str]] = {}
        for plate in plates:
            if plate in self._exact:
                continue
            self._exact.add(plate)
            self._folded.setdefault(confusable_form(plate), []).append(plate)

    def __len__(self) -> int:
        return len(self._exact)

    def match(self, reading: str) -> PlateMatch:
        plate = normalise_plate(reading)
        if plate in self._exact:
            return PlateMatch(plate, None)
        near = self._folded.get(confusable_form(plate), [])
        if len(near) == 1:
            return PlateMatch(near[0], "near_miss")
        if len(near) > 1:
            return PlateMatch(None, "ambiguous")
        return PlateMatch(None, None)
