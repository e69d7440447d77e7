"""The device supervisor: every Modbus device's link, readings, faults, health and life safety.

It owns the edge's Modbus lines (one bus owner per port or TCP endpoint); a unit another part
drives (a lane's barrier) `join`s the line of its endpoint as a guest, so it shares the bus
with the polled devices instead of opening the port a second time.

Life safety is decided here, at the edge, the moment a fire zone goes into alarm: the
fail-safe egress doors are released (through the agent's `fire_doors` callback, which drives
the door state machines) and every elevator gets its recall command; the events reporting it
are queued after the actions. A panel reset (no zone in alarm) restores the normal state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from edge.drivers.modbus import (
    LinkConfig,
    LinkEvent,
    LinkStatus,
    ModbusError,
    ModbusLine,
    ModbusLink,
    PollResult,
)
from edge.sensors.device import DeviceReader, FaultTracker, Values, Write
from edge.sensors.loader import load_models
from edge.sensors.models import DeviceModel
from edge.tasks import stop
from wire.config import DeviceConfig
from wire.devices import DeviceData, DeviceEventType, TelemetryData
from wire.permissions import AccessGroupRule

log = logging.getLogger(__name__)

Emit = Callable[[str, DeviceData | TelemetryData], None]  # (device id, event data)
FireDoors = Callable[[bool], list[str]]  # release (True) or restore (False); returns door ids
# an alarm panel's zone states by zone number ("normal", "active" …), or None: not answering
ZoneStates = Callable[[str, dict[int, str] | None], None]
ZONE_TAMPER = "ZONE_TAMPER"
# a car's floors disabled again after a failed write: first retry, and the backoff's cap
FLOORS_RETRY_MIN_S, FLOORS_RETRY_MAX_S = 0.2, 5.0
T = TypeVar("T")


@dataclass
class Device:
    config: DeviceConfig
    model: DeviceModel
    reader: DeviceReader
    faults: FaultTracker
    link: ModbusLink | None = None
    values: Values | None = None
    zones_in_alarm: list[int] = field(default_factory=list)
    floors_reset: asyncio.Task[None] | None = None  # disables the car's floors again
    hub_recalled: bool = False  # the hub commanded a recall (not undone yet)
    last_telemetry: tuple[float, list[float | int | bool | str]] | None = None
    tampered: tuple[int, ...] = ()  # an alarm panel's zones reporting tamper (a cut loop)


class DeviceSupervisor:
    """`async with DeviceSupervisor(devices, emit, fire_doors)`: polls every device until exit."""

    def __init__(self, configs: Iterable[DeviceConfig], emit: Emit,
                 fire_doors: FireDoors = lambda active: [],
                 zone_states: ZoneStates = lambda device, states: None) -> None:
        self._models = load_models()
        self._zone_states = zone_states
        self._emit = emit
        self._fire_doors = fire_doors
        self._configs = list(configs)
        self.devices: dict[str, Device] = {}
        # one bus owner per port: endpoint -> its line and the configs it runs
        self._lines: dict[tuple[str, ...], tuple[ModbusLine, tuple[DeviceConfig, ...]]] = {}
        self._guests: dict[str, ModbusLink] = {}  # other parts' units by name, on those lines
        self.fire_active = False
        self._tasks: set[asyncio.Task[object]] = set()

    async def __aenter__(self) -> Self:
        try:
            await self.reconcile(self._configs)
            self._spawn(self._report_counters())
        except BaseException:
            await self._close_lines(list(self._lines))
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await stop(*self._tasks)
        for device in self.devices.values():
            if device.floors_reset is not None:
                device.floors_reset.cancel()
        await self._close_lines(list(self._lines))

    async def reconcile(self, configs: Iterable[DeviceConfig]) -> list[str]:
        """Run exactly `configs` (resolved: rtu devices carry their port): a line whose units
        are unchanged keeps polling untouched; a line with a unit added, changed or removed is
        closed and opened again with its new units; a line no longer used is closed. Returns
        the ids of the devices (re)started."""
        wanted: dict[tuple[str, ...], list[DeviceConfig]] = {}
        for cfg in configs:
            wanted.setdefault(_endpoint(cfg, self._models[cfg.model]), []).append(cfg)
        stale = [ep for ep, (_, held) in self._lines.items()
                 if tuple(wanted.get(ep, ())) != held]
        await self._close_lines(stale)
        started: list[str] = []
        for endpoint, cfgs in wanted.items():
            if endpoint in self._lines:
                continue  # unchanged: keeps polling
            devices = []
            for cfg in cfgs:
                model = self._models[cfg.model]
                reader = DeviceReader(model)
                devices.append(Device(cfg, model, reader, FaultTracker(reader)))
            units = [_link_config(d) for d in devices]
            guests = self._guests_at(endpoint, units)
            mine = {d.config.id: d for d in devices}
            line = ModbusLine(units, functools.partial(self._on_link_event, mine), guests=guests)
            for device in devices:
                device.link = line.links[device.config.id]
                self.devices[device.config.id] = device
            await line.__aenter__()
            self._lines[endpoint] = (line, tuple(cfgs))
            started += [cfg.id for cfg in cfgs]
        for endpoint in {g.config.endpoint for g in self._guests.values()
                         if g.line.closed} - set(self._lines):
            # guests whose line carried devices no longer there: a line of their own
            await self._open_guest_line(endpoint, self._guests_at(endpoint, []))
        return started

    def _guests_at(self, endpoint: tuple[str, ...], configs: list[LinkConfig]) -> list[ModbusLink]:
        """The guests to move onto a new line at `endpoint`; one that clashes with the
        devices (which the installation's checks refuse) is left off it, and told so by its
        writes failing."""
        taken: set[int | str] = {*(c.unit_id for c in configs), *(c.name for c in configs)}
        guests = []
        for guest in self._guests.values():
            if guest.config.endpoint != endpoint:
                continue
            if guest.config.unit_id in taken or guest.config.name in taken:
                log.error("%s: unit id %s taken on %s: not driven", guest.config.name,
                          guest.config.unit_id, " ".join(endpoint[1:]))
                continue
            taken |= {guest.config.unit_id, guest.config.name}
            guests.append(guest)
        return guests

    async def _open_guest_line(self, endpoint: tuple[str, ...],
                               guests: list[ModbusLink]) -> None:
        if guests:
            line = ModbusLine([], functools.partial(self._on_link_event, {}), guests=guests)
            await line.__aenter__()
            self._lines[endpoint] = (line, ())

    async def join(self, config: LinkConfig,
                   on_event: Callable[[LinkEvent], None]) -> ModbusLink:
        """A unit another part drives (a lane's barrier), polled and written on the line of
        its endpoint alongside the devices there (a line of its own when none is). Raises
        ModbusError when it cannot share that line (unit id or serial settings)."""
        await self.leave(config.name)
        held = self._lines.get(config.endpoint)
        if held is None:
            line = ModbusLine([config], on_event)
            link = line.links[config.name]
            self._guests[config.name] = link
            await line.__aenter__()
            self._lines[config.endpoint] = (line, ())
            return link
        line = held[0]
        link = ModbusLink(config, line, on_event)
        try:
            line.adopt(link)
        except ValueError as exc:
            raise ModbusError(config.name, str(exc)) from exc
        self._guests[config.name] = link
        return link

    async def leave(self, name: str) -> None:
        """Stop driving guest `name`; a line left with no unit is closed."""
        link = self._guests.pop(name, None)
        if link is None:
            return
        line = link.line
        line.release(name)
        endpoint = link.config.endpoint
        held = self._lines.get(endpoint)
        if held is not None and held[0] is line and not line.links:
            del self._lines[endpoint]
            await line.__aexit__(None, None, None)

    async def _close_lines(self, endpoints: list[tuple[str, ...]]) -> None:
        for endpoint in endpoints:
            line, cfgs = self._lines.pop(endpoint)
            for cfg in cfgs:
                device = self.devices.pop(cfg.id, None)
                if device is not None and device.floors_reset is not None:
                    device.floors_reset.cancel()
            # shielded: a reconcile cancelled here must not leave the old line polling on
            await asyncio.shield(line.__aexit__(None, None, None))

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- readings --------------------------------------------------------------------
    def _on_link_event(self, mine: dict[str, Device], event: LinkEvent) -> None:
        """An event of one line, read by the device definitions that line was opened with.

        Looked up by id alone, a poll the old line finishes while a new configuration takes
        over (pymodbus can swallow the cancel as a reply lands) reached the new definition of
        the same id: its values keyed by the old register map, read against the new one
        (`KeyError: ('discrete_input', 0)`), or telemetry mixed from two configurations."""
        device = mine.get(event.device)
        if device is None or self.devices.get(event.device) is not device:
            return  # changed or removed meanwhile: its line is closing, the poll is stale
        try:
            if isinstance(event, LinkStatus):
                self._health(device, event)
            elif isinstance(event, PollResult):
                self._readings(device, event.values)
        except Exception:  # a bad reading must not stop the device's poll loop
            log.exception("device %s: handling %r failed", device.config.id, type(event).__name__)

    @property
    def models(self) -> dict[str, DeviceModel]:
        """The device models this edge's firmware knows, by name."""
        return self._models

    def _health(self, device: Device, status: LinkStatus) -> None:
        assert device.link is not None
        if not status.online and device.model.security_zones is not None:
            self._zone_states(device.config.id, None)
        self._emit(device.config.id, self._data(
            device, "online" if status.online else "offline",
            counters=device.link.counters.as_dict(), detail=status.reason or None,
        ))

    def _readings(self, device: Device, values: Values) -> None:
        device.values = values
        if device.model.fire_zones is not None:
            zones = device.reader.zones_in_alarm(values)
            if zones != device.zones_in_alarm:
                device.zones_in_alarm = zones
                self._fire_changed(device)
        if device.model.security_zones is not None:
            states = device.reader.security_zone_states(values)
            self._zone_states(device.config.id, states)
            self._zone_tamper(device, states)
        for event in device.faults.update(values):
            self._emit(device.config.id, event)
        telemetry = device.reader.telemetry(values)
        if telemetry is None:
            return
        now = time.monotonic()
        last = device.last_telemetry
        readings = [r.value for r in telemetry.readings]
        # Report on change, and at least every telemetry_every_s while nothing changes.
        if last is None or last[1] != readings or now - last[0] >= device.config.telemetry_every_s:
            device.last_telemetry = (now, readings)
            self._emit(device.config.id, telemetry)

    # --- life safety -----------------------------------------------------------------
    def _fire_changed(self, panel: Device) -> None:
        active = any(d.zones_in_alarm for d in self.devices.values())
        if active == self.fire_active:
            return
        self.fire_active = active
        # Act first: the doors now, in this call; the recall writes go out at once after.
        doors = self._fire_doors(active)
        elevators = [d for d in self.devices.values() if d.model.recall is not None]
        zones = ", ".join(str(z) for z in panel.zones_in_alarm) or "none"
        self._spawn(self._recall(elevators, active, panel, doors, zones))

    async def _recall(self, elevators: list[Device], active: bool, panel: Device,
                      doors: list[str], zones: str) -> None:
        results = await asyncio.gather(
            *(self._write(e, e.reader.recall_write(active)) for e in elevators)
        )
        done = [e.config.id for e, ok in zip(elevators, results, strict=True) if ok]
        failed = [e.config.id for e, ok in zip(elevators, results, strict=True) if not ok]
        if active:
            detail = (f"fire alarm in zone(s) {zones} of {panel.config.id}: released egress doors "
                      f"[{', '.join(doors)}]; recalled elevators [{', '.join(done)}]")
        else:
            detail = (f"fire alarm reset at {panel.config.id}: doors [{', '.join(doors)}] back to "
                      f"normal; elevators [{', '.join(done)}] returned to service")
        if failed:
            detail += f"; recall write FAILED for [{', '.join(failed)}]"
        self._emit(panel.config.id, self._data(
            panel, "life_safety" if active else "life_safety_reset", detail=detail))

    async def _write(self, device: Device, write: Write) -> bool:
        assert device.link is not None
        table, address, values = write
        try:
            await device.link.write(table, address, values)
        except ModbusError as exc:
            log.error("device %s: write failed: %s", device.config.id, exc)
            return False
        return True

    async def write(self, device_id: str, write: Write) -> bool:
        """One write to a running device through its own link (False: gone, or it failed)."""
        device = self.devices.get(device_id)
        if device is None or device.link is None:
            return False
        return await self._write(device, write)

    def hub_recall(self, active: bool, reason: str) -> list[str]:
        """The hub's `elevator_recall` (or `release`): a fire recall is never undone by the hub."""
        if not active and self.fire_active:
            return []
        elevators = [d for d in self.devices.values() if d.model.recall is not None]
        for elevator in elevators:
            self._spawn(self._hub_recall(elevator, active, reason))
        return [e.config.id for e in elevators]

    async def _hub_recall(self, elevator: Device, active: bool, reason: str) -> None:
        elevator.hub_recalled = active
        ok = await self._write(elevator, elevator.reader.recall_write(active))
        what = "recall" if active else "return to service"
        detail = f"{what} commanded by the hub ({reason or 'no reason given'}): "
        detail += "written" if ok else "write FAILED"
        self._emit(elevator.config.id, self._data(
            elevator, "life_safety" if active else "life_safety_reset", detail=detail))

    # --- elevator floor access -------------------------------------------------------
    def request_floors(self, elevator: str, floors: Iterable[int], seconds: float) -> None:
        """`enable_floors` in the background (for callers that must not wait, like the reader)."""
        self._spawn(self.enable_floors(elevator, list(floors), seconds))

    def floors_refused(self, elevator: str) -> str | None:
        """Why `elevator` enables no floor now, or None: a lift in fire recall (the edge's own,
        the hub's, or as the controller reports it) or out of service takes no card calls."""
        device = self.devices[elevator]
        if self.fire_active:
            return "fire recall (fire alarm at this edge)"
        if device.hub_recalled:
            return "recall commanded by the hub"
        if device.link is None or not device.link.online:
            return "controller offline"
        return device.reader.floors_inhibited(device.values)

    async def enable_floors(self, elevator: str, floors: Iterable[int], seconds: float) -> bool:
        """Enable only `floors` in the car for `seconds`, then disable them all again; refused
        (and reported, False) while the lift is recalled or out of service."""
        device = self.devices.get(elevator)
        if device is None:
            return False  # removed by a new configuration meanwhile
        floors = sorted(set(floors))
        refused = self.floors_refused(elevator)
        if refused is not None:
            log.warning("device %s: floors %s not enabled: %s", elevator, floors, refused)
            self._emit(elevator, self._data(
                device, "floors_refused", detail=f"floors {floors} not enabled: {refused}",
                text=f"Floors not enabled: {refused}", text_zh=f"未开放楼层：{_zh(refused)}"))
            return False
        if device.floors_reset is not None:
            device.floors_reset.cancel()
        ok = await self._write(device, device.reader.floor_write(floors))
        if device.floors_reset is not None:  # another card's, begun while this one wrote
            device.floors_reset.cancel()
        device.floors_reset = self._spawn(self._disable_floors(device, seconds))
        return ok

    async def _disable_floors(self, device: Device, after_s: float) -> None:
        """After `after_s`, disable every floor of the car again. A write that fails (no reply
        on a busy or noisy line) is tried again on a backoff until it lands: a car left open
        to a resident's floors lets anyone ride there. The next card's enable cancels this."""
        await asyncio.sleep(after_s)
        delay = FLOORS_RETRY_MIN_S
        while not await self._write(device, device.reader.floor_write([])):
            await asyncio.sleep(delay)
            delay = min(delay * 2, FLOORS_RETRY_MAX_S)

    # --- health ----------------------------------------------------------------------
    async def _report_counters(self) -> None:
        while True:  # the period follows the devices running now
            await asyncio.sleep(min((d.config.counters_every_s for d in self.devices.values()),
                                    default=60.0))
            for device in self.devices.values():
                assert device.link is not None
                self._emit(device.config.id, self._data(
                    device, "counters", counters=device.link.counters.as_dict()))

    def _zone_tamper(self, device: Device, states: dict[int, str]) -> None:
        """A zone whose loop is cut or shorted (or whose detector is opened) is the panel's
        fault ZONE_TAMPER naming the zones, cleared when every zone reads again; the alarm is
        the hub's rule, the repair a technician's work order."""
        tampered = tuple(sorted(z for z, s in states.items() if s == "tamper"))
        if tampered == device.tampered:
            return
        device.tampered = tampered
        if not tampered:
            self._emit(device.config.id, self._data(device, "fault_cleared", code=ZONE_TAMPER))
            return
        sz = device.model.security_zones
        names = {z.zone: (z.name_en, z.name_zh) for z in sz.zones} if sz is not None else {}
        self._emit(device.config.id, self._data(
            device, "fault_raised", code=ZONE_TAMPER, severity="major", skill="security",
            text="Alarm zone tampered (loop cut or shorted): " + ", ".join(
                f"{z} ({names.get(z, (str(z),))[0]})" for z in tampered),
            text_zh="报警防区被破坏（回路断开或短路）：" + "、".join(
                f"{names.get(z, ('', str(z)))[1]}（{z}）" for z in tampered),
            detail=f"zones {', '.join(map(str, tampered))}"))

    @staticmethod
    def _data(device: Device, event: DeviceEventType, **kwargs: Any) -> DeviceData:
        return DeviceData(device_type=device.model.device_type, model=device.model.model,
                          event=event, **kwargs)


def _endpoint(cfg: DeviceConfig, model: DeviceModel) -> tuple[str, ...]:
    """The line a device hangs on: its serial port, or the TCP host and port."""
    if cfg.transport == "rtu":
        return ("rtu", str(cfg.port))
    return ("tcp", cfg.host or "127.0.0.1", str(cfg.tcp_port or model.transport.tcp_port))


_ZH = {"fire recall (fire alarm at this edge)": "消防迫降（本楼火警）",
       "recall commanded by the hub": "平台下令迫降", "controller offline": "电梯控制器离线",
       "state unknown (not polled yet)": "状态未知（尚未读到）"}


def _zh(reason: str) -> str:
    """The refusal in Chinese; a controller state is shown as the register reads."""
    return _ZH.get(reason, f"电梯状态 {reason}")


def _link_config(device: Device) -> LinkConfig:
    cfg, model = device.config, device.model
    serial = model.transport.serial
    return LinkConfig(
        name=cfg.id, transport=cfg.transport, unit_id=cfg.unit_id or model.transport.unit_id,
        blocks=device.reader.blocks, port=cfg.port, host=cfg.host or "127.0.0.1",
        tcp_port=cfg.tcp_port or model.transport.tcp_port,
        baudrate=cfg.serial.baudrate or serial.baudrate, bytesize=serial.bytesize,
        parity=cfg.serial.parity or serial.parity, stopbits=cfg.serial.stopbits or serial.stopbits,
        interval_s=cfg.poll_interval_s, timeout_s=cfg.timeout_s or model.transport.timeout_s,
        offline_after=cfg.offline_after, backoff_min_s=cfg.backoff_min_s,
        backoff_max_s=cfg.backoff_max_s,
    )


def floors_for(card_groups: Iterable[int], own_floors: Iterable[int],
               door_groups: Iterable[int], groups: Mapping[int, AccessGroupRule]) -> set[int]:
    """The floors a credential reaches from a car reader: those of its groups that include the
    reader, and the holder's own floors (a resident's unit) when one of them does."""
    here = [g for g in card_groups if g in set(door_groups)]
    if not here:
        return set()
    floors = set(own_floors)
    for g in here:
        rule = groups.get(g)
        if rule is not None:
            floors.update(rule.floors)
    return floors


