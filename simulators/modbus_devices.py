"""Modbus servers (pymodbus) for every model in `firmware-configs/`, with fault injection.

RTU runs on a pty pair bridged to a second pty (like a serial line): `.port` is the path the
edge opens. TCP listens on 127.0.0.1. A device can go silent (no replies) or garble its next
reply (bad CRC on RTU), to exercise the edge's error counting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import select
import threading
import tty
from typing import Any, Literal, Self

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer

from edge.sensors.codec import encode, raw_value
from edge.sensors.models import WORDS, DeviceModel, FaultCode, Register, SerialSettings

Table = Literal["coil", "discrete_input", "holding", "input"]
_FC_TABLE: dict[int, Table] = {1: "coil", 5: "coil", 15: "coil", 2: "discrete_input",
                               3: "holding", 6: "holding", 16: "holding", 23: "holding",
                               4: "input"}
_STEP_S = 0.05  # time the simulated car takes per floor


class _Store(ModbusServerContext):
    """The device's four tables, served to pymodbus through the context interface."""

    def __init__(self, sim: ModbusDeviceSimulator, unit_id: int) -> None:
        # Deliberately not calling super(): this replaces pymodbus's deprecated datastores.
        self.old_simulator = True
        self.simdevices = []
        self._sim = sim
        self._unit = unit_id

    def device_ids(self) -> list[int]:
        return [self._unit]

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        table = self._sim.tables.get(_FC_TABLE.get(func_code, "input"))
        if table is None or address + count > len(table):
            return ExcCodes.ILLEGAL_ADDRESS
        return table[address:address + count]

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Any) -> ExcCodes | None:
        name = _FC_TABLE.get(func_code)
        if name not in ("coil", "holding"):
            return ExcCodes.ILLEGAL_FUNCTION
        table = self._sim.tables[name]
        if address + len(values) > len(table):
            return ExcCodes.ILLEGAL_ADDRESS
        table[address:address + len(values)] = list(values)
        self._sim.written(name, address, list(values))
        return None


def _raw_pty() -> tuple[int, int, str]:
    master, slave = pty.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class _PtyBridge:
    """Copies bytes between two pty masters, as a serial cable between edge and device."""

    def __init__(self) -> None:
        self._a, self._a_slave, self.edge_port = _raw_pty()
        self._b, self._b_slave, self.device_port = _raw_pty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._copy, name="modbus-pty", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._a, self._b], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                    os.write(self._b if fd == self._a else self._a, data)
                except OSError:
                    continue  # nobody holds the other end open yet

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        for fd in (self._a, self._a_slave, self._b, self._b_slave):
            with contextlib.suppress(OSError):
                os.close(fd)


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
        self.port: str | None = None  # the edge's end of the RTU line
        self.tcp_port: int | None = None
        self.tables: dict[Table, list[Any]] = {t: [] for t in _FC_TABLE.values()}
        for reg in model.registers:
            end = reg.address + reg.count * WORDS[reg.type]
            table = self.tables[reg.table]
            table.extend([False if reg.type == "bool" else 0] * max(0, end - len(table)))
        self._bridge: _PtyBridge | None = None
        self._server: ModbusBaseServer | None = None
        self._motion: asyncio.Task[None] | None = None
        self._defaults()

    def _defaults(self) -> None:
        if self.model.device_type == "elevator":
            self.set("floor", 1)
        for reg in self.model.registers:  # pressures sit between their low and high limits
            limits = [f for f in self.model.faults if f.point == reg.name]
            low = max((f.below for f in limits if f.below is not None), default=None)
            high = min((f.above for f in limits if f.above is not None), default=None)
            if low is not None and high is not None:
                self.set(reg.name, round((low + high) / 2, 3))

    # --- serving -------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        store = _Store(self, self.unit_id)
        if self.transport == "rtu":
            self._bridge = _PtyBridge()
            self.port = self._bridge.edge_port
            s = self.serial
            self._server = ModbusSerialServer(
                store, framer=FramerType.RTU, port=self._bridge.device_port, baudrate=s.baudrate,
                bytesize=s.bytesize, parity=s.parity, stopbits=s.stopbits, trace_packet=self._trace,
            )
        else:
            self._server = ModbusTcpServer(store, address=("127.0.0.1", 0), trace_packet=self._trace)
        try:
            await self._server.serve_forever(background=True)
        except RuntimeError:
            await self.__aexit__(None, None, None)
            raise
        sockets = getattr(self._server.transport, "sockets", None)
        if sockets:
            self.tcp_port = int(sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in (self._motion,):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.shutdown()
        if self._bridge is not None:
            self._bridge.close()

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        if self.silent:
            return b""
        if self._garble:
            self._garble -= 1
            if self.transport == "tcp":
                return data[:2] + b"\xde\xad" + data[4:]  # a wrong MBAP protocol id
            return data[:-1] + bytes([data[-1] ^ 0x5A])  # a wrong CRC
        return data

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
        fz = self.model.fire_zones
        if fz is None:
            raise ValueError(f"{self.name} is not a fire panel")
        reg = self.model.register(fz.point)
        if not 1 <= zone <= reg.count:
            raise ValueError(f"zone must be 1..{reg.count}")
        codes = {v: k for k, v in (reg.states or {}).items()}
        if state not in codes:
            raise ValueError(f"state must be one of {sorted(codes)}")
        self.set(f"{fz.point}_{zone}", codes[state])
        self._panel_alarm()

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
