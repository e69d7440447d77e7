"""One Modbus line (an RS-485 pty pair, or a TCP port) serving one or more simulated units.

Behaves as devices on a real bus do: a unit answers only requests to its own unit id (any other
id, and a silent unit, get no reply at all: the master times out); a broadcast (unit 0) is acted
on by every unit and answered by none; a write to a register the model does not mark writable is
refused with exception 02 ILLEGAL DATA ADDRESS, and the table is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import threading
import time
import tty
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer

from edge.sensors.models import SerialSettings

if TYPE_CHECKING:
    from simulators.modbus_devices import ModbusDeviceSimulator

Table = Literal["coil", "discrete_input", "holding", "input"]
FC_TABLE: dict[int, Table] = {1: "coil", 5: "coil", 15: "coil", 2: "discrete_input",
                              3: "holding", 6: "holding", 16: "holding", 23: "holding",
                              4: "input"}


class _Units(Protocol):
    units: dict[int, ModbusDeviceSimulator]


class _Store(ModbusServerContext):
    """The line's units' tables, served to pymodbus through the context interface."""

    def __init__(self, line: _Units) -> None:
        # Deliberately not calling super(): this replaces pymodbus's deprecated datastores.
        self.old_simulator = True
        self.simdevices = []
        self._line = line

    def device_ids(self) -> list[int]:
        """The units a broadcast reaches: every unit that is not silent."""
        return [u for u, sim in self._line.units.items() if not sim.silent]

    def _unit(self, device_id: int) -> ModbusDeviceSimulator:
        sim = self._line.units.get(device_id)
        if sim is None or sim.silent:
            # with ignore_missing_devices the server then sends nothing, as a real bus does
            raise NoSuchIdException(f"no unit {device_id} on this line")
        return sim

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        table = self._unit(device_id).tables.get(FC_TABLE.get(func_code, "input"))
        if table is None or address + count > len(table):
            return ExcCodes.ILLEGAL_ADDRESS
        return table[address:address + count]

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Any) -> ExcCodes | None:
        sim = self._unit(device_id)
        name = FC_TABLE.get(func_code)
        if name not in ("coil", "holding"):
            return ExcCodes.ILLEGAL_FUNCTION
        values = list(values)
        table = sim.tables[name]
        if address + len(values) > len(table):
            return ExcCodes.ILLEGAL_ADDRESS
        if not sim.may_write(name, range(address, address + len(values))):
            sim.refused += 1
            return ExcCodes.ILLEGAL_ADDRESS
        table[address:address + len(values)] = values
        sim.written(name, address, values)
        return None


def _raw_pty() -> tuple[int, int, str]:
    master, slave = pty.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class _PtyBridge:
    """Copies bytes between two pty masters, as a serial cable between edge and devices.

    A pty moves bytes at memory speed; with `char_s` (seconds per character on the wire, e.g.
    11 bits / 9600 baud) each chunk is held for its time on a real line, one direction at a
    time as on half-duplex RS-485."""

    def __init__(self, char_s: float = 0.0) -> None:
        self._char_s = char_s
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
                    if self._char_s:
                        time.sleep(len(data) * self._char_s)
                    os.write(self._b if fd == self._a else self._a, data)
                except OSError:
                    continue  # nobody holds the other end open yet

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        for fd in (self._a, self._a_slave, self._b, self._b_slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class ModbusLineSimulator:
    """`async with ModbusLineSimulator(units, transport="rtu") as line:` serves every unit on
    one line until exit; `line.port` (RTU) or `line.tcp_port` (TCP) is where the master goes.

    `serial` sets the line's settings: Linux ptys refuse parity (EINVAL), so a model specified
    8E1 is simulated 8N1 on a pty, as an installer would reconfigure it."""

    def __init__(self, units: Iterable[ModbusDeviceSimulator], *,
                 transport: Literal["rtu", "tcp"] = "rtu",
                 serial: SerialSettings | None = None, wire_time: bool = False) -> None:
        """`wire_time`: hold each RTU chunk for its time at the line's baud rate (benchmarks)."""
        self.units: dict[int, ModbusDeviceSimulator] = {}
        for sim in units:
            if sim.unit_id in self.units:
                raise ValueError(f"{self.units[sim.unit_id].name} and {sim.name} share unit id "
                                 f"{sim.unit_id} on one line")
            if transport not in sim.model.transport.kinds:
                raise ValueError(f"{sim.model.model} offers no {transport} transport")
            self.units[sim.unit_id] = sim
        if not self.units:
            raise ValueError("a line needs at least one unit")
        self.transport = transport
        self.serial = serial or next(iter(self.units.values())).serial
        bits = 1 + self.serial.bytesize + (self.serial.parity != "N") + self.serial.stopbits
        self._char_s = bits / self.serial.baudrate if wire_time else 0.0
        self.port: str | None = None
        self.tcp_port: int | None = None
        self._bridge: _PtyBridge | None = None
        self._server: ModbusBaseServer | None = None

    async def __aenter__(self) -> Self:
        store = _Store(self)
        options: dict[str, Any] = {"trace_packet": self._trace, "ignore_missing_devices": True,
                                   "broadcast_enable": True}
        if self.transport == "rtu":
            self._bridge = _PtyBridge(self._char_s)
            self.port = self._bridge.edge_port
            s = self.serial
            self._server = ModbusSerialServer(
                store, framer=FramerType.RTU, port=self._bridge.device_port, baudrate=s.baudrate,
                bytesize=s.bytesize, parity=s.parity, stopbits=s.stopbits, **options,
            )
        else:
            self._server = ModbusTcpServer(store, address=("127.0.0.1", 0), **options)
        try:
            await self._server.serve_forever(background=True)
        except RuntimeError:
            await self.__aexit__(None, None, None)
            raise
        sockets = getattr(self._server.transport, "sockets", None)
        if sockets:
            self.tcp_port = int(sockets[0].getsockname()[1])
        for sim in self.units.values():
            sim.port, sim.tcp_port = self.port, self.tcp_port
        return self

    async def __aexit__(self, *exc: object) -> None:
        for sim in self.units.values():
            await sim.stop()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.shutdown()
            self._server = None
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """Garble a reply of a unit told to (its unit id is byte 0 on RTU, 6 on TCP)."""
        at = 0 if self.transport == "rtu" else 6
        if not sending or len(data) <= at:
            return data
        sim = self.units.get(data[at])
        if sim is None or not sim.take_garble():
            return data
        if self.transport == "tcp":
            return data[:2] + b"\xde\xad" + data[4:]  # a wrong MBAP protocol id
        return data[:-1] + bytes([data[-1] ^ 0x5A])  # a wrong CRC


__all__ = ["FC_TABLE", "ModbusLineSimulator"]
