"""One simulated RS-485 line: a pty (or a serial port) shared by several OSDP readers.

On a real multi-drop line every reader hears every frame the panel sends and answers only
its own address. Here one thread reads what the panel wrote, hands a copy to each reader's
libosdp peripheral device (which drops frames for other addresses itself) and refreshes
them in turn; their replies go back on the one line.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from collections.abc import Callable
from typing import Any

import osdp
import serial

_TICK = 0.005


class _LineChannel(osdp.Channel):
    """A reader's view of the line: what the panel sent since it last read, and the line to
    write on."""

    def __init__(self, line: OsdpLine) -> None:
        super().__init__()
        self._line = line
        self.rx = bytearray()
        self.tamper: Callable[[bytes], bytes] | None = None  # rewrites the reader's replies

    def read(self, max_bytes: int) -> bytes:
        data = bytes(self.rx[:max_bytes])
        del self.rx[:max_bytes]
        return data

    def write(self, buf: bytes) -> int:
        data = bytes(buf)
        if self.tamper is not None:
            tampered = self.tamper(data)
            if tampered is not data:
                self._line.write(tampered)
                return len(data)
        return self._line.write(data)

    def flush(self) -> None:
        self.rx.clear()


class OsdpLine:
    """`port` is what a control panel opens. With no `port` given the line is a pty pair
    whose slave end stays open until `close()`, so readers may stop and start on it."""

    def __init__(self, port: str | None = None, baudrate: int = 115200) -> None:
        self._serial: serial.Serial | None = None
        self._slave_fd: int | None = None
        if port is None:
            master, slave = os.openpty()
            tty.setraw(slave)
            self._fd = master
            self._slave_fd = slave  # held open so the master never sees EIO between panels
            self.port = os.ttyname(slave)
        else:
            self._serial = serial.Serial(port, baudrate, timeout=0)
            self._fd = self._serial.fileno()
            self.port = port
        os.set_blocking(self._fd, False)
        self.lock = threading.Lock()
        self._readers: dict[int, tuple[_LineChannel, Any, Callable[[], None]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._closed = False

    def channel(self) -> _LineChannel:
        return _LineChannel(self)

    def attach(self, address: int, channel: _LineChannel, pd: Any, tick: Callable[[], None]) -> None:
        """Serve `pd` (a libosdp PeripheralDevice reading `channel`) at `address`."""
        with self.lock:
            if address in self._readers:
                raise RuntimeError(f"line {self.port}: address {address} is taken")
            if not self._readers:
                self._drain()  # whatever the panel sent while no reader listened
            self._readers[address] = (channel, pd, tick)
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"osdp-line {self.port}",
                                            daemon=True)
            self._thread.start()
        self.wake()

    def detach(self, address: int) -> None:
        with self.lock:
            self._readers.pop(address, None)
            idle = not self._readers
        if idle and self._thread is not None:
            self._stop.set()
            self.wake()
            self._thread.join()
            self._thread = None

    def write(self, data: bytes) -> int:
        try:
            return os.write(self._fd, data)
        except (BlockingIOError, OSError):
            return 0

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except OSError:
            pass  # a wake-up is already pending

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for address in list(self._readers):
            self.detach(address)
        if self._serial is not None:
            self._serial.close()
        else:
            os.close(self._fd)
            if self._slave_fd is not None:
                os.close(self._slave_fd)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _drain(self) -> None:
        try:
            while os.read(self._fd, 4096):
                pass
        except (BlockingIOError, OSError):
            pass  # OSError: EIO on a pty master while nothing holds the slave open

    def _run(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._fd, self._wake_r], [], [], _TICK)
            if self._wake_r in readable:
                try:
                    os.read(self._wake_r, 512)
                except BlockingIOError:
                    pass
            data = b""
            if self._fd in readable:
                try:
                    data = os.read(self._fd, 4096)
                except (BlockingIOError, OSError):
                    data = b""
            with self.lock:
                for channel, pd, tick in self._readers.values():
                    if data:
                        channel.rx += data
                    pd.refresh()
                    tick()
