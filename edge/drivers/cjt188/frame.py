"""CJ/T 188-2004 frames (water, heat and gas meters on RS-485 or M-Bus): encode, decode, check,
and a stream reader that resynchronises.

A frame on the wire is `FE… 68 T A0..A6 C L DATA CS 16`: wake-up bytes, the meter type (0x10
cold water), the meter's 14-digit number as 7 BCD bytes lowest first, control code, data length,
the data (no offset, unlike DL/T 645), and the sum mod 256 of every byte from the 68 to the end
of the data. A read of the current data (DI 90 1F) is answered with the cumulative flow and the
flow at the settlement day (4 BCD bytes lowest first, two decimals, then a unit code), the
meter's clock and two status bytes. Checked against worked frames published with a public
CJ/T 188 tool (see the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

START = 0x68
END = 0x16
WAKE = 0xFE
COLD_WATER = 0x10
READ = 0x01  # master: read data
READ_ANSWER = 0x81  # meter: normal answer
READ_ERROR = 0xC1  # meter: error answer
CURRENT = b"\x90\x1f"  # DI: current cumulative flow, settlement-day flow, clock, status
_HEADER = 11  # 68 + T + 7 address + C + L
_ADDRESS = re.compile(r"\d{14}")
UNITS = {0x29: ("L", Decimal("0.001")), 0x2C: ("m3", Decimal(1))}  # to m³


class FrameError(ValueError):
    """Bytes that are not one well-formed CJ/T 188 frame; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def checksum(raw: bytes) -> int:
    return sum(raw) & 0xFF


def encode(frame: Frame, wake: int = 3) -> bytes:
    body = (bytes([START, frame.meter_type]) + bytes.fromhex(check_address(frame.address))[::-1]
            + bytes([frame.control, len(frame.data)]) + frame.data)
    return bytes([WAKE]) * wake + body + bytes([checksum(body), END])


def decode(raw: bytes) -> Frame:
    """Exactly one frame, after any FE bytes; raises FrameError naming what is wrong."""
    body = raw.lstrip(bytes([WAKE]))
    if not body or body[0] != START:
        raise FrameError("frame does not start with 68")
    if len(body) < _HEADER + 2:
        raise FrameError(f"frame of {len(body)} bytes is shorter than the minimum 13")
    length = body[10]
    if len(body) != _HEADER + length + 2:
        raise FrameError(f"length byte says {length} data bytes, "
                         f"frame holds {len(body) - _HEADER - 2}")
    cs = checksum(body[: _HEADER + length])
    if body[-2] != cs:
        raise FrameError(f"checksum is {body[-2]:02X}, expected {cs:02X}")
    if body[-1] != END:
        raise FrameError(f"frame ends with {body[-1]:02X}, not 16")
    digits = body[2:9][::-1].hex()
    if not digits.isdigit():
        raise FrameError(f"address {body[2:9].hex(' ')} is not BCD")
    return Frame(body[1], digits, body[9], body[_HEADER: _HEADER + length])


class FrameReader:
    """Cuts a byte stream into frames (FE and noise before a 68 skipped; after a bad frame,
    resumes at the next 68). `feed` returns each frame, or the FrameError of a garbled one."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buf += data
        out: list[Frame | FrameError] = []
        while True:
            start = self._buf.find(START)
            if start < 0:
                if bytes(self._buf).strip(bytes([WAKE])):
                    out.append(FrameError(f"{len(self._buf)} stray bytes outside a frame"))
                self._buf.clear()
                return out
            if bytes(self._buf[:start]).strip(bytes([WAKE])):
                out.append(FrameError(f"{start} stray bytes before a frame"))
            del self._buf[:start]
            if len(self._buf) < _HEADER:
                return out
            size = _HEADER + self._buf[10] + 2
            if len(self._buf) < size:
                return out
            raw = bytes(self._buf[:size])
            try:
                out.append(decode(raw))
            except FrameError as exc:
                out.append(exc)
                del self._buf[: size if raw[-1] == END else 1]
                continue
            del self._buf[:size]


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


def parse_current(frame: Frame, address: str) -> Current:
    """The answer to a current-data read from `address`; raises FrameError for anything else."""
    if frame.address != address:
        raise FrameError(f"answer from meter {frame.address}, asked {address}")
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


__all__ = ["COLD_WATER", "Current", "Frame", "FrameError", "FrameReader", "check_address",
           "current_answer", "decode", "encode", "parse_current", "read_request"]
