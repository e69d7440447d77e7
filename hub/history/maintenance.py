"""The hub's history job: partitions made ahead, then each kind's retention.

PostgreSQL: the next periods' partitions are made ahead of the events (the DEFAULT partition
takes whatever falls outside: nothing is refused for its time), whole partitions past their
kind's retention are detached and dropped, and the DEFAULT partition's own old rows go in
bounded batches. SQLite: the same retention by bounded batched deletes, a short write
transaction each, so the ingest never waits long. Raw telemetry leaves through its
downsampling (hub.telemetry.downsample), which rolls it into hours first.
Alarms follow their history: once an alarm's steps are past the alarm history's retention,
the alarm itself goes too if it was cleared before the cutoff (hub.rules.alarms), in batches;
an alarm still open is kept whatever its age.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, delete, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.history.ddl import PARTITIONED, default_name
from hub.history.partitions import create_ahead, detach_before, drop_detached, is_partitioned
from hub.models import AccessEvent, EventLog, utcnow
from hub.rules.alarms import delete_cleared_before
from hub.rules.models import AlarmHistory
from hub.tasks import Periodic

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_PG_HISTORY_LOCK = 0x4C494E56  # hub workers take turns
_TABLES: dict[str, Table] = {"event_log": cast(Table, EventLog.__table__),
                             "access_events": cast(Table, AccessEvent.__table__),
                             "alarm_history": cast(Table, AlarmHistory.__table__)}


@dataclass(frozen=True)
class Retention:
    """How many days each kind is kept (None: for ever)."""

    event_log_days: float | None = 365.0
    access_days: float | None = 1095.0
    alarm_history_days: float | None = 1095.0  # with the access log: records for regulators

    def by_table(self) -> dict[str, float | None]:
        return {"event_log": self.event_log_days, "access_events": self.access_days,
                "alarm_history": self.alarm_history_days}


@dataclass
class RetentionReport:
    created: list[str] = field(default_factory=list)  # partitions made ahead
    dropped: list[str] = field(default_factory=list)  # partitions past retention
    deleted: dict[str, int] = field(default_factory=dict)  # rows deleted, by table


class HistoryMaintenance(Periodic):
    """`async with HistoryMaintenance(sessions, retention, …):` runs `run_once()` now and then
    every `interval_s` on each hub worker (they take turns on an advisory lock)."""

    task_name = "hub-history"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], retention: Retention, *,
                 ahead: int = 3, interval_s: float = 3600.0, batch_rows: int = 5000,
                 clock: Clock = utcnow) -> None:
        super().__init__(interval_s)
        if ahead < 1 or batch_rows < 1:
            raise ValueError("ahead and batch_rows must be at least 1")
        self._sessions = sessions
        self._retention = retention
        self._ahead = ahead
        self._batch = batch_rows
        self._clock = clock

    async def run_once(self) -> RetentionReport:
        report = RetentionReport()
        now = self._clock()
        async with self._sessions() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
        for table, period in PARTITIONED.items():
            if postgres and await is_partitioned(self._sessions, table):
                report.created += await create_ahead(self._sessions, table, period, now,
                                                     self._ahead, _PG_HISTORY_LOCK)
        for table, days in self._retention.by_table().items():
            if days is None:
                continue
            cutoff = now - timedelta(days=days)
            if postgres and await is_partitioned(self._sessions, table):
                await detach_before(self._sessions, table, cutoff, _PG_HISTORY_LOCK)
                report.dropped += await drop_detached(self._sessions, table, cutoff,
                                                      _PG_HISTORY_LOCK)
                report.deleted[table] = await self._delete_before(
                    default_name(table), cutoff, postgres=True)
                if table == "event_log":  # the ingest's note of ids stored far from their time
                    await self._delete_before("event_id_outliers", cutoff, postgres=True)
            else:
                report.deleted[table] = await self._delete_before(table, cutoff,
                                                                  postgres=postgres)
            if table == "alarm_history":
                report.deleted["alarms"] = await self._delete_alarms_before(cutoff)
        return report

    async def _delete_alarms_before(self, cutoff: datetime) -> int:
        """Alarms cleared before `cutoff` (their comments and any step left go with them by
        the foreign keys), `batch_rows` at a time."""
        total = 0
        while True:
            async with self._sessions() as session, session.begin():
                count = await delete_cleared_before(session, cutoff, self._batch)
            total += count
            if count < self._batch:
                break
        if total:
            log.info("history: %d alarms cleared before %s deleted", total, cutoff)
        return total

    async def _delete_before(self, table: str, cutoff: datetime, *, postgres: bool) -> int:
        """Rows older than `cutoff`, `batch_rows` at a time, each batch its own transaction."""
        source = _TABLES.get(table)
        total = 0
        while True:
            async with self._sessions() as session, session.begin():
                if postgres:  # a DEFAULT partition: few rows (late or odd times)
                    done = await session.execute(text(
                        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} "
                        "WHERE ts < :cutoff LIMIT :n))"), {"cutoff": cutoff, "n": self._batch})
                else:
                    assert source is not None
                    rowid: ColumnElement[int] = literal_column("rowid")
                    done = await session.execute(delete(source).where(rowid.in_(
                        select(rowid).select_from(source).where(source.c.ts < cutoff)
                        .limit(self._batch))))
            count = int(cast(Any, done).rowcount)
            total += count
            if count < self._batch:
                break
        if total:
            log.info("history: %d rows of %s older than %s deleted", total, table, cutoff)
        return total


__all__ = ["HistoryMaintenance", "Retention", "RetentionReport"]
