"""A riser of CJ/T 188-2004 water meters on one serial line (a pty).

As on a real RS-485/M-Bus line every meter hears every frame and answers only a read of the
current data (DI 90 1F) addressed to its own 14-digit number; a silent meter does not answer.
A meter's volume is set by the test (`meters[address].volume_m3`) or grows with its flow.
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

from edge.drivers.cjt188 import Frame, FrameReader, current_answer
from edge.drivers.cjt188.frame import CURRENT, READ


@dataclass
class WaterMeter:
    address: str  # 14 digits
    volume_m3: Decimal = Decimal(0)
    flow_m3_h: Decimal = Decimal(0)  # the volume grows by this much an hour (`speed` faster)
    battery_low: bool = False
    silent: bool = False
    reads: int = 0
    _since: float = field(default_factory=time.monotonic)

    def volume(self, speed: float) -> Decimal:
        hours = Decimal(str((time.monotonic() - self._since) * speed / 3600))
        return (self.volume_m3 + self.flow_m3_h * hours).quantize(Decimal("0.01"))

    def answer(self, frame: Frame, speed: float) -> bytes | None:
        if self.silent or frame.control != READ or frame.data[:2] != CURRENT:
            return None
        self.reads += 1
        ser = frame.data[2] if len(frame.data) > 2 else 0
        return current_answer(self.address, self.volume(speed), battery_low=self.battery_low,
                              ser=ser)


class WaterMeterLineSimulator:
    """`with WaterMeterLineSimulator(meters) as line:` answers on `line.port` until exit."""

    def __init__(self, meters: list[WaterMeter], *, speed: float = 1.0) -> None:
        self.meters = {m.address: m for m in meters}
        if len(self.meters) != len(meters):
            raise ValueError("two meters share an address on one line")
        self.speed = speed
        self._master, self._slave = pty.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.garbled_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="cjt188-sim", daemon=True)

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
                meter = self.meters.get(got.address)
                reply = meter.answer(got, self.speed) if meter is not None else None
                if reply is not None:
                    with contextlib.suppress(OSError):
                        os.write(self._master, reply)


__all__ = ["WaterMeter", "WaterMeterLineSimulator"]
