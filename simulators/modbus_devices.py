"""Modbus devices (pymodbus) for every model in `firmware-configs/`, with fault injection.

A device serves on a line of its own (`async with ModbusDeviceSimulator(...)`), or with others
on one shared line (`simulators.modbus_line.ModbusLineSimulator`). RTU runs on a pty pair
bridged to a second pty (like a serial line): `.port` is the path the edge opens. TCP listens on
127.0.0.1. A device can go silent (no replies) or garble its next reply (bad CRC on RTU), to
exercise the edge's error counting; it answers only its own unit id and refuses writes to
registers its model does not mark writable (see modbus_line).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Literal, Self

from edge.sensors.codec import encode, raw_value
from edge.sensors.models import WORDS, DeviceModel, FaultCode, Register, SerialSettings
from simulators.modbus_line import FC_TABLE, ModbusLineSimulator, Table

_STEP_S = 0.05  # time the simulated car takes per floor


class ModbusDeviceSimulator:
    """One simulated device of `model`; `async with` serves it until exit."""

    def __init__(self, model: DeviceModel, *, name: str, transport: Literal["rtu", "tcp"] = "rtu",
                 unit_id: int | None = None, serial: SerialSettings | None = None) -> None:
        """`serial` overrides the model's line settings: Linux ptys refuse parity (EINVAL),
        so a model specified 8E1 is simulated 8N1 on a pty, as an installer would reconfigure it."""
        if transport not in model.transport.kinds:
            raise ValueError(f"{model.model} offers no {transport} transport")
        self.model = model
        self.name = name
        self.transport = transport
        self.unit_id = unit_id or model.transport.unit_id
        self.serial = serial or model.transport.serial
        self.silent = False
        self._garble = 0
        self.writes: list[tuple[Table, int, list[int | bool]]] = []
        self.refused = 0  # writes refused: a register the model marks read-only
        self.port: str | None = None  # the edge's end of the RTU line
        self.tcp_port: int | None = None
        self.tables: dict[Table, list[Any]] = {t: [] for t in FC_TABLE.values()}
        self._writable: dict[Table, set[int]] = {"coil": set(), "holding": set()}
        for reg in model.registers:
            end = reg.address + reg.count * WORDS[reg.type]
            table = self.tables[reg.table]
            table.extend([False if reg.type == "bool" else 0] * max(0, end - len(table)))
            if reg.writable:
                self._writable[reg.table].update(range(reg.address, end))
        self._line: ModbusLineSimulator | None = None  # a line of its own, when not on a shared one
        self._motion: asyncio.Task[None] | None = None
        self._defaults()

    def _defaults(self) -> None:
        if self.model.device_type == "elevator":
            self.set("floor", 1)
        if self.model.device_type == "alarm_panel":
            self.set("battery_v", 13.2)  # a charged 12 V standby battery
        if self.model.security_zones is not None:  # every loop closed, as the model reads it
            sz = self.model.security_zones
            for name in self.model.register(sz.point).names():
                self.set_raw(name, sz.normal_states[0])
        for reg in self.model.registers:  # pressures sit between their low and high limits
            limits = [f for f in self.model.faults if f.point == reg.name]
            low = max((f.below for f in limits if f.below is not None), default=None)
            high = min((f.above for f in limits if f.above is not None), default=None)
            if low is not None and high is not None:
                self.set(reg.name, round((low + high) / 2, 3))

    # --- serving -------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        """Serve on a line of its own (a device on a shared line is served by that line)."""
        self._line = ModbusLineSimulator([self], transport=self.transport, serial=self.serial)
        await self._line.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        if self._line is not None:
            await self._line.__aexit__(None, None, None)

    async def stop(self) -> None:
        """Stop the car's motion (a line serving this device calls this when it closes)."""
        if self._motion is not None:
            self._motion.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._motion

    def take_garble(self) -> bool:
        """Whether the reply being sent is to be garbled (counts down the garbled replies)."""
        if self._garble <= 0:
            return False
        self._garble -= 1
        return True

    def may_write(self, table: Table, addresses: Iterable[int]) -> bool:
        """Whether every address lies in a register the model marks writable."""
        writable = self._writable.get(table, set())
        return all(a in writable for a in addresses)

    # --- values --------------------------------------------------------------------
    def _locate(self, name: str) -> tuple[Register, int]:
        reg = self.model.register(name)
        index = 0 if name == reg.name else reg.names().index(name)
        return reg, reg.address + index * WORDS[reg.type]

    def set(self, name: str, value: float | bool) -> None:
        """Set a register (or one block element, e.g. zone_3) to an engineering value."""
        reg, address = self._locate(name)
        words = encode(reg, value)
        self.tables[reg.table][address:address + len(words)] = words

    def raw(self, name: str) -> int | bool:
        reg, address = self._locate(name)
        return raw_value(reg, self.tables[reg.table][address:address + WORDS[reg.type]])

    def set_raw(self, name: str, raw: int) -> None:
        reg, address = self._locate(name)
        n = WORDS[reg.type]
        raw &= (1 << (16 * n)) - 1
        self.tables[reg.table][address:address + n] = [(raw >> (16 * i)) & 0xFFFF for i in reversed(range(n))]

    def written(self, table: Table, address: int, values: list[int | bool]) -> None:
        """A write arrived from the edge: record it and let the device react."""
        self.writes.append((table, address, values))
        model = self.model
        if model.recall is not None:
            reg, at = self._locate(model.recall.point)
            if reg.table == table and address <= at < address + len(values):
                if int(values[at - address]) == model.recall.value:
                    self._recall()
                elif _has(model, "service_mode"):
                    self.set("service_mode", 0)
        if model.fire_zones is not None and _has(model, "reset") and self.raw("reset"):
            self.reset_panel()

    # --- controls (the control API and `lintel sim` call these) ---------------------
    def move_elevator(self, floor: int) -> None:
        if self.model.device_type != "elevator":
            raise ValueError(f"{self.name} is not an elevator")
        if self._motion is not None:
            self._motion.cancel()
        self._motion = asyncio.get_running_loop().create_task(self._move(floor))

    async def _move(self, floor: int) -> None:
        current = int(self._value("floor"))
        if floor == current:
            return
        self.set("door_state", 0)
        self.set("direction", 1 if floor > current else 2)
        self.set("running", True)
        step = 1 if floor > current else -1
        while current != floor:
            await asyncio.sleep(_STEP_S)
            current += step
            self.set("floor", current)
        self.set("running", False)
        self.set("direction", 0)
        self.set("trip_count", int(self._value("trip_count")) + 1)
        self.set("door_state", 2)

    def _value(self, name: str) -> float:
        reg, _ = self._locate(name)
        raw = self.raw(name)
        return float(raw) * reg.scale + reg.offset

    def _recall(self) -> None:
        if _has(self.model, "service_mode"):
            self.set("service_mode", 2)
        lowest = self.model.floor_access.lowest_floor if self.model.floor_access else 1
        self.move_elevator(max(lowest, 1))  # recall to the main (ground) landing

    def fault(self, code: str, active: bool = True) -> None:
        fault = _fault(self.model, code)
        raw = self.raw(fault.point)
        if fault.equals is not None:
            self.set_raw(fault.point, fault.equals if active else 0)
        elif fault.bit is not None:
            self.set_raw(fault.point, int(raw) | (1 << fault.bit) if active else int(raw) & ~(1 << fault.bit))
        elif active:
            reg = self.model.register(fault.point)
            margin = max(abs(reg.scale) * 10, 1e-3)
            if fault.below is not None:
                self.set(fault.point, fault.below - margin)
            elif fault.above is not None:
                self.set(fault.point, fault.above + margin)
        else:
            self._defaults()

    def set_pressure(self, value: float) -> None:
        if self.model.device_type != "pressure_sensor":
            raise ValueError(f"{self.name} is not a pressure sensor")
        self.set("pressure", value)

    def zone(self, zone: int, state: str) -> None:
        """A fire panel's zone (fire, normal, fault …) or an alarm panel's (active: a contact
        open or a detector triggered, normal, tamper, fault)."""
        if self.model.security_zones is not None:
            self._set_zone(self.model.security_zones.point, zone, state)
            return
        fz = self.model.fire_zones
        if fz is None:
            raise ValueError(f"{self.name} is not a fire or alarm panel")
        self._set_zone(fz.point, zone, state)
        self._panel_alarm()

    def _set_zone(self, block: str, zone: int, state: str) -> None:
        reg = self.model.register(block)
        if not 1 <= zone <= reg.count:
            raise ValueError(f"zone must be 1..{reg.count}")
        codes = {v: k for k, v in (reg.states or {}).items()}
        if state not in codes:
            raise ValueError(f"state must be one of {sorted(codes)}")
        self.set(f"{block}_{zone}", codes[state])

    def reset_panel(self) -> None:
        fz = self.model.fire_zones
        if fz is None:
            raise ValueError(f"{self.name} is not a fire panel")
        for name in self.model.register(fz.point).names():
            if self.raw(name) in fz.alarm_states:
                self.set_raw(name, 0)
        if _has(self.model, "reset"):
            self.set("reset", False)
        self._panel_alarm()

    def _panel_alarm(self) -> None:
        fz = self.model.fire_zones
        assert fz is not None
        if _has(self.model, "in_alarm"):
            alarm = any(self.raw(n) in fz.alarm_states for n in self.model.register(fz.point).names())
            self.set("in_alarm", alarm)

    def garble(self, replies: int = 1) -> None:
        self._garble += replies

    def state(self) -> dict[str, Any]:
        values = {}
        for reg in self.model.registers:
            for name in reg.names():
                values[name] = self._value(name) if reg.type != "bool" else bool(self.raw(name))
        return {"device": self.name, "model": self.model.model, "transport": self.transport,
                "port": self.port, "tcp_port": self.tcp_port, "unit_id": self.unit_id,
                "silent": self.silent, "values": values,
                "writes": [{"table": t, "address": a, "values": v} for t, a, v in self.writes[-10:]]}


def _has(model: DeviceModel, name: str) -> bool:
    try:
        model.register(name)
    except KeyError:
        return False
    return True


def _fault(model: DeviceModel, code: str) -> FaultCode:
    for fault in model.faults:
        if fault.code == code:
            return fault
    raise ValueError(f"{model.model} has no fault code {code!r}")
