"""A riser of CJ/T 188-2004 water meters, cold and domestic hot, on one serial line (a pty).

The bus is the one every serial meter riser shares (simulators.serial_meter_line). A meter
answers only a read of the current data (DI 90 1F) addressed to its own 14-digit number and
its own type (cold water 10, hot water 11; AA, the standard's any-type, too); a silent meter
does not answer. A meter's volume is set by the test (`meters[address].volume_m3`) or grows
with its flow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

from edge.drivers.cjt188 import COLD_WATER, Frame, FrameReader, current_answer, encode
from edge.drivers.cjt188.frame import CURRENT, READ
from simulators.serial_meter_line import SerialMeterLine, by_address

ANY_TYPE = 0xAA  # a read for a meter of any type (CJ/T 188's wildcard type)


@dataclass
class WaterMeter:
    address: str  # 14 digits
    meter_type: int = COLD_WATER  # or HOT_WATER (0x11)
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
        if (self.silent or frame.control != READ or frame.data[:2] != CURRENT
                or frame.meter_type not in (self.meter_type, ANY_TYPE)):
            return None
        self.reads += 1
        ser = frame.data[2] if len(frame.data) > 2 else 0
        return current_answer(self.address, self.volume(speed), battery_low=self.battery_low,
                              ser=ser, meter_type=self.meter_type)


class WaterMeterLineSimulator(SerialMeterLine[Frame, WaterMeter]):
    """`with WaterMeterLineSimulator(meters) as line:` answers on `line.port` until exit."""

    def __init__(self, meters: list[WaterMeter], *, speed: float = 1.0,
                 baudrate: int | None = None) -> None:
        self.speed = speed
        super().__init__(by_address(meters, lambda m: m.address), reader=FrameReader,
                         answer=lambda meter, frame: meter.answer(frame, self.speed),
                         encode=encode, name="cjt188-sim", baudrate=baudrate)


__all__ = ["WaterMeter", "WaterMeterLineSimulator"]
