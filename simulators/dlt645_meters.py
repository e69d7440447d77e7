"""A riser of DL/T 645-2007 electricity meters on one serial line (a pty).

The bus is the one every serial meter riser shares (simulators.serial_meter_line: only the
addressed meter answers; `baudrate` gives a real line's timing). A read of an identifier the
meter does not keep gets the error answer D1 with 'no such data' (02). Energy grows with the
meter's load over time (`speed` makes an hour pass faster).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

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
from simulators.serial_meter_line import SerialMeterLine, by_address

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


class MeterLineSimulator(SerialMeterLine[Frame, SimulatedMeter]):
    """`with MeterLineSimulator(meters) as line:` answers on `line.port` until exit."""

    def __init__(self, meters: list[SimulatedMeter], *, baudrate: int | None = None,
                 turnaround_s: float = 0.0) -> None:
        super().__init__(by_address(meters, lambda m: m.address), reader=FrameReader,
                         answer=lambda meter, frame: meter.answer(frame), encode=encode,
                         name="dlt645-sim", baudrate=baudrate, turnaround_s=turnaround_s)
