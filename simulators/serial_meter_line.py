"""What the serial meter risers share (DL/T 645 electricity, CJ/T 188 water): one pty that a
thread serves as a real RS-485 bus behaves. Every meter hears every frame and answers only
what is addressed to its own number; a garbled frame, a frame for no meter on the line and a
silent meter get no answer (the master times out). With `baudrate` set, each answer waits for
the request's and its own time on the wire at that speed plus the meter's turnaround, so a
benchmark sees a real line's timing on a pty that moves bytes at memory speed."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import threading
import time
import tty
from collections.abc import Callable, Mapping
from typing import Generic, Protocol, Self, TypeVar

from edge.drivers.meter_frame import FrameError, FrameReader


class _Addressed(Protocol):
    @property
    def address(self) -> str: ...


_F = TypeVar("_F", bound=_Addressed)
_M = TypeVar("_M")


class SerialMeterLine(Generic[_F, _M]):
    """`with Line(meters) as line:` answers on `line.port` until exit; `answer(meter, frame)`
    is the meter's reply (None: silence); `encode(frame)` gives a request's size on the wire."""

    def __init__(self, meters: Mapping[str, _M], *, reader: Callable[[], FrameReader[_F]],
                 answer: Callable[[_M, _F], bytes | None], encode: Callable[[_F], bytes],
                 name: str, baudrate: int | None = None, turnaround_s: float = 0.0) -> None:
        self.meters = dict(meters)
        self._reader = reader
        self._answer = answer
        self._encode = encode
        self._char_s = 11 / baudrate if baudrate else 0.0  # 8E1: 11 bits a byte
        self._turnaround_s = turnaround_s
        self._master, self._slave = pty.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.frames_seen = 0
        self.garbled_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _serve(self) -> None:
        reader = self._reader()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                continue
            for got in reader.feed(data):
                if isinstance(got, FrameError):
                    self.garbled_seen += 1
                    continue
                self.frames_seen += 1
                meter = self.meters.get(got.address)
                reply = self._answer(meter, got) if meter is not None else None
                if reply is None:
                    continue
                if self._char_s:
                    request = len(self._encode(got))
                    time.sleep((request + len(reply)) * self._char_s + self._turnaround_s)
                with contextlib.suppress(OSError):
                    os.write(self._master, reply)


def by_address(meters: list[_M], address: Callable[[_M], str]) -> dict[str, _M]:
    """The line's meters by number; two with one number cannot share a bus."""
    out: dict[str, _M] = {}
    for m in meters:
        if address(m) in out:
            raise ValueError(f"two meters with address {address(m)} on one line")
        out[address(m)] = m
    return out


__all__ = ["SerialMeterLine", "by_address"]
