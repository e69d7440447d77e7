"""A lane's barrier on a Modbus relay output (an I/O module or a gate controller, over TCP or
on an RS-485 line): pulse the coil to raise it; watch the up input, when wired, so a rise
nobody decided is reported forced.

On the edge the barrier's unit joins the Modbus line of its endpoint (`SharedLines`: the device
supervisor), so it shares an RS-485 bus with meters, lifts and fire panels; its raise goes out
before their polls. Without shared lines (a test, a lane alone) it drives a line of its own.

The camera's own relay needs nothing here: the push's answer works it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, Self

from edge.drivers.modbus import (
    LinkConfig,
    LinkEvent,
    ModbusError,
    ModbusLine,
    ModbusLink,
    PollResult,
)
from edge.drivers.modbus import ReadBlock as Block
from edge.tasks import stop
from wire.vehicles import LaneData, ModbusBarrier

log = logging.getLogger(__name__)

Report = Callable[[LaneData], None]
POLL_S = 0.2  # how often the up input is read: a forced barrier is seen within this
IDLE_S = 5.0  # no up input wired: the line only keeps its connection


class SharedLines(Protocol):
    """The edge's Modbus lines, one bus owner per port (edge.devices.DeviceSupervisor)."""

    async def join(self, config: LinkConfig,
                   on_event: Callable[[LinkEvent], None]) -> ModbusLink: ...

    async def leave(self, name: str) -> None: ...


class BarrierOutput:
    """`async with BarrierOutput(lane, config, report, clock=)`; `await open()` raises it.

    `report` gets `forced` (the up input rose with no open within `forced_after_s`) and
    `barrier_failed` (the unit did not take the pulse); `clock` is monotonic seconds;
    `lines`: the edge's shared Modbus lines, which the barrier's unit joins."""

    def __init__(self, lane: str, config: ModbusBarrier, report: Report, *,
                 clock: Callable[[], float] = time.monotonic,
                 lines: SharedLines | None = None) -> None:
        self.lane = lane
        self.config = config
        self._report = report
        self._clock = clock
        blocks = () if config.up_input is None else (
            Block(table="discrete_input", address=config.up_input, count=1),)
        if config.transport == "rtu":  # the line's port and settings (ConfigContent.resolved)
            where: dict[str, Any] = {
                "transport": "rtu", "port": config.port, "baudrate": config.baudrate or 9600,
                "parity": config.parity or "N", "stopbits": config.stopbits or 1}
        else:
            where = {"transport": "tcp", "host": config.host, "tcp_port": config.tcp_port}
        self._unit = LinkConfig(
            name=f"barrier-{lane}", unit_id=config.unit_id, blocks=blocks,
            interval_s=POLL_S if blocks else IDLE_S, timeout_s=0.5, **where)
        self._lines = lines
        self._line: ModbusLine | None = None  # its own, without shared lines
        self._link: ModbusLink | None = None
        self._opened_at: float | None = None  # when this edge last raised it
        self.up: bool | None = None  # the up input as last read (None: not wired or unknown)
        self.forced = 0
        self._pulses: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        """Raises ModbusError when the unit cannot join its line (its unit id taken there)."""
        if self._lines is not None:
            self._link = await self._lines.join(self._unit, self._on_poll)
            return self
        self._line = ModbusLine([self._unit], self._on_poll)
        self._link = self._line.links[self._unit.name]
        await self._line.__aenter__()
        return self

    @property
    def link(self) -> ModbusLink:
        """The barrier unit's link: its counters, health and the line it is on."""
        assert self._link is not None, "not entered"
        return self._link

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await stop(*self._pulses)
        if self._lines is not None:
            await self._lines.leave(self._unit.name)
        elif self._line is not None:
            await self._line.__aexit__(exc_type, exc, tb)

    async def open(self) -> bool:
        """Pulse the coil (on now, off after `pulse_s`, in the background); False when the
        unit refused or did not answer (reported as `barrier_failed`)."""
        self._opened_at = self._clock()
        try:
            await self.link.write("coil", self.config.coil, [True])
        except ModbusError as exc:
            log.warning("lane %s: barrier not raised: %s", self.lane, exc)
            self._report(LaneData(lane=self.lane, event="barrier_failed", detail=str(exc)[:500]))
            return False
        task = asyncio.create_task(self._release(), name=f"barrier-{self.lane}-pulse")
        self._pulses.add(task)
        task.add_done_callback(self._pulses.discard)
        return True

    async def _release(self) -> None:
        await asyncio.sleep(self.config.pulse_s)
        try:
            await self.link.write("coil", self.config.coil, [False])
        except ModbusError as exc:
            log.warning("lane %s: barrier relay not released: %s", self.lane, exc)
            self._report(LaneData(lane=self.lane, event="barrier_failed",
                                  detail=f"relay not released: {exc}"[:500]))

    def _on_poll(self, event: LinkEvent) -> None:
        if not isinstance(event, PollResult) or self.config.up_input is None:
            return
        up = bool(event.values.get(("discrete_input", self.config.up_input)))
        rose = up and self.up is False  # the first reading only learns the state
        self.up = up
        if not rose:
            return
        opened = self._opened_at
        if opened is not None and self._clock() - opened <= self.config.forced_after_s:
            return
        self.forced += 1
        self._report(LaneData(lane=self.lane, event="forced",
                              detail="the barrier rose with no open decided at the edge"))


__all__ = ["BarrierOutput"]
