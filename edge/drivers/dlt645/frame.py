"""DL/T 645-2007 frames: encode, decode and check, and a stream reader that resynchronises.

A frame on the wire is `FE… 68 A0..A5 68 C L DATA CS 16`: any number of FE wake-up bytes, the
meter's 12-digit number as 6 BCD bytes lowest first, control code, data length, the data with
0x33 added to every byte, and the sum mod 256 of every byte from the first 68 to the end of the
data. Checked against worked frames published with public DL/T 645 tools (see the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.drivers import meter_frame
from edge.drivers.dlt645.errors import FrameError
from edge.drivers.meter_frame import START, address_digits, bcd_address, unwrap, wrap

OFFSET = 0x33
READ = 0x11  # master: read data
READ_ANSWER = 0x91  # meter: normal answer, no follow-up frame
READ_ANSWER_MORE = 0xB1  # meter: normal answer, follow-up frames exist
READ_ERROR = 0xD1  # meter: error answer, one error byte
MAX_DATA = 200  # the standard's limit on a read answer's data field
_HEADER = 10  # 68 + 6 address + 68 + C + L
_ADDRESS = re.compile(r"\d{12}")

# The error byte of an error answer (the standard's "error information word"), bit by bit.
ERROR_BITS = {
    0x01: "other error",
    0x02: "no such data requested",
    0x04: "password wrong or not authorised",
    0x08: "baud rate cannot be changed",
    0x10: "too many annual time zones",
    0x20: "too many daily time periods",
    0x40: "too many tariffs",
}


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: the meter's number (12 digits), the control code and the data (without the
    0x33 offset)."""

    address: str
    control: int
    data: bytes = b""

    def __post_init__(self) -> None:
        check_address(self.address)
        if not 0 <= self.control <= 0xFF:
            raise FrameError(f"control code {self.control} is not one byte")
        if len(self.data) > 0xFF:
            raise FrameError(f"data of {len(self.data)} bytes does not fit the length byte")


def check_address(address: str) -> str:
    """A meter number is exactly 12 decimal digits (the number printed on the meter)."""
    if not _ADDRESS.fullmatch(address):
        raise FrameError(f"meter address {address!r} is not 12 decimal digits")
    return address


def address_bytes(address: str) -> bytes:
    """'221211182903' -> 03 29 18 11 12 22: BCD, lowest byte first."""
    return bcd_address(check_address(address))


def address_of(raw: bytes) -> str:
    return address_digits(raw, FrameError)


def encode(frame: Frame, wake: int = 4) -> bytes:
    """The bytes to send: `wake` FE bytes, then the frame."""
    return wrap(bytes([START]) + address_bytes(frame.address)
                + bytes([START, frame.control, len(frame.data)])
                + bytes((b + OFFSET) & 0xFF for b in frame.data), wake)


def _second_start(header: bytes) -> str | None:
    return None if header[7] == START else f"second start byte is {header[7]:02X}, not 68"


def decode(raw: bytes) -> Frame:
    """Exactly one frame, after any FE bytes; raises FrameError naming what is wrong."""
    body = unwrap(raw, _HEADER, FrameError, _second_start)
    data = bytes((b - OFFSET) & 0xFF for b in body[_HEADER:])
    return Frame(address_of(body[1:7]), body[8], data)


class FrameReader(meter_frame.FrameReader[Frame]):
    """Cuts a byte stream into DL/T 645 frames (see edge.drivers.meter_frame.FrameReader)."""

    def __init__(self) -> None:
        super().__init__(header=_HEADER, decode=decode, error=FrameError, shape=_second_start)


def read_request(address: str, di: int, wake: int = 4) -> bytes:
    """A read of one data identifier, e.g. 0x00000000 combined active energy total."""
    return encode(Frame(address, READ, di.to_bytes(4, "little")), wake)


def read_answer(address: str, di: int, value: bytes) -> bytes:
    """A meter's normal answer (the simulator's side)."""
    return encode(Frame(address, READ_ANSWER, di.to_bytes(4, "little") + value))


def error_answer(address: str, error: int) -> bytes:
    return encode(Frame(address, READ_ERROR, bytes([error])))


def answer_value(frame: Frame, address: str, di: int) -> bytes:
    """The value bytes of the answer to a read of `di` from `address`; raises FrameError for a
    frame that is not that answer and names a meter's error answer."""
    if frame.address != address:
        raise FrameError(f"answer from meter {frame.address}, asked {address}")
    if frame.control == READ_ERROR:
        code = frame.data[0] if frame.data else 0
        reasons = [text for bit, text in ERROR_BITS.items() if code & bit] or ["unspecified"]
        raise FrameError(f"meter answered error {code:02X}: {', '.join(reasons)}")
    if frame.control not in (READ_ANSWER, READ_ANSWER_MORE):
        raise FrameError(f"control code {frame.control:02X} is not a read answer")
    if len(frame.data) < 4 or int.from_bytes(frame.data[:4], "little") != di:
        raise FrameError(f"answer is not for data identifier {di:08X}")
    return frame.data[4:]
