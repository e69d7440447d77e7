"""One Modbus device, polled by its own task on its own pymodbus async client.

A slow or silent device only delays itself: every device has a link, a client and a task.
Errors are counted, never raised out of the poll loop; the link reports online/offline and
each complete poll to the `on_event` callback (which must not block).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypedDict

from pymodbus import FramerType, ModbusException
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException
from pymodbus.pdu import ModbusPDU

from edge.drivers.modbus.errors import ModbusError
from edge.drivers.modbus.models import (
    Counters,
    LinkConfig,
    LinkStatus,
    PollResult,
    ReadBlock,
    Table,
    Timing,
)

log = logging.getLogger(__name__)
# pymodbus logs every missing reply at ERROR; the link counts and reports them instead.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

LinkEvent = PollResult | LinkStatus



class _ClientOptions(TypedDict):
    """What both pymodbus clients take alike."""

    timeout: float
    retries: int
    reconnect_delay: float
    trace_packet: Callable[[bool, bytes], bytes]
    trace_connect: Callable[[bool], None]
    name: str

class ModbusLink:
    """`async with ModbusLink(config, on_event) as link:` polls until exit."""

    def __init__(self, config: LinkConfig, on_event: Callable[[LinkEvent], None]) -> None:
        if config.transport == "rtu" and not config.port:
            raise ValueError(f"{config.name}: an rtu link needs a serial port")
        self.config = config
        self.counters = Counters()
        self.timing = Timing()
        self.online = False
        self._on_event = on_event
        self._rx = 0  # reply bytes seen during the current request
        self._failures = 0
        self._connected_once = False  # the first connection is not a reconnect
        self._client = self._make_client()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def _make_client(self) -> AsyncModbusSerialClient | AsyncModbusTcpClient:
        cfg = self.config
        common: _ClientOptions = {
            "timeout": cfg.timeout_s, "retries": 0, "reconnect_delay": 0,
            "trace_packet": self._trace, "trace_connect": self._traced_connect, "name": cfg.name}
        if cfg.transport == "rtu":
            assert cfg.port is not None
            return AsyncModbusSerialClient(
                cfg.port, framer=FramerType.RTU, baudrate=cfg.baudrate, bytesize=cfg.bytesize,
                parity=cfg.parity, stopbits=cfg.stopbits, **common,
            )
        return AsyncModbusTcpClient(cfg.host, port=cfg.tcp_port, **common)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._rx += len(data)
        return data

    def _traced_connect(self, connected: bool) -> None:
        # pymodbus also reconnects by itself inside a request: count every connection here.
        if connected:
            if self._connected_once:
                self.counters.reconnects += 1
            self._connected_once = True

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"modbus-{self.config.name}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._closing = True
        task = self._task
        # Python 3.11's wait_for (inside pymodbus) can swallow a cancel that lands as a reply
        # arrives; the flag ends the loop anyway and the cancel is repeated until it is done.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.2)
        if task is not None and not task.cancelled():
            with contextlib.suppress(asyncio.CancelledError):
                task.result()
        self._client.close()

    # --- polling -------------------------------------------------------------------
    async def _run(self) -> None:
        cfg = self.config
        backoff = cfg.backoff_min_s
        # A random phase spreads many devices over the interval instead of polling in bursts.
        await asyncio.sleep(random.uniform(0, cfg.interval_s))
        while not self._closing:
            if not self._client.connected:
                if not await self._connect():
                    self._failed("cannot connect")
                    # Capped exponential backoff with jitter: a dead line is not hammered.
                    await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                    backoff = min(backoff * 2, cfg.backoff_max_s)
                    continue
                backoff = cfg.backoff_min_s
            due = time.monotonic()
            while self._client.connected and not self._closing:
                await self._poll(lateness=max(0.0, time.monotonic() - due))
                due += cfg.interval_s
                now = time.monotonic()
                if due < now:  # a slow poll: skip the missed slots rather than bunch up
                    due = now + cfg.interval_s - (now - due) % cfg.interval_s
                await asyncio.sleep(due - now)

    async def _connect(self) -> bool:
        try:
            return bool(await self._client.connect())
        except (OSError, ModbusException) as exc:
            log.debug("%s: connect failed: %s", self.config.name, exc)
            return False

    async def _poll(self, lateness: float) -> None:
        self.counters.polls += 1
        started = time.monotonic()
        values: dict[tuple[Table, int], int | bool] = {}
        try:
            for block in self.config.blocks:
                for offset, value in enumerate(await self._read(block)):
                    values[(block.table, block.address + offset)] = value
        except ModbusError as exc:
            self._failed(str(exc))
            return
        latency = time.monotonic() - started
        self.counters.ok += 1
        self.timing.add(latency, lateness)
        self._failures = 0
        if not self.online:
            self.online = True
            self._on_event(LinkStatus(device=self.config.name, online=True))
        self._on_event(PollResult(device=self.config.name, values=values,
                                  latency_s=latency, lateness_s=lateness))

    def _failed(self, reason: str) -> None:
        self._failures += 1
        if self.online and self._failures >= self.config.offline_after:
            self.online = False
            self._on_event(LinkStatus(device=self.config.name, online=False, reason=reason))

    async def _read(self, block: ReadBlock) -> Sequence[int | bool]:
        c, unit = self._client, self.config.unit_id
        read = {
            "holding": c.read_holding_registers,
            "input": c.read_input_registers,
            "coil": c.read_coils,
            "discrete_input": c.read_discrete_inputs,
        }[block.table]
        reply = await self._call(read, block.address, count=block.count, device_id=unit)
        if block.table in ("coil", "discrete_input"):
            return list(reply.bits[: block.count])
        return list(reply.registers)

    async def _call(self, request: Callable[..., Awaitable[ModbusPDU]], *args: Any,
                    **kwargs: Any) -> ModbusPDU:
        """Run one request; convert every failure once, here, into a counted ModbusError."""
        self._rx = 0
        try:
            reply = await request(*args, **kwargs)
        except ConnectionException as exc:
            raise ModbusError(self.config.name, f"link down: {exc}") from exc
        except (TimeoutError, ModbusException) as exc:
            if self._rx:
                self.counters.crc_errors += 1
                raise ModbusError(self.config.name, "garbled reply (bad CRC or framing)") from exc
            self.counters.timeouts += 1
            raise ModbusError(self.config.name, "no reply (timeout)") from exc
        if reply.isError():
            self.counters.exceptions += 1
            code = reply.exception_code
            raise ModbusError(self.config.name, f"exception reply, code {code}")
        return reply

    # --- writes --------------------------------------------------------------------
    async def write(self, table: Table, address: int, values: Sequence[int | bool]) -> None:
        """Write coils or holding registers now (queued behind at most the current request)."""
        c, unit = self._client, self.config.unit_id
        try:
            if not c.connected and not await self._connect():
                raise ModbusError(self.config.name, "link down")
            if table == "coil":
                await self._call(c.write_coils, address, [bool(v) for v in values], device_id=unit)
            elif table == "holding":
                await self._call(c.write_registers, address, [int(v) for v in values],
                                 device_id=unit)
            else:
                raise ModbusError(self.config.name, f"a {table} cannot be written")
        except ModbusError:
            self.counters.write_errors += 1
            raise
