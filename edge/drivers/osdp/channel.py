"""An `osdp.Channel` over a pyserial port, with a frame counter on the receive side.

libosdp drives the channel from the bus's refresh thread: reads and writes never block.
libosdp resynchronises on garbled input by itself but does not say so; `FrameCounter`
watches the same bytes and counts good frames and garbled stretches for the bus counters.
"""

from __future__ import annotations

import osdp
import serial

_SOM = 0x53  # start of message
_MARK = 0xFF  # optional line-idle mark byte before SOM (OSDP 2.2)
_HEADER_LEN = 5  # SOM, ADDR, LEN_LSB, LEN_MSB, CTRL
_MIN_FRAME = 7  # header + reply code + checksum
_MAX_FRAME = 1440
_CTRL_CRC = 0x04
_REPLY = 0x80  # the address byte of a reader's reply (PD to CP)


def crc16(data: bytes | bytearray) -> int:
    """OSDP's CRC-16 (CCITT polynomial 0x1021, initial value 0x1D0F)."""
    crc = 0x1D0F
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


class FrameCounter:
    """Splits a byte stream into OSDP frames; counts good frames, garbled ones and stray bytes."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_garbage = False
        self.frames = 0
        self.errors = 0
        self.garbage_bytes = 0
        # good reply frames per reader address: a reader that answers yet never comes online
        # is refusing the secure channel, not missing
        self.replies: dict[int, int] = {}

    def feed(self, data: bytes) -> None:
        self._buf += data
        while self._buf:
            if self._buf[0] == _MARK and not self._in_garbage:
                del self._buf[0]
                continue
            if self._buf[0] != _SOM:
                self._skip_garbage()
                continue
            if len(self._buf) < _HEADER_LEN:
                return
            length = self._buf[2] | self._buf[3] << 8
            if not _MIN_FRAME <= length <= _MAX_FRAME:
                self._skip_garbage()
                continue
            if len(self._buf) < length:
                return
            if self._frame_ok(self._buf[:length]):
                self.frames += 1
                if self._buf[1] & _REPLY:
                    address = self._buf[1] & 0x7F
                    self.replies[address] = self.replies.get(address, 0) + 1
                self._in_garbage = False
                del self._buf[:length]
            else:
                self._skip_garbage()

    def reset(self) -> None:
        """Forget a partial frame (the port was reopened)."""
        self._buf.clear()
        self._in_garbage = False

    def _skip_garbage(self) -> None:
        # One error per contiguous garbled stretch, however long.
        if not self._in_garbage:
            self.errors += 1
            self._in_garbage = True
        self.garbage_bytes += 1
        del self._buf[0]

    @staticmethod
    def _frame_ok(frame: bytearray) -> bool:
        if frame[4] & _CTRL_CRC:
            return crc16(frame[:-2]) == (frame[-2] | frame[-1] << 8)
        return (sum(frame[:-1]) + frame[-1]) & 0xFF == 0


class SerialChannel(osdp.Channel):
    """Non-blocking byte pipe between libosdp and a serial port (RS-485 adapter or pty).

    A port error does not raise into libosdp: the channel marks itself `broken` and the
    bus reopens it.
    """

    def __init__(self, port: str, baudrate: int) -> None:
        super().__init__()
        self.port = port
        self.baudrate = baudrate
        self.frames = FrameCounter()
        self.bytes_rx = 0
        self.bytes_tx = 0
        self.broken = False
        self._serial: serial.Serial | None = None

    def open(self) -> None:
        self._serial = serial.Serial(
            self.port, self.baudrate, timeout=0, write_timeout=0, exclusive=True
        )
        self._serial.reset_input_buffer()
        self.frames.reset()
        self.broken = False

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def fileno(self) -> int | None:
        return None if self._serial is None or self.broken else self._serial.fileno()

    def read(self, max_bytes: int) -> bytes:
        if self._serial is None or self.broken:
            return b""
        try:
            data: bytes = self._serial.read(max_bytes)
        except serial.SerialException:
            self.broken = True
            return b""
        if data:
            self.bytes_rx += len(data)
            self.frames.feed(data)
        return data

    def write(self, buf: bytes) -> int:
        if self._serial is None or self.broken:
            return 0
        try:
            sent: int = self._serial.write(bytes(buf)) or 0
        except serial.SerialException:
            self.broken = True
            return 0
        self.bytes_tx += sent
        return sent

    def flush(self) -> None:
        # libosdp calls this after a bad reply to drop stale input; read it rather than
        # discard it so the frame counter still sees what was garbled.
        while self.read(256):
            pass
