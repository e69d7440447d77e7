"""A barrier gate on a Modbus relay module (TCP, or RTU on an RS-485 line, alone or with other
simulated units: `others`), as an edge lane drives it: coil 0 is the raise
relay, discrete input 0 the barrier's up limit switch. A pulse on the coil raises the barrier
for `hold_s` (the car passes, the loop lets it fall); `force()` raises it with no pulse (someone
lifted the arm, or the controller's own button), which the edge must report.

    async with BarrierSimulator() as gate:  # gate.tcp_port
        ...; gate.raised  # pulses seen; gate.up  # where the arm is
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, Self

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer

from simulators.modbus_line import _PtyBridge, _Store

if TYPE_CHECKING:
    from simulators.modbus_devices import ModbusDeviceSimulator

RAISE_COIL = 0
UP_INPUT = 0


class _Tables(ModbusServerContext):
    def __init__(self, gate: BarrierSimulator) -> None:
        # not calling super(): this replaces pymodbus's datastores, as simulators/modbus_line
        self.old_simulator = True
        self.simdevices = []
        self._gate = gate
        self._others = _Store(gate)  # the other units on the barrier's line

    def device_ids(self) -> list[int]:
        return [self._gate.unit_id, *self._others.device_ids()]

    def _check(self, device_id: int) -> None:
        if device_id != self._gate.unit_id:
            raise NoSuchIdException(f"no unit {device_id}")

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        self._gate.requests.append((device_id, func_code, address))
        held = self._gate.held.get(device_id)
        if held is not None:
            self._gate.holding = device_id
            await held.wait()
            self._gate.holding = None
        if device_id in self._gate.units:
            return await self._others.async_getValues(device_id, func_code, address, count)
        self._check(device_id)
        if address != 0 or count != 1 or func_code not in (1, 2):
            return ExcCodes.ILLEGAL_ADDRESS
        return [self._gate.coil] if func_code == 1 else [self._gate.up]

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Any) -> ExcCodes | None:
        self._gate.requests.append((device_id, func_code, address))
        if device_id in self._gate.units:
            return await self._others.async_setValues(device_id, func_code, address, values)
        self._check(device_id)
        values = list(values)
        if func_code not in (5, 15) or address != RAISE_COIL or len(values) != 1:
            return ExcCodes.ILLEGAL_ADDRESS
        self._gate.relay(bool(values[0]))
        return None


class BarrierSimulator:
    def __init__(self, *, unit_id: int = 1, hold_s: float = 2.0,
                 transport: Literal["tcp", "rtu"] = "tcp",
                 others: Iterable[ModbusDeviceSimulator] = ()) -> None:
        """`transport` rtu: the unit on an RS-485 line (a pty pair bridged like a serial
        cable, 9600 8N1); `.port` is the end the edge opens. `others`: simulated devices on
        the same line (or behind the same TCP port), at other unit ids."""
        self.unit_id = unit_id
        self.units = {sim.unit_id: sim for sim in others}
        self.requests: list[tuple[int, int, int]] = []  # (unit id, function, address) served
        # a unit whose reads wait for its event: the request stays on the wire meanwhile
        self.held: dict[int, asyncio.Event] = {}
        self.holding: int | None = None  # the unit whose read is held now
        if unit_id in self.units:
            raise ValueError(f"the barrier and {self.units[unit_id].name} share unit id "
                             f"{unit_id} on one line")
        self.transport = transport
        self.port: str | None = None
        self._bridge: _PtyBridge | None = None
        self.hold_s = hold_s
        self.coil = False
        self.up = False
        self.raised = 0  # rising edges of the relay: raises the edge commanded
        self.tcp_port = 0
        self._server: ModbusBaseServer | None = None
        self._fall: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Self:
        if self.transport == "rtu":
            self._bridge = _PtyBridge()
            self.port = self._bridge.edge_port
            self._server = ModbusSerialServer(
                _Tables(self), framer=FramerType.RTU, port=self._bridge.device_port,
                baudrate=9600, bytesize=8, parity="N", stopbits=1, ignore_missing_devices=True)
            await self._server.serve_forever(background=True)
            for sim in self.units.values():
                sim.port = self.port
            return self
        self._server = ModbusTcpServer(_Tables(self), address=("127.0.0.1", 0),
                                       ignore_missing_devices=True)
        await self._server.serve_forever(background=True)
        sockets = getattr(self._server.transport, "sockets", None)
        assert sockets, "the Modbus TCP server did not listen"
        self.tcp_port = int(sockets[0].getsockname()[1])
        for sim in self.units.values():
            sim.tcp_port = self.tcp_port
        return self

    async def __aexit__(self, *exc: object) -> None:
        for sim in self.units.values():
            await sim.stop()
        if self._fall is not None:
            self._fall.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.shutdown()
            self._server = None
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None

    def relay(self, on: bool) -> None:
        if on and not self.coil:
            self.raised += 1
            self._raise()
        self.coil = on

    def force(self) -> None:
        """The arm rises with no pulse from the edge."""
        self._raise()

    def _raise(self) -> None:
        self.up = True
        if self._fall is not None:
            self._fall.cancel()
        self._fall = asyncio.get_running_loop().call_later(self.hold_s, self._lower)

    def _lower(self) -> None:
        self.up = False
        self._fall = None


__all__ = ["RAISE_COIL", "UP_INPUT", "BarrierSimulator"]
