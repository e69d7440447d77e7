"""A riser of DL/T 645-2007 electricity meters on one serial line (a pty).

Behaves as meters on a real RS-485 bus do: every meter hears every frame and answers only a
read addressed to its own number (a frame for another meter, a garbled frame and a silent meter
get no answer: the master times out); a read of an identifier the meter does not keep gets the
error answer D1 with 'no such data' (02). Energy grows with the meter's load over time
(`speed` makes an hour pass faster). With `baudrate` set, each answer waits for the request's
and its own time on the wire at that speed plus the meter's turnaround, so a benchmark sees a
real line's timing on a pty that moves bytes at memory speed.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Self

from edge.drivers.dlt645.frame import (
    READ,
    Frame,
    FrameReader,
    check_address,
    encode,
    error_answer,
    read_answer,
)
from edge.drivers.dlt645.items import BY_DI

NO_SUCH_DATA = 0x02


@dataclass
class SimulatedMeter:
    address: str
    kwh: Decimal = Decimal("0")  # the reading at start
    kw: Decimal = Decimal("0.5")  # the load: energy grows by kw per hour
    volts: Decimal = Decimal("220.0")
    speed: float = 1.0  # simulated hours per real hour
    silent: bool = False
    garble: int = 0  # the next n answers go out with a wrong checksum
    lacks: frozenset[int] = frozenset()  # identifiers this meter does not keep
    answered: int = 0
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        check_address(self.address)

    def energy(self) -> Decimal:
        hours = Decimal(str((time.monotonic() - self._started) * self.speed / 3600))
        return (self.kwh + self.kw * hours).quantize(Decimal("0.01"))

    def value(self, di: int) -> bytes | None:
        item = BY_DI.get(di)
        if item is None or di in self.lacks:
            return None
        current = (self.kw * 1000 / self.volts).quantize(Decimal("0.001"))
        number = {"energy_kwh": self.energy(), "voltage_a_v": self.volts,
                  "current_a_a": current, "power_kw": self.kw}[item.name]
        return item.encode(number)

    def answer(self, frame: Frame) -> bytes | None:
        if self.silent or frame.control != READ or len(frame.data) != 4:
            return None
        di = int.from_bytes(frame.data, "little")
        value = self.value(di)
        out = (error_answer(self.address, NO_SUCH_DATA) if value is None
               else read_answer(self.address, di, value))
        self.answered += 1
        if self.garble:
            self.garble -= 1
            out = out[:-2] + bytes([(out[-2] + 1) & 0xFF]) + out[-1:]
        return out


class MeterLineSimulator:
    """`with MeterLineSimulator(meters) as line:` answers on `line.port` until exit."""

    def __init__(self, meters: list[SimulatedMeter], *, baudrate: int | None = None,
                 turnaround_s: float = 0.0) -> None:
        self.meters: dict[str, SimulatedMeter] = {}
        for m in meters:
            if m.address in self.meters:
                raise ValueError(f"two meters with address {m.address} on one line")
            self.meters[m.address] = m
        self._char_s = 11 / baudrate if baudrate else 0.0  # 8E1: 11 bits a byte
        self._turnaround_s = turnaround_s
        self._master, self._slave = pty.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.frames_seen = 0
        self.garbled_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dlt645-sim", daemon=True)

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
        reader = FrameReader()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                continue
            for got in reader.feed(data):
                if not isinstance(got, Frame):
                    self.garbled_seen += 1
                    continue
                self.frames_seen += 1
                meter = self.meters.get(got.address)
                reply = meter.answer(got) if meter is not None else None
                if reply is None:
                    continue
                if self._char_s:
                    request = len(encode(got))
                    time.sleep((request + len(reply)) * self._char_s + self._turnaround_s)
                with contextlib.suppress(OSError):
                    os.write(self._master, reply)
