"""Free space under the edge's data folder: low is reported once, and once when it is back;
the outbox's events held in memory while it cannot write are retried and reported."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edge.errors import OutboxError
from edge.outbox import Outbox
from edge.report import Reporter

log = logging.getLogger(__name__)


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


@dataclass
class DiskWatch:
    path: Path
    low_bytes: int
    free: Callable[[Path], int] = field(default=free_bytes)  # tests inject a full disk here
    low: bool = False

    def check(self) -> tuple[Literal["disk_low", "disk_ok"], int] | None:
        """The change since the last check with the free bytes now, or None if none."""
        free = self.free(self.path)
        low = free < self.low_bytes
        if low == self.low:
            return None
        self.low = low
        return ("disk_low" if low else "disk_ok"), free


async def watch_disk(disk: DiskWatch, outbox: Outbox, report: Reporter, *,
                     every_s: float) -> None:
    """Every `every_s`: report a change of free space, retry what the outbox holds in memory,
    and report once that it holds events (and every time more were lost)."""
    lost_reported, held_reported = 0, False
    while True:
        change = disk.check()
        if change is not None:
            kind, free = change
            report.agent(kind, f"{free // 1_000_000} MB free under {disk.path} "
                         f"(alarm below {disk.low_bytes // 1_000_000} MB)")
        if outbox.held:
            try:
                if outbox.retry_held():
                    report.wake()
            except OutboxError:
                log.exception("retrying the events held in memory failed")
        if outbox.held and not held_reported:
            report.agent("disk_low", f"the outbox cannot write: {outbox.held} "
                         f"events held in memory (up to {outbox.held_max})")
        held_reported = bool(outbox.held)
        if outbox.lost > lost_reported:
            report.agent("disk_low", f"{outbox.lost - lost_reported} events lost: "
                         "the outbox could not write and its memory bound was reached")
            lost_reported = outbox.lost
        await asyncio.sleep(every_s)
