"""The data identifiers (DI) Lintel reads and how their BCD values decode.

Values are BCD, lowest byte first; current and power carry their sign in the highest bit of
the highest byte (reverse flow). Decimal, not float: an energy total feeds billing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from edge.drivers.dlt645.errors import FrameError


@dataclass(frozen=True, slots=True, kw_only=True)
class DataItem:
    name: str
    di: int
    size: int  # bytes
    decimals: int
    unit: str
    signed: bool = False

    def decode(self, value: bytes) -> Decimal:
        if len(value) != self.size:
            raise FrameError(f"{self.name}: {len(value)} value bytes, expected {self.size}")
        raw = bytearray(value[::-1])  # highest byte first
        negative = self.signed and bool(raw[0] & 0x80)
        if self.signed:
            raw[0] &= 0x7F
        digits = raw.hex()
        if not digits.isdigit():
            raise FrameError(f"{self.name}: value {value.hex(' ')} is not BCD")
        number = Decimal(digits).scaleb(-self.decimals)
        return -number if negative else number

    def encode(self, number: Decimal) -> bytes:
        """The simulator's side: a value as the meter sends it."""
        scaled = int((abs(number).scaleb(self.decimals)).to_integral_value())
        digits = f"{scaled:0{self.size * 2}d}"
        if len(digits) > self.size * 2:
            raise ValueError(f"{self.name}: {number} does not fit {self.size} BCD bytes")
        raw = bytearray.fromhex(digits)
        if self.signed and number < 0:
            if raw[0] & 0x80:
                raise ValueError(f"{self.name}: {number} does not fit with its sign")
            raw[0] |= 0x80
        return bytes(raw[::-1])


ITEMS = {item.name: item for item in (
    DataItem(name="energy_kwh", di=0x00000000, size=4, decimals=2, unit="kWh"),
    DataItem(name="voltage_a_v", di=0x02010100, size=2, decimals=1, unit="V"),
    DataItem(name="current_a_a", di=0x02020100, size=3, decimals=3, unit="A", signed=True),
    DataItem(name="power_kw", di=0x02030000, size=3, decimals=4, unit="kW", signed=True),
)}
BY_DI = {item.di: item for item in ITEMS.values()}
