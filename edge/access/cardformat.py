"""Raw Wiegand reads decoded into facility code and card number, parity checked.

26-bit H10301: even parity, 8-bit facility, 16-bit card, odd parity. 34-bit: even parity,
16-bit facility, 16-bit card, odd parity. The leading parity bit covers the first half of
the bits, the trailing one the second half. Which formats a site uses is its card format
(wire.CardFormatRule); a length it does not use is an unknown format, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wire import CardFormatRule

_FACILITY_BITS = {26: 8, 34: 16}
_CARD_BITS = 16


@dataclass(frozen=True, slots=True)
class DecodedCard:
    facility: int
    number: int


class CardFormatError(ValueError):
    """A raw read that is not a card of the site's formats, or was misread."""

    def __init__(self, reason: Literal["bad_parity", "unknown_format"], detail: str) -> None:
        super().__init__(detail)
        self.reason: Literal["bad_parity", "unknown_format"] = reason


def decode_wiegand(data: bytes, bits: int, rule: CardFormatRule) -> DecodedCard:
    """The facility code and card number in `bits` raw Wiegand bits packed from `data`'s
    first byte's top bit (OSDP osdp_RAW)."""
    if bits not in rule.wiegand or bits not in _FACILITY_BITS:
        raise CardFormatError("unknown_format", f"a {bits}-bit read is not one of the "
                              f"site's formats {rule.wiegand}")
    if len(data) * 8 < bits:
        raise CardFormatError("unknown_format", f"{bits} bits announced, {len(data)} bytes sent")
    value = int.from_bytes(data, "big") >> (len(data) * 8 - bits)
    half = bits // 2
    first, second = value >> half, value & ((1 << half) - 1)
    if bin(first).count("1") % 2 != 0 or bin(second).count("1") % 2 != 1:
        raise CardFormatError("bad_parity", f"{bits}-bit read fails its parity check")
    payload = (value >> 1) & ((1 << (bits - 2)) - 1)
    return DecodedCard(facility=payload >> _CARD_BITS, number=payload & ((1 << _CARD_BITS) - 1))


def raw_text(data: bytes, bits: int) -> str:
    """How a refused raw read appears in its access event: `w<bits>:<hex>`."""
    return f"w{bits}:{data.hex()}"
