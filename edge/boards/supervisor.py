"""The boards of an edge: each LED board (a Modbus device of type led_board, polled by the
device supervisor like every device) shows the notices valid now in turn, `rotate_s` each, or
an instruction in both languages while this edge's fire alarm or a lockdown is on; a notice
leaves at its expiry by the edge's own clock, so it leaves even with the hub unreachable.

What a board really shows is read back from the board (its latched page and its dots) and
reported as telemetry (`shown_text`, `frame_png`), so the console shows the board's own dots.
A board that cannot be written raises the fault BOARD_UNREACHABLE (a work order at the hub),
cleared when a page is written again."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

from edge.boards.family import BoardFamily
from edge.boards.modbus_text import ModbusTextBoard
from edge.boards.pages import Emergency, Page, emergency_page, idle_page, notice_pages
from edge.devices import Device, DeviceSupervisor, Emit
from edge.tasks import stop
from wire.boards import BoardNotice
from wire.devices import DeviceData, Reading, TelemetryData

log = logging.getLogger(__name__)
UNREACHABLE = "BOARD_UNREACHABLE"
FAMILIES: dict[str, Callable[[Device], BoardFamily]] = {  # by model name prefix
    "led-board-t": lambda device: ModbusTextBoard(device.model),
}


def family_of(device: Device) -> BoardFamily:
    for prefix, make in FAMILIES.items():
        if device.model.model.startswith(prefix):
            return make(device)
    raise ValueError(f"device {device.config.id}: no board family drives model "
                     f"{device.model.model}")


@dataclass
class _Board:
    family: BoardFamily
    seq: int = 0
    page: Page | None = None  # what was written last
    pages: dict[int, Page] = field(default_factory=dict)  # seq -> page written under it
    retry_at: float = 0.0
    failed: bool = False
    reported: tuple[int, bytes] | None = None


class BoardSupervisor:
    """`async with BoardSupervisor(devices, emit, clock=…, emergency=…)`: drives every board
    the device supervisor runs until exit; `notices` is set from each configuration."""

    def __init__(self, devices: DeviceSupervisor, emit: Emit, *, clock: Callable[[], datetime],
                 emergency: Callable[[], Emergency | None], rotate_s: float = 8.0,
                 tick_s: float = 0.25, retry_s: float = 5.0) -> None:
        self._devices = devices
        self._emit = emit
        self._clock = clock
        self._emergency = emergency
        self.rotate_s, self._tick_s, self._retry_s = rotate_s, tick_s, retry_s
        self.notices: list[BoardNotice] = []
        self.boards: dict[str, _Board] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="boards")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await stop(self._task)

    def set_notices(self, notices: Sequence[BoardNotice]) -> None:
        self.notices = sorted(notices, key=lambda n: (n.valid_from, n.id))

    def page_now(self, now: datetime, monotonic: float, cells: int = 24) -> Page:
        """What a board whose lines hold `cells` should show at `now`: the pages of the
        notices valid now in turn, `rotate_s` each (a long notice has several)."""
        kind = self._emergency()
        if kind is not None:
            return emergency_page(kind)
        live = [n for n in self.notices
                if n.valid_from <= now and (n.valid_until is None or now < n.valid_until)]
        if not live:
            return idle_page()
        pages = [page for n in live for page in notice_pages(n, cells)]
        return pages[int(monotonic // self.rotate_s) % len(pages)]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.tick(loop.time())
            except Exception:  # a board's trouble must not stop the others
                log.exception("boards: tick failed")
            await asyncio.sleep(self._tick_s)

    async def tick(self, monotonic: float) -> None:
        devices = {i: d for i, d in self._devices.devices.items()
                   if d.model.device_type == "led_board"}
        for gone in set(self.boards) - set(devices):
            del self.boards[gone]
        now = self._clock()
        for device_id, device in devices.items():
            board = self.boards.get(device_id)
            if board is None:
                board = self.boards[device_id] = _Board(family_of(device))
            page = self.page_now(now, monotonic, board.family.cells)
            if page != board.page and monotonic >= board.retry_at:
                await self._show(device, board, page, monotonic)
            self._report(device, board)

    async def _show(self, device: Device, board: _Board, page: Page, monotonic: float) -> None:
        seq = (board.seq % 0xFFFF) + 1
        for write in board.family.writes(page, seq):
            if not await self._devices.write(device.config.id, write):
                board.retry_at = monotonic + self._retry_s
                if not board.failed:
                    board.failed = True
                    self._emit(device.config.id, DeviceData(
                        device_type="led_board", model=device.model.model,
                        event="fault_raised", code=UNREACHABLE, severity="major",
                        skill="electrical", text="The LED board cannot be written",
                        text_zh="告示屏无法写入内容", detail=f"page {page.text[:200]!r}"))
                return
        board.seq, board.page = seq, page
        board.pages = {s: p for s, p in board.pages.items() if s > seq - 8} | {seq: page}
        if board.failed:
            board.failed = False
            self._emit(device.config.id, DeviceData(
                device_type="led_board", model=device.model.model, event="fault_cleared",
                code=UNREACHABLE))

    def _report(self, device: Device, board: _Board) -> None:
        """Telemetry when what the board reports showing has changed."""
        if device.values is None:
            return
        shown = board.family.shown(device.values)
        if shown is None or (shown.seq, shown.png) == board.reported:
            return
        board.reported = (shown.seq, shown.png)
        page = board.pages.get(shown.seq)
        readings = [Reading(name="shown_seq", value=shown.seq),
                    Reading(name="shown_text", value=page.text if page else ""),
                    Reading(name="emergency", value=bool(page and page.emergency)),
                    Reading(name="frame_png", value=base64.b64encode(shown.png).decode())]
        if page is not None and page.notice is not None:
            readings.append(Reading(name="notice_id", value=page.notice))
        self._emit(device.config.id, TelemetryData(device_type="led_board",
                                                   model=device.model.model, readings=readings))


__all__ = ["BoardSupervisor", "family_of"]
