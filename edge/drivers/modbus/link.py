"""One Modbus unit on a line: its schedule, timeout, counters and health.

The line (`ModbusLine`) owns the port and sends every request; a link only keeps what is the
unit's own, so that a silent unit's timeouts and backoff never reach the other units' slots.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from edge.drivers.modbus.errors import ModbusError
from edge.drivers.modbus.models import (
    Counters,
    LinkConfig,
    LinkStatus,
    PollResult,
    Table,
    Timing,
)

if TYPE_CHECKING:
    from edge.drivers.modbus.line import ModbusLine

LinkEvent = PollResult | LinkStatus


class ModbusLink:
    """A unit polled by its line; `write` sends at once (behind at most the request on the wire)."""

    def __init__(self, config: LinkConfig, line: ModbusLine,
                 on_event: Callable[[LinkEvent], None]) -> None:
        self.config = config
        self.counters = Counters()
        self.timing = Timing()
        self.online = False
        self.due = 0.0  # monotonic time of the next poll
        self.line = line  # the bus owner of its port
        self._on_event = on_event
        self._failures = 0
        self._retry_s = config.backoff_min_s  # grows while the unit is offline

    # --- the line's scheduler calls these ----------------------------------------------
    def next_due(self, now: float) -> None:
        """Schedule the next poll: one interval on, skipping missed slots rather than bunching
        up; an offline unit is tried less often (capped exponential backoff) so that a dead
        unit costs the line its timeout rarely."""
        interval = self.config.interval_s
        if self._failures >= self.config.offline_after:
            self.due = now + max(interval, self._retry_s)
            self._retry_s = min(self._retry_s * 2, self.config.backoff_max_s)
            return
        self._retry_s = self.config.backoff_min_s
        self.due += interval
        if self.due < now:
            self.due = now + interval - (now - self.due) % interval

    def polled(self, values: dict[tuple[Table, int], int | bool], latency: float,
               lateness: float) -> None:
        self.counters.ok += 1
        self.timing.add(latency, lateness)
        self._failures = 0
        if not self.online:
            self.online = True
            self._on_event(LinkStatus(device=self.config.name, online=True))
        self._on_event(PollResult(device=self.config.name, values=values,
                                  latency_s=latency, lateness_s=lateness))

    def failed(self, reason: str) -> None:
        self._failures += 1
        if self.online and self._failures >= self.config.offline_after:
            self.online = False
            self._on_event(LinkStatus(device=self.config.name, online=False, reason=reason))

    # --- writes --------------------------------------------------------------------
    async def write(self, table: Table, address: int, values: Sequence[int | bool]) -> None:
        """Write coils or holding registers now (queued behind at most the current request)."""
        if table not in ("coil", "holding"):
            self.counters.write_errors += 1
            raise ModbusError(self.config.name, f"a {table} cannot be written")
        started = time.monotonic()
        try:
            await self.line.write(self, table, address, values)
        except ModbusError:
            self.counters.write_errors += 1
            raise
        self.timing.add_write(time.monotonic() - started)
