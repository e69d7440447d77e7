"""One DL/T 645 RS-485 line: one bus owner per port, polling its meters in turn.

As the Modbus line (edge/drivers/modbus/line.py): half duplex allows one request on the wire,
so one task sends every read; each meter keeps its own schedule, timeout, counters and health;
the meter due earliest goes next; the first failed read ends that meter's poll, so a silent
meter costs the line its own timeout once in its own slot; a missed reading is tried again
after `retry_s` (not a whole interval later), and a meter offline is tried less and less often
(capped exponential backoff). Errors are counted and reported through `on_event`, never
raised out of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import termios
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self, TypeVar

import serial

from edge.drivers import cjt188
from edge.drivers.dlt645.errors import FrameError, MeterError
from edge.drivers.dlt645.frame import Frame, FrameReader, answer_value, check_address, read_request
from edge.drivers.dlt645.items import ITEMS
from edge.drivers.dlt645.models import (
    LineConfig,
    MeterConfig,
    MeterEvent,
    MeterReading,
    MeterState,
    MeterStatus,
)
from edge.drivers.meter_frame import FrameError as MeterFrameError

log = logging.getLogger(__name__)
_F = TypeVar("_F")
_F_co = TypeVar("_F_co", covariant=True)
_T = TypeVar("_T")


class _Reader(Protocol[_F_co]):
    def feed(self, data: bytes) -> Sequence[_F_co | ValueError]: ...


_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


def check_meters(meters: Sequence[MeterConfig], protocol: str = "dlt645") -> None:
    """Meters that may share a line: distinct names and addresses, known data items (a
    CJ/T 188 water meter: its 14-digit number, its volume, its type: cold or hot water). Raises
    ValueError naming the meter at fault."""
    if not meters:
        raise ValueError("a meter line needs at least one meter")
    names: set[str] = set()
    addresses: dict[str, str] = {}
    for m in meters:
        try:
            if protocol == "cjt188":
                cjt188.check_address(m.address)
            else:
                check_address(m.address)
        except MeterFrameError as exc:  # either codec's
            raise ValueError(f"{m.name}: {exc.reason}") from exc
        if m.name in names:
            raise ValueError(f"meter name {m.name} repeated on one line")
        if m.address in addresses:
            raise ValueError(f"{addresses[m.address]} and {m.name} share address {m.address}")
        if protocol == "cjt188" and m.meter_type not in cjt188.WATER_TYPES:
            kinds = ", ".join(f"{t:02X} {n}" for t, n in cjt188.WATER_TYPES.items())
            raise ValueError(f"{m.name}: CJ/T 188 meter type {m.meter_type:02X} is not a water "
                             f"meter's ({kinds})")
        known = CJT188_ITEMS if protocol == "cjt188" else ITEMS
        unknown = [i for i in m.items if i not in known]
        if unknown or not m.items:
            raise ValueError(f"{m.name}: unknown data items {unknown} (known: {sorted(known)})")
        names.add(m.name)
        addresses[m.address] = m.name


CJT188_ITEMS = {"volume_m3": "m3"}  # what a CJ/T 188 water meter's current-data read gives


class Dlt645Line:
    """`async with Dlt645Line(line, meters, on_event) as line:` polls every meter until exit;
    `line.meters[name]` holds one meter's counters and health; `await line.read(name)` reads
    one meter now (between polls)."""

    def __init__(self, line: LineConfig, meters: Sequence[MeterConfig],
                 on_event: Callable[[MeterEvent], None]) -> None:
        check_meters(meters, line.protocol)
        self.config = line
        self.meters = {m.name: MeterState(m, retry_s=m.retry_s) for m in meters}
        self._on_event = on_event
        self._lock = asyncio.Lock()  # one request on the wire
        self._serial: serial.Serial | None = None
        self._rx: asyncio.Queue[bytes] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._open()
        self._task = asyncio.create_task(self._run(), name=f"dlt645-{self.config.port}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close()

    def _open(self) -> None:
        cfg = self.config
        try:
            port = serial.Serial(cfg.port, baudrate=cfg.baudrate, parity=_PARITY[cfg.parity],
                                 bytesize=8, stopbits=1, timeout=0)
        except (ValueError, termios.error):
            # Linux ptys refuse parity (EINVAL); a simulated line runs 8N1, as Modbus's does.
            port = serial.Serial(cfg.port, baudrate=cfg.baudrate, timeout=0)
        self._serial = port
        asyncio.get_running_loop().add_reader(port.fileno(), self._readable)

    def _close(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(OSError, ValueError):
                asyncio.get_running_loop().remove_reader(self._serial.fileno())
            self._serial.close()
            self._serial = None

    def _readable(self) -> None:
        assert self._serial is not None
        try:
            data = self._serial.read(4096)
        except serial.SerialException as exc:
            log.warning("%s: read failed: %s", self.config.port, exc)
            return
        if data:
            self._rx.put_nowait(data)

    # --- polling -------------------------------------------------------------------
    async def _run(self) -> None:
        meters = list(self.meters.values())
        start = time.monotonic()
        for m in meters:
            # a random phase spreads the meters over their interval instead of one burst
            m.due = start + random.uniform(0, min(m.config.interval_s, 1.0))
        while True:
            meter = min(meters, key=lambda m: m.due)
            now = time.monotonic()
            if meter.due > now:
                await asyncio.sleep(meter.due - now)
                continue
            await self._poll(meter)
            self._schedule(meter, time.monotonic())

    def _schedule(self, meter: MeterState, now: float) -> None:
        cfg = meter.config
        if meter.failures >= cfg.offline_after:
            meter.due = now + meter.retry_s
            meter.retry_s = min(meter.retry_s * 2, max(cfg.backoff_max_s, cfg.retry_s))
            return
        if meter.failures:  # a missed reading: again soon, so the hour still has its reading
            meter.due = now + min(cfg.retry_s, cfg.interval_s)
            return
        meter.retry_s = cfg.retry_s
        meter.due += cfg.interval_s
        if meter.due < now:  # skip missed slots rather than bunching up
            meter.due = now + cfg.interval_s - (now - meter.due) % cfg.interval_s

    async def _poll(self, meter: MeterState) -> None:
        meter.counters.polls += 1
        started = time.monotonic()
        try:
            values = await self._read_items(meter)
        except MeterError as exc:
            meter.failures += 1
            meter.last_error = str(exc)
            if meter.failures >= meter.config.offline_after and meter.online:
                meter.online = False
                self._on_event(MeterStatus(meter.config.name, False, str(exc)))
            return
        meter.counters.ok += 1
        meter.failures = 0
        if not meter.online:
            meter.online = True
            self._on_event(MeterStatus(meter.config.name, True))
        self._on_event(MeterReading(meter.config.name, values, time.monotonic() - started))

    async def read(self, name: str) -> dict[str, Decimal]:
        """Read one meter now (a billing reading at 00:00, a retry); raises MeterError."""
        return await self._read_items(self.meters[name])

    async def _read_items(self, meter: MeterState) -> dict[str, Decimal]:
        if self.config.protocol == "cjt188":
            cfg = meter.config
            current = await self._exchange(
                meter, cjt188.read_request(cfg.address, meter_type=cfg.meter_type,
                                           wake=self.config.wake),
                cjt188.FrameReader(),
                lambda f: cjt188.parse_current(f, cfg.address, cfg.meter_type))
            return {"volume_m3": current.volume_m3}
        values: dict[str, Decimal] = {}
        for name in meter.config.items:
            item = ITEMS[name]
            value = await self._request(meter, item.di)
            try:
                values[name] = item.decode(value)
            except FrameError as exc:
                meter.counters.garbled += 1
                raise MeterError(meter.config.name, exc.reason) from exc
        return values

    async def _request(self, meter: MeterState, di: int) -> bytes:
        address = meter.config.address

        def answer(frame: Frame) -> bytes:
            try:
                return answer_value(frame, address, di)
            except FrameError as exc:
                if frame.control == 0xD1 and frame.address == address:  # the meter's own
                    meter.counters.errors += 1
                    raise MeterError(meter.config.name, exc.reason) from exc
                raise
        return await self._exchange(meter, read_request(address, di, self.config.wake),
                                    FrameReader(), answer)

    async def _exchange(self, meter: MeterState, request: bytes, reader: _Reader[_F],
                        answer: Callable[[_F], _T]) -> _T:
        """Send `request`, wait for the frame that answers it (within the meter's timeout)
        and return `answer(frame)`; raises MeterError counting a timeout or a garbled reply."""
        cfg = meter.config
        async with self._lock:
            assert self._serial is not None
            while not self._rx.empty():  # a late answer to an earlier request is stale
                self._rx.get_nowait()
            self._serial.write(request)
            # the request's own time on the wire (11 bits a byte, 8E1) before the meter's turn
            deadline = (time.monotonic() + len(request) * 11 / self.config.baudrate
                        + cfg.timeout_s)
            while True:
                remaining = deadline - time.monotonic()
                try:
                    async with asyncio.timeout(max(remaining, 0)):
                        chunk = await self._rx.get()
                except TimeoutError:
                    meter.counters.timeouts += 1
                    raise MeterError(cfg.name, "no answer (timeout)") from None
                for got in reader.feed(chunk):
                    if isinstance(got, ValueError):  # either codec's FrameError
                        meter.counters.garbled += 1
                        raise MeterError(cfg.name, f"garbled answer: {got}")
                    try:
                        return answer(got)
                    except ValueError as exc:
                        meter.counters.garbled += 1
                        raise MeterError(cfg.name, str(exc)) from exc
