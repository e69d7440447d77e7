"""Utility meters on the edge: each DL/T 645 line polls its meters; readings become telemetry.

A meter's complete poll is one telemetry event (energy in kWh, and the instantaneous values it
was told to read), queued in the outbox like every event; a meter going silent or answering
again is a device event (offline with the reason / online). Counters go with offline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from edge.drivers.dlt645 import (
    ITEMS,
    Dlt645Line,
    LineConfig,
    MeterConfig,
    MeterEvent,
    MeterReading,
)
from wire.devices import DeviceData, Reading, TelemetryData

MODEL = "dlt645-2007"  # the protocol family: DL/T 645 meters need no register map
Emit = Callable[[str, DeviceData | TelemetryData], None]  # (device id, event data)


def meter_event(event: MeterEvent, counters: dict[str, int] | None = None
                ) -> DeviceData | TelemetryData:
    """The wire form of a line's report."""
    if isinstance(event, MeterReading):
        return TelemetryData(
            device_type="electricity_meter", model=MODEL,
            # float carries two or four decimals exactly enough: the hub keeps them as decimals
            readings=[Reading(name=name, value=float(value), unit=ITEMS[name].unit)
                      for name, value in event.values.items()])
    return DeviceData(device_type="electricity_meter", model=MODEL,
                      event="online" if event.online else "offline",
                      detail=event.reason, counters=counters)


class MeterSupervisor:
    """`async with MeterSupervisor(lines, emit)`: every line polls its meters until exit."""

    def __init__(self, lines: Sequence[tuple[LineConfig, Sequence[MeterConfig]]],
                 emit: Emit) -> None:
        self._emit = emit
        self.lines = [Dlt645Line(line, meters, self._on_event) for line, meters in lines]
        self._stack = contextlib.AsyncExitStack()

    def _on_event(self, event: MeterEvent) -> None:
        counters = None
        if not isinstance(event, MeterReading):
            for line in self.lines:
                state = line.meters.get(event.meter)
                if state is not None:
                    c = state.counters
                    counters = {"polls": c.polls, "ok": c.ok, "timeouts": c.timeouts,
                                "garbled": c.garbled, "errors": c.errors}
        self._emit(event.meter, meter_event(event, counters))

    async def __aenter__(self) -> Self:
        async with contextlib.AsyncExitStack() as stack:
            for line in self.lines:
                await stack.enter_async_context(line)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()
