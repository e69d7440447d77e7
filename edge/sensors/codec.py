"""Raw Modbus words and bits <-> engineering values, as a register's map entry says."""

from __future__ import annotations

from collections.abc import Sequence

from edge.sensors.models import WORDS, Register


def raw_value(reg: Register, words: Sequence[int | bool]) -> int | bool:
    """Combine one element's words (high word first) into its raw integer, signed if typed so."""
    if reg.type == "bool":
        return bool(words[0])
    value = 0
    for word in words[: WORDS[reg.type]]:
        value = (value << 16) | (int(word) & 0xFFFF)
    bits = 16 * WORDS[reg.type]
    if reg.type.startswith("int") and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def scaled(reg: Register, raw: int | bool) -> float | int | bool:
    """The engineering value; integers stay integers when scale and offset are whole."""
    if isinstance(raw, bool):
        return raw
    value = raw * reg.scale + reg.offset
    if float(reg.scale).is_integer() and float(reg.offset).is_integer():
        return int(value)
    return round(value, 6)


def encode(reg: Register, value: float | bool) -> list[int | bool]:
    """The words (or one bit) that make `reg` read back as the engineering `value`."""
    if reg.type == "bool":
        return [bool(value)]
    raw = round((float(value) - reg.offset) / reg.scale)
    bits = 16 * WORDS[reg.type]
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if reg.type.startswith("int") else (0, (1 << bits) - 1)
    if not low <= raw <= high:
        raise ValueError(f"{reg.name}: {value} is out of range for {reg.type}")
    raw &= (1 << bits) - 1
    return [(raw >> (16 * i)) & 0xFFFF for i in reversed(range(WORDS[reg.type]))]
