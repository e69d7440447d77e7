"""CJ/T 188-2004 frames (water, heat and gas meters on RS-485 or M-Bus): encode, decode, check,
and a stream reader that resynchronises.

A frame on the wire is `FE… 68 T A0..A6 C L DATA CS 16`: wake-up bytes, the meter type (0x10
cold water, 0x11 domestic hot water: both answer the same current data), the meter's 14-digit
number as 7 BCD bytes lowest first, control code, data length, the data (no offset, unlike
DL/T 645), and the sum mod 256 of every byte from the 68 to the end of the data (the frame and
its reader are the ones DL/T 645 shares, edge.drivers.meter_frame). A read of the current
data (DI 90 1F) is answered with the cumulative flow and the flow at the settlement day (4 BCD
bytes lowest first, two decimals, then a unit code), the meter's clock and two status bytes.
Checked against worked frames published with a public CJ/T 188 tool (see the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from edge.drivers import meter_frame
from edge.drivers.meter_frame import START, address_digits, bcd_address, unwrap, wrap

COLD_WATER = 0x10
HOT_WATER = 0x11  # domestic hot water (生活热水): the same current data as cold water
WATER_TYPES = {COLD_WATER: "cold water", HOT_WATER: "hot water"}
READ = 0x01  # master: read data
READ_ANSWER = 0x81  # meter: normal answer
READ_ERROR = 0xC1  # meter: error answer
CURRENT = b"\x90\x1f"  # DI: current cumulative flow, settlement-day flow, clock, status
_HEADER = 11  # 68 + T + 7 address + C + L
_ADDRESS = re.compile(r"\d{14}")
UNITS = {0x29: ("L", Decimal("0.001")), 0x2C: ("m3", Decimal(1))}  # to m³


class FrameError(meter_frame.FrameError):
    """Bytes that are not one well-formed CJ/T 188 frame; `reason` says what is wrong."""


@dataclass(frozen=True, slots=True)
class Frame:
    meter_type: int
    address: str  # 14 digits
    control: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Current:
    """A water meter's answer to a read of DI 90 1F."""

    volume_m3: Decimal
    settlement_m3: Decimal
    valve: str  # open / closed / fault
    battery_low: bool


def check_address(address: str) -> str:
    """A CJ/T 188 meter number is exactly 14 decimal digits."""
    if not _ADDRESS.fullmatch(address):
        raise FrameError(f"meter address {address!r} is not 14 decimal digits")
    return address


def encode(frame: Frame, wake: int = 3) -> bytes:
    return wrap(bytes([START, frame.meter_type]) + bcd_address(check_address(frame.address))
                + bytes([frame.control, len(frame.data)]) + frame.data, wake)


def decode(raw: bytes) -> Frame:
    """Exactly one frame, after any FE bytes; raises FrameError naming what is wrong."""
    body = unwrap(raw, _HEADER, FrameError)
    return Frame(body[1], address_digits(body[2:9], FrameError), body[9], body[_HEADER:])


class FrameReader(meter_frame.FrameReader[Frame]):
    """Cuts a byte stream into CJ/T 188 frames (see edge.drivers.meter_frame.FrameReader)."""

    def __init__(self) -> None:
        super().__init__(header=_HEADER, decode=decode, error=FrameError)


def read_request(address: str, ser: int = 0, meter_type: int = COLD_WATER, wake: int = 3) -> bytes:
    """A read of the current data (DI 90 1F) with sequence number `ser`."""
    return encode(Frame(meter_type, address, READ, CURRENT + bytes([ser & 0xFF])), wake)


def bcd_flow(raw: bytes, unit: int) -> Decimal:
    """4 BCD bytes, lowest first, two decimals, in the unit `unit` -> m³."""
    digits = raw[::-1].hex()
    if not digits.isdigit():
        raise FrameError(f"flow {raw.hex(' ')} is not BCD")
    if unit not in UNITS:
        raise FrameError(f"flow unit {unit:02X} is not litres (29) or m³ (2C)")
    return Decimal(digits) / 100 * UNITS[unit][1]


def current_answer(address: str, volume_m3: Decimal, *, settlement_m3: Decimal | None = None,
                   valve: str = "open", battery_low: bool = False, ser: int = 0,
                   clock: bytes = bytes(7), meter_type: int = COLD_WATER) -> bytes:
    """A water meter's answer to the current-data read (the simulator's side)."""
    def flow(value: Decimal) -> bytes:
        return bytes.fromhex(f"{int(value * 100) % 10**8:08d}")[::-1] + b"\x2c"
    status = {"open": 0, "closed": 1, "fault": 3}[valve] | (0x04 if battery_low else 0)
    data = (CURRENT + bytes([ser & 0xFF]) + flow(volume_m3)
            + flow(volume_m3 if settlement_m3 is None else settlement_m3) + clock
            + bytes([status, 0]))
    return encode(Frame(meter_type, address, READ_ANSWER, data))


def parse_current(frame: Frame, address: str, meter_type: int = COLD_WATER) -> Current:
    """The answer to a current-data read from the `meter_type` meter `address`; raises
    FrameError for anything else (a cold-water answer is never taken for a hot-water meter's)."""
    if frame.address != address:
        raise FrameError(f"answer from meter {frame.address}, asked {address}")
    if frame.meter_type != meter_type:
        raise FrameError(f"answer from a meter of type {frame.meter_type:02X}, "
                         f"asked type {meter_type:02X}")
    if frame.control == READ_ERROR:
        raise FrameError(f"meter answered an error ({frame.data.hex(' ') or 'no detail'})")
    if frame.control != READ_ANSWER:
        raise FrameError(f"control code {frame.control:02X} is not a read answer")
    data = frame.data
    if len(data) < 22 or data[:2] != CURRENT:
        raise FrameError(f"answer of {len(data)} bytes is not the current data (90 1F)")
    st = data[20]
    return Current(volume_m3=bcd_flow(data[3:7], data[7]),
                   settlement_m3=bcd_flow(data[8:12], data[12]),
                   valve={0: "open", 1: "closed"}.get(st & 0x03, "fault"),
                   battery_low=bool(st & 0x04))


__all__ = ["COLD_WATER", "HOT_WATER", "WATER_TYPES", "Current", "Frame", "FrameError", "FrameReader", "check_address",
           "current_answer", "decode", "encode", "parse_current", "read_request"]
