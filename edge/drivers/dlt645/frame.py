"""DL/T 645-2007 frames: encode, decode and check, and a stream reader that resynchronises.

A frame on the wire is `FE… 68 A0..A5 68 C L DATA CS 16`: any number of FE wake-up bytes, the
meter's 12-digit number as 6 BCD bytes lowest first, control code, data length, the data with
0x33 added to every byte, and the sum mod 256 of every byte from the first 68 to the end of the
data. Checked against worked frames published with public DL/T 645 tools (see the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.drivers.dlt645.errors import FrameError

START = 0x68
END = 0x16
WAKE = 0xFE
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
    check_address(address)
    return bytes.fromhex(address)[::-1]


def address_of(raw: bytes) -> str:
    digits = raw[::-1].hex()
    if not digits.isdigit():
        raise FrameError(f"address {raw.hex(' ')} is not BCD")
    return digits


def checksum(raw: bytes) -> int:
    return sum(raw) & 0xFF


def encode(frame: Frame, wake: int = 4) -> bytes:
    """The bytes to send: `wake` FE bytes, then the frame."""
    body = (bytes([START]) + address_bytes(frame.address) + bytes([START, frame.control,
                                                                   len(frame.data)])
            + bytes((b + OFFSET) & 0xFF for b in frame.data))
    return bytes([WAKE]) * wake + body + bytes([checksum(body), END])


def decode(raw: bytes) -> Frame:
    """Exactly one frame, after any FE bytes; raises FrameError naming what is wrong."""
    body = raw.lstrip(bytes([WAKE]))
    if not body:
        raise FrameError("no frame: only wake-up bytes or nothing")
    if body[0] != START:
        raise FrameError(f"frame starts with {body[0]:02X}, not 68")
    if len(body) < _HEADER + 2:
        raise FrameError(f"frame of {len(body)} bytes is shorter than the minimum 12")
    if body[7] != START:
        raise FrameError(f"second start byte is {body[7]:02X}, not 68")
    length = body[9]
    if len(body) != _HEADER + length + 2:
        raise FrameError(f"length byte says {length} data bytes, "
                         f"frame holds {len(body) - _HEADER - 2}")
    cs = checksum(body[: _HEADER + length])
    if body[-2] != cs:
        raise FrameError(f"checksum is {body[-2]:02X}, expected {cs:02X}")
    if body[-1] != END:
        raise FrameError(f"frame ends with {body[-1]:02X}, not 16")
    data = bytes((b - OFFSET) & 0xFF for b in body[_HEADER: _HEADER + length])
    return Frame(address_of(body[1:7]), body[8], data)


class FrameReader:
    """Cuts a byte stream into frames: skips FE and noise before a 68, and after a bad frame
    resumes at the next 68, so one garbled frame costs only itself. `feed` returns each
    complete frame, or the FrameError of a garbled one, in order."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buf += data
        out: list[Frame | FrameError] = []
        while True:
            start = self._buf.find(START)
            if start < 0:
                skipped = bytes(self._buf).strip(bytes([WAKE]))
                if skipped:
                    out.append(FrameError(f"{len(skipped)} stray bytes outside a frame"))
                self._buf.clear()
                return out
            noise = bytes(self._buf[:start]).strip(bytes([WAKE]))
            if noise:
                out.append(FrameError(f"{len(noise)} stray bytes before a frame"))
            del self._buf[:start]
            if len(self._buf) < _HEADER:
                return out
            if self._buf[7] != START:
                out.append(FrameError(f"second start byte is {self._buf[7]:02X}, not 68"))
                del self._buf[:1]
                continue
            size = _HEADER + self._buf[9] + 2
            if len(self._buf) < size:
                return out
            raw = bytes(self._buf[:size])
            try:
                out.append(decode(raw))
            except FrameError as exc:
                out.append(exc)
                # a frame whose shape holds (ends in 16) is dropped whole; otherwise resume at
                # the next 68, which may start a frame the bad length byte swallowed
                del self._buf[: size if raw[-1] == END else 1]
                continue
            del self._buf[:size]


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
