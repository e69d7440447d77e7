"""What the two serial-meter frame codecs share (DL/T 645 electricity, CJ/T 188 water and heat):
`FE… 68 … L DATA CS 16` frames with a BCD meter number lowest byte first, a length byte, the
sum mod 256 from the 68 to the end of the data, and a stream reader that resynchronises after
noise or a garbled frame. Each codec says where its length byte is and what else its header
must hold; the meaning of the data is its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

START = 0x68
END = 0x16
WAKE = 0xFE

_F = TypeVar("_F")


class FrameError(ValueError):
    """Bytes that are not one well-formed frame; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def checksum(raw: bytes) -> int:
    return sum(raw) & 0xFF


def bcd_address(address: str) -> bytes:
    """'221211182903' -> 03 29 18 11 12 22: BCD, lowest byte first (the caller checks digits)."""
    return bytes.fromhex(address)[::-1]


def address_digits(raw: bytes, error: type[FrameError]) -> str:
    digits = raw[::-1].hex()
    if not digits.isdigit():
        raise error(f"address {raw.hex(' ')} is not BCD")
    return digits


def wrap(body: bytes, wake: int) -> bytes:
    """`wake` FE bytes, the frame from its 68 to the data, its checksum and the 16."""
    return bytes([WAKE]) * wake + body + bytes([checksum(body), END])


def unwrap(raw: bytes, header: int, error: type[FrameError],
           shape: Callable[[bytes], str | None] = lambda _: None) -> bytes:
    """The frame of `raw` (FE bytes dropped) from its 68 to the end of its data, checked for
    start, the codec's `shape` of its header, length (the header's last byte), checksum and
    end; raises `error` naming the first fault."""
    body = raw.lstrip(bytes([WAKE]))
    if not body:
        raise error("no frame: only wake-up bytes or nothing")
    if body[0] != START:
        raise error(f"frame starts with {body[0]:02X}, not 68")
    if len(body) < header + 2:
        raise error(f"frame of {len(body)} bytes is shorter than the minimum {header + 2}")
    fault = shape(body[:header])
    if fault is not None:
        raise error(fault)
    length = body[header - 1]
    if len(body) != header + length + 2:
        raise error(f"length byte says {length} data bytes, frame holds {len(body) - header - 2}")
    cs = checksum(body[: header + length])
    if body[-2] != cs:
        raise error(f"checksum is {body[-2]:02X}, expected {cs:02X}")
    if body[-1] != END:
        raise error(f"frame ends with {body[-1]:02X}, not 16")
    return body[: header + length]


class FrameReader(Generic[_F]):
    """Cuts a byte stream into frames: skips FE and noise before a 68, and after a bad frame
    resumes at the next 68, so one garbled frame costs only itself. `feed` returns each
    complete frame, or the FrameError of a garbled one, in order. `header` counts the bytes
    from the 68 to the length byte (its last); `shape` names what is wrong with a header
    (DL/T 645's second 68), or None."""

    def __init__(self, *, header: int, decode: Callable[[bytes], _F], error: type[FrameError],
                 shape: Callable[[bytes], str | None] = lambda _: None) -> None:
        self._buf = bytearray()
        self._header = header
        self._decode = decode
        self._error = error
        self._shape = shape

    def feed(self, data: bytes) -> list[_F | FrameError]:
        self._buf += data
        out: list[_F | FrameError] = []
        while True:
            start = self._buf.find(START)
            if start < 0:
                skipped = bytes(self._buf).strip(bytes([WAKE]))
                if skipped:
                    out.append(self._error(f"{len(skipped)} stray bytes outside a frame"))
                self._buf.clear()
                return out
            noise = bytes(self._buf[:start]).strip(bytes([WAKE]))
            if noise:
                out.append(self._error(f"{len(noise)} stray bytes before a frame"))
            del self._buf[:start]
            if len(self._buf) < self._header:
                return out
            fault = self._shape(bytes(self._buf[: self._header]))
            if fault is not None:
                out.append(self._error(fault))
                del self._buf[:1]
                continue
            size = self._header + self._buf[self._header - 1] + 2
            if len(self._buf) < size:
                return out
            raw = bytes(self._buf[:size])
            try:
                out.append(self._decode(raw))
            except FrameError as exc:
                out.append(exc)
                # a frame whose shape holds (ends in 16) is dropped whole; otherwise resume at
                # the next 68, which may start a frame the bad length byte swallowed
                del self._buf[: size if raw[-1] == END else 1]
                continue
            del self._buf[:size]


__all__ = ["END", "START", "WAKE", "FrameError", "FrameReader", "address_digits", "bcd_address",
           "checksum", "unwrap", "wrap"]
