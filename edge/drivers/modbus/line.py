"""One Modbus line: one bus owner per port (an RS-485 line, or a TCP device or gateway).

RS-485 is half duplex and a Modbus master may have one request on the wire at a time, so every
unit of a line is polled by the line's one task over its one pymodbus client. Each unit keeps
its own schedule, timeout and health (`ModbusLink`): the due poll that is earliest goes next
(units with equal intervals take turns), a silent unit costs the line its own timeout once in
its own slot (and, offline, is tried less and less often), and the first unanswered request of
a poll ends that unit's poll. A write goes before every poll request still to be sent (a
barrier waiting to rise, a lift's floors): it waits at most for the request on the wire.
Parts of the edge other than the one that built the line may `adopt` a unit of their own on it
(a lane's barrier on the bus of the meters and lifts), and `release` it again.
Errors are counted, never raised out of the poll loop; each link reports online/offline and
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
from edge.drivers.modbus.link import LinkEvent, ModbusLink
from edge.drivers.modbus.models import LinkConfig, ReadBlock, Table

log = logging.getLogger(__name__)
# pymodbus logs every missing reply at ERROR; the links count and report them instead.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class _ClientOptions(TypedDict):
    """What both pymodbus clients take alike."""

    timeout: float
    retries: int
    reconnect_delay: float
    trace_packet: Callable[[bool, bytes], bytes]
    trace_connect: Callable[[bool], None]
    name: str


def check_line(configs: Sequence[LinkConfig]) -> None:
    """Units that may share one line: one endpoint, one set of serial settings, distinct unit
    ids and names. Raises ValueError naming the units at fault."""
    if not configs:
        raise ValueError("a line needs at least one unit")
    first = configs[0]
    names: set[str] = set()
    units: dict[int, str] = {}
    for cfg in configs:
        if cfg.endpoint != first.endpoint:
            raise ValueError(f"{cfg.name} is not on the line of {first.name}")
        if cfg.transport == "rtu" and cfg.line_settings != first.line_settings:
            raise ValueError(f"{cfg.name}: serial settings {cfg.line_settings} differ from "
                             f"{first.name}'s {first.line_settings} on one line")
        if cfg.name in names:
            raise ValueError(f"unit name {cfg.name} repeated on one line")
        if cfg.unit_id in units:
            raise ValueError(f"{units[cfg.unit_id]} and {cfg.name} share unit id {cfg.unit_id} "
                             "on one line")
        names.add(cfg.name)
        units[cfg.unit_id] = cfg.name
    if first.transport == "rtu" and not first.port:
        raise ValueError(f"{first.name}: an rtu line needs a serial port")


class ModbusLine:
    """`async with ModbusLine(configs, on_event) as line:` polls every unit until exit;
    `line.links[name]` is one unit's counters, timing, health and `write`."""

    def __init__(self, configs: Sequence[LinkConfig],
                 on_event: Callable[[LinkEvent], None], *,
                 guests: Sequence[ModbusLink] = ()) -> None:
        """`guests`: units of other parts, already made, that move onto this line."""
        check_line([*configs, *(g.config for g in guests)])
        # the endpoint and serial settings the units share
        self.config = configs[0] if configs else guests[0].config
        self.links = {cfg.name: ModbusLink(cfg, self, on_event) for cfg in configs}
        for guest in guests:
            guest.line = self
            self.links[guest.config.name] = guest
        self._writes = 0  # writes waiting or on the wire: polls hold back for them
        self._no_writes = asyncio.Event()
        self._no_writes.set()
        self._rx = 0  # reply bytes seen during the current request
        self._connected_once = False  # the first connection is not a reconnect
        self._lock = asyncio.Lock()  # one request on the wire
        self._client = self._make_client()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def _make_client(self) -> AsyncModbusSerialClient | AsyncModbusTcpClient:
        cfg = self.config
        common: _ClientOptions = {
            "timeout": cfg.timeout_s, "retries": 0, "reconnect_delay": 0,
            "trace_packet": self._trace, "trace_connect": self._traced_connect,
            "name": "+".join(self.links)}
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
        # pymodbus also reconnects by itself inside a request: count every connection here,
        # against every unit of the line (each lost it).
        if connected:
            if self._connected_once:
                for link in self.links.values():
                    link.counters.reconnects += 1
            self._connected_once = True

    @property
    def closed(self) -> bool:
        return self._closing

    def adopt(self, link: ModbusLink) -> None:
        """Poll (and write) `link`, a unit another part made, on this line from now on.
        Raises ValueError when it cannot share the line (another endpoint or serial
        settings, a unit id or name already here)."""
        check_line([*(u.config for u in self.links.values()), link.config])
        link.line = self
        link.due = time.monotonic() + random.uniform(0, link.config.interval_s)
        self.links[link.config.name] = link

    def release(self, name: str) -> ModbusLink | None:
        """Stop polling unit `name` (its link is the caller's again)."""
        return self.links.pop(name, None)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"modbus-{self.config.endpoint[1]}")
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
        start = time.monotonic()
        for link in self.links.values():
            # A random phase spreads the units over their interval instead of polling in bursts.
            link.due = start + random.uniform(0, link.config.interval_s)
        backoff = self.config.backoff_min_s
        while not self._closing:
            links = list(self.links.values())  # units are adopted and released as it runs
            if not links:
                await asyncio.sleep(0.1)
                continue
            if not self._client.connected:
                if not await self._connect():
                    for link in links:
                        link.counters.polls += 1
                        link.failed("cannot connect")
                    # Capped exponential backoff with jitter: a dead line is not hammered.
                    await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                    backoff = min(backoff * 2, self.config.backoff_max_s)
                    continue
                backoff = self.config.backoff_min_s
            # earliest due first: a polled unit's next slot is an interval on, so units take turns
            link = min(links, key=lambda u: u.due)
            now = time.monotonic()
            if link.due > now:
                await asyncio.sleep(link.due - now)
                continue  # the line may have dropped meanwhile
            await self._poll(link, lateness=now - link.due)
            link.next_due(time.monotonic())

    async def _connect(self) -> bool:
        try:
            return bool(await self._client.connect())
        except (OSError, ModbusException) as exc:
            log.debug("%s: connect failed: %s", self.config.endpoint, exc)
            return False

    async def _poll(self, link: ModbusLink, lateness: float) -> None:
        link.counters.polls += 1
        started = time.monotonic()
        values: dict[tuple[Table, int], int | bool] = {}
        try:
            for block in link.config.blocks:
                await self._no_writes.wait()  # a waiting write goes first
                for offset, value in enumerate(await self._read(link, block)):
                    values[(block.table, block.address + offset)] = value
        except ModbusError as exc:
            link.failed(str(exc))
            return
        link.polled(values, time.monotonic() - started, lateness)

    async def _read(self, link: ModbusLink, block: ReadBlock) -> Sequence[int | bool]:
        c = self._client
        read = {
            "holding": c.read_holding_registers,
            "input": c.read_input_registers,
            "coil": c.read_coils,
            "discrete_input": c.read_discrete_inputs,
        }[block.table]
        reply = await self._call(link, read, block.address, count=block.count)
        if block.table in ("coil", "discrete_input"):
            return list(reply.bits[: block.count])
        return list(reply.registers)

    async def _call(self, link: ModbusLink, request: Callable[..., Awaitable[ModbusPDU]],
                    *args: Any, **kwargs: Any) -> ModbusPDU:
        """Run one request to `link`'s unit with its own timeout; convert every failure once,
        here, into a counted ModbusError."""
        name = link.config.name
        async with self._lock:
            self._rx = 0
            # pymodbus reads the reply timeout from its transaction manager's parameters at
            # each request: set it to this unit's own, so a slow unit does not slow the rest.
            self._client.ctx.comm_params.timeout_connect = link.config.timeout_s
            try:
                reply = await request(*args, device_id=link.config.unit_id, **kwargs)
            except ConnectionException as exc:
                raise ModbusError(name, f"link down: {exc}") from exc
            except (TimeoutError, ModbusException) as exc:
                if self._rx:
                    link.counters.crc_errors += 1
                    raise ModbusError(name, "garbled reply (bad CRC or framing)") from exc
                link.counters.timeouts += 1
                raise ModbusError(name, "no reply (timeout)") from exc
        if reply.isError():
            link.counters.exceptions += 1
            raise ModbusError(name, f"exception reply, code {reply.exception_code}")
        return reply

    # --- writes --------------------------------------------------------------------
    async def write(self, link: ModbusLink, table: Table, address: int,
                    values: Sequence[int | bool]) -> None:
        """Send one write before any poll request not yet on the wire."""
        if self._closing:
            raise ModbusError(link.config.name, "line closed")
        self._writes += 1
        self._no_writes.clear()
        try:
            c = self._client
            if not c.connected and not await self._connect():
                raise ModbusError(link.config.name, "link down")
            if table == "coil":
                await self._call(link, c.write_coils, address, [bool(v) for v in values])
            else:
                await self._call(link, c.write_registers, address, [int(v) for v in values])
        finally:
            self._writes -= 1
            if not self._writes:
                self._no_writes.set()


__all__ = ["ModbusLine", "check_line"]
