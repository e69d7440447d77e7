"""Utility meters on the edge: each DL/T 645 line polls its meters; readings become telemetry.

A meter's complete poll is one telemetry event (energy in kWh, and the instantaneous values it
was told to read), queued in the outbox like every event; a meter going silent or answering
again is a device event (offline with the reason / online). Counters go with offline.

Besides the hourly poll, every meter is read once more just after local midnight: the day's
billing reading, marked `billing` (the hub closes a day and a month on it). A billing read
that fails is tried again every `retry_s` for up to `BILLING_WINDOW_S`; when the window
passes without an answer the meter raises the fault BILLING_READ_MISSED (cleared by its next
billing reading), so a missing reading is reported, never silently absent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

from edge.drivers.cjt188 import COLD_WATER, HOT_WATER
from edge.drivers.dlt645 import (
    CJT188_ITEMS,
    ITEMS,
    Dlt645Line,
    LineConfig,
    MeterConfig,
    MeterError,
    MeterEvent,
    MeterReading,
)
from edge.tasks import stop
from wire.config import SerialLine
from wire.devices import DeviceData, DeviceType, Reading, TelemetryData
from wire.meters import MeterConfig as WireMeter

log = logging.getLogger(__name__)

MODEL = "dlt645-2007"  # the protocol family: DL/T 645 meters need no register map
WATER_MODEL = "cjt188-2004"  # CJ/T 188 water meters (cold or hot) on a cjt188 line: their volume
BILLING_WINDOW_S = 2 * 3600.0  # a billing reading later than this no longer closes the day
MISSED = "BILLING_READ_MISSED"
Emit = Callable[[str, DeviceData | TelemetryData], None]  # (device id, event data)
LineKey = tuple[str, int, str]  # port, baudrate, parity


def meter_event(event: MeterEvent, counters: dict[str, int] | None = None,
                billing: bool = False, protocol: str = "dlt645") -> DeviceData | TelemetryData:
    """The wire form of a line's report."""
    kind, model = _KINDS[protocol]
    if isinstance(event, MeterReading):
        readings = [Reading(name=name, value=float(value),
                            unit=ITEMS[name].unit if name in ITEMS else CJT188_ITEMS[name])
                    # float carries two or four decimals exactly enough: the hub keeps decimals
                    for name, value in event.values.items()]
        if billing:
            readings.append(Reading(name="billing", value=True))
        return TelemetryData(device_type=kind, model=model, readings=readings)
    return DeviceData(device_type=kind, model=model,
                      event="online" if event.online else "offline",
                      detail=event.reason, counters=counters)


_KINDS: dict[str, tuple[DeviceType, str]] = {"dlt645": ("electricity_meter", MODEL),
                                             "cjt188": ("water_meter", WATER_MODEL)}


def driver_lines(lines: Sequence[SerialLine], meters: Sequence[WireMeter]
                 ) -> dict[LineKey, tuple[LineConfig, tuple[MeterConfig, ...]]]:
    """The configuration's meters grouped by the line they hang on, as the driver takes them."""
    by_id = {line.id: line for line in lines}
    out: dict[LineKey, tuple[LineConfig, tuple[MeterConfig, ...]]] = {}
    for meter in meters:
        line = by_id[meter.line]
        water = line.protocol == "cjt188"  # CJ/T 188: 2400 8E1 too, one read gives the volume
        cfg = LineConfig(port=line.port, baudrate=line.baudrate or 2400,
                         parity=line.parity or "E", protocol=line.protocol,
                         wake=3 if water else 4)
        key = (cfg.port, cfg.baudrate, cfg.parity)
        held = out.get(key, (cfg, ()))
        out[key] = (cfg, (*held[1], MeterConfig(
            name=meter.id, address=meter.address,
            items=tuple(CJT188_ITEMS) if water else tuple(meter.items),
            meter_type=HOT_WATER if meter.kind == "hot_water" else COLD_WATER,
            interval_s=meter.interval_s, retry_s=meter.retry_s)))
    return out


class MeterSupervisor:
    """`async with MeterSupervisor(lines, emit)`: every line polls its meters until exit;
    `reconcile(lines, meters)` runs what a configuration names; at each local midnight every
    billing meter is read once more (`billing_read`)."""

    def __init__(self, lines: Sequence[tuple[LineConfig, Sequence[MeterConfig]]],
                 emit: Emit, *, timezone_of_site: Callable[[], ZoneInfo] = lambda: ZoneInfo("UTC"),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 billing_window_s: float = BILLING_WINDOW_S) -> None:
        self._emit = emit
        self.billing_window_s = billing_window_s
        self._zone = timezone_of_site
        self._clock = clock
        self._initial = {(cfg.port, cfg.baudrate, cfg.parity): (cfg, tuple(meters))
                         for cfg, meters in lines}
        self._lines: dict[LineKey, tuple[Dlt645Line, tuple[MeterConfig, ...]]] = {}
        self.billing: set[str] = {m.name for _, ms in lines for m in ms}
        self.missed: set[str] = set()  # meters whose last billing read failed (fault open)
        self._tasks: set[asyncio.Task[object]] = set()

    @property
    def lines(self) -> list[Dlt645Line]:
        return [line for line, _ in self._lines.values()]

    @staticmethod
    def _protocol(line: Dlt645Line | None) -> str:
        return line.config.protocol if line is not None else "dlt645"

    def _line_of(self, meter: str) -> Dlt645Line | None:
        return next((line for line in self.lines if meter in line.meters), None)

    def _on_event(self, event: MeterEvent) -> None:
        counters = None
        if not isinstance(event, MeterReading):
            line = self._line_of(event.meter)
            if line is not None:
                c = line.meters[event.meter].counters
                counters = {"polls": c.polls, "ok": c.ok, "timeouts": c.timeouts,
                            "garbled": c.garbled, "errors": c.errors}
        line = self._line_of(event.meter)
        self._emit(event.meter, meter_event(event, counters, protocol=self._protocol(line)))

    async def __aenter__(self) -> Self:
        try:
            await self._run(self._initial)
        except BaseException:
            await self._close(list(self._lines))
            raise
        self._spawn(self._midnights())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await stop(*self._tasks)
        await self._close(list(self._lines))

    async def reconcile(self, lines: Sequence[SerialLine], meters: Sequence[WireMeter]
                        ) -> list[str]:
        """Run exactly `meters`: a line whose meters are unchanged keeps polling; one with a
        meter added, changed or removed is opened again with its new meters. Returns the ids
        of the meters (re)started."""
        self.billing = {m.id for m in meters if m.billing}
        return await self._run(driver_lines(lines, meters))

    async def _run(self, wanted: dict[LineKey, tuple[LineConfig, tuple[MeterConfig, ...]]]
                   ) -> list[str]:
        stale = [key for key, (_, held) in self._lines.items()
                 if wanted.get(key, (None, ()))[1] != held]
        await self._close(stale)
        started: list[str] = []
        for key, (cfg, meters) in wanted.items():
            if key in self._lines:
                continue
            line = Dlt645Line(cfg, meters, self._on_event)
            await line.__aenter__()
            self._lines[key] = (line, meters)
            started += [m.name for m in meters]
        return started

    async def _close(self, keys: list[LineKey]) -> None:
        for key in keys:
            line, _ = self._lines.pop(key)
            await line.__aexit__(None, None, None)

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the daily billing reading -----------------------------------------------------
    def next_midnight(self) -> datetime:
        """The next 00:00 of the site's calendar, in UTC."""
        local = self._clock().astimezone(self._zone())
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.astimezone(UTC)

    async def _midnights(self) -> None:
        while True:
            wait = (self.next_midnight() - self._clock()).total_seconds()
            if wait > 60.0:  # look again each minute: the clock may be set, the zone arrive
                await asyncio.sleep(60.0)
                continue
            await asyncio.sleep(max(wait, 0.0) + 1.0)  # just past 00:00
            await self.billing_read()

    async def billing_read(self) -> None:
        """Read every billing meter now, each line in parallel; a failed read is tried again
        every `retry_s` until `billing_window_s` has passed, then reported as a fault."""
        await asyncio.gather(*(self._bill_line(line) for line in self.lines))

    async def _bill_line(self, line: Dlt645Line) -> None:
        pending = [name for name in line.meters if name in self.billing]
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.billing_window_s
        retry_s = min((line.meters[n].config.retry_s for n in pending), default=60.0)
        while pending:
            failed: list[str] = []
            for name in pending:
                try:
                    values = await line.read(name)
                except MeterError as exc:
                    log.warning("billing reading of %s failed: %s", name, exc)
                    failed.append(name)
                    continue
                self._emit(name, meter_event(MeterReading(name, values, 0.0), billing=True,
                                             protocol=line.config.protocol))
                if name in self.missed:
                    self.missed.discard(name)
                    kind, model = _KINDS[line.config.protocol]
                    self._emit(name, DeviceData(device_type=kind, model=model,
                                                event="fault_cleared", code=MISSED))
            pending = failed
            if pending and loop.time() + retry_s > give_up:
                for name in pending:
                    self.missed.add(name)
                    kind, model = _KINDS[line.config.protocol]
                    self._emit(name, DeviceData(
                        device_type=kind, model=model, event="fault_raised",
                        code=MISSED, severity="minor", skill="electrical",
                        text="The daily billing reading could not be taken",
                        text_zh="未能抄读每日结算读数",
                        detail=f"no answer in {self.billing_window_s:.0f} s after 00:00"))
                return
            if pending:
                await asyncio.sleep(retry_s)
