"""Old raw telemetry rolled into per-hour min/max/avg (`telemetry_hourly`), then deleted.

On PostgreSQL the raw table is partitioned by day (hub.history): a day wholly past the
retention is detached, rolled and dropped as one partition, never deleted row by row; only
the DEFAULT partition's stragglers are rolled and deleted as rows.

Only whole hours older than the retention are rolled, so an hour is never half raw and half
rolled. Late rows for an hour already rolled are merged into its figures (count-weighted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    column,
    delete,
    false,
    func,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import TableClause

from hub.history.ddl import default_name
from hub.history.partitions import detach_before, detached, is_partitioned
from hub.models import TelemetryHourly, TelemetryRow, utcnow
from hub.tasks import Periodic

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# Hub workers each run the job; one at a time, or rows would be counted twice.
_PG_DOWNSAMPLE_LOCK = 0x4C494E55


@dataclass(frozen=True)
class DownsampleResult:
    cutoff: datetime
    rows_rolled: int
    hours_written: int


def _hour_floor(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _parse_hour(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)  # SQLite's strftime text


class Downsampler(Periodic):
    """`await downsample_once()` rolls what is old now; `async with` runs it every `interval_s`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, raw_days: float,
                 interval_s: float = 3600.0, clock: Clock = utcnow) -> None:
        if raw_days <= 0:
            raise ValueError(f"raw_days must be positive, not {raw_days}")
        super().__init__(interval_s)
        self._sessions = sessions
        self._raw = timedelta(days=raw_days)
        self._clock = clock

    async def downsample_once(self) -> DownsampleResult:
        cutoff = _hour_floor(self._clock() - self._raw)
        table = cast(Table, TelemetryRow.__table__)
        async with self._sessions() as session:
            dialect = session.get_bind().dialect.name
        if dialect == "postgresql" and await is_partitioned(self._sessions, table.name):
            # whole days leave as partitions, rolled as they go; the rows left to roll one by
            # one are the DEFAULT partition's (late readings, or before any partition)
            rolled_days, hours = await self._roll_old_days(cutoff)
            result = await self._roll_rows(_table_named(default_name(table.name)), cutoff)
            return DownsampleResult(cutoff, result.rows_rolled + rolled_days,
                                    result.hours_written + hours)
        return await self._roll_rows(table, cutoff)

    async def _roll_rows(self, t: TableClause, cutoff: datetime) -> DownsampleResult:
        async with self._sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql" and not await session.scalar(
                    select(func.pg_try_advisory_xact_lock(_PG_DOWNSAMPLE_LOCK))):
                return DownsampleResult(cutoff, 0, 0)  # another hub worker is at it
            if dialect == "sqlite":
                # pysqlite begins a transaction only at the first write: take the write lock
                # now, so that what is read below cannot change before it is written.
                await session.execute(update(TelemetryHourly).where(false())
                                      .values(count=TelemetryHourly.count))
            # Rows committed after this point are left for the next run, not deleted unseen.
            max_id = await session.scalar(select(func.max(t.c.id)).where(t.c.ts < cutoff))
            if max_id is None:
                return DownsampleResult(cutoff, 0, 0)
            scope = (t.c.ts < cutoff, t.c.id <= max_id)
            hours = await _roll_into_hours(session, t, scope, dialect)
            deleted = await session.execute(delete(t).where(*scope))
        rolled = int(cast(Any, deleted).rowcount)
        log.info("telemetry: rolled %d raw rows before %s into %d hours", rolled, cutoff, hours)
        return DownsampleResult(cutoff, rolled, hours)

    async def _roll_old_days(self, cutoff: datetime) -> tuple[int, int]:
        """PostgreSQL: the day partitions wholly before `cutoff` are detached (a short lock:
        readings then go to the DEFAULT partition), and each detached one is rolled into hours
        and dropped in one transaction, so none is counted twice or lost unrolled."""
        table = cast(Table, TelemetryRow.__table__).name
        await detach_before(self._sessions, table, cutoff, _PG_DOWNSAMPLE_LOCK)
        rolled = hours = 0
        for name in await detached(self._sessions, table):
            async with self._sessions() as session, session.begin():
                if not await session.scalar(
                        select(func.pg_try_advisory_xact_lock(_PG_DOWNSAMPLE_LOCK))):
                    break  # another hub worker is at it
                if not await session.scalar(text(
                        "SELECT to_regclass(:name) IS NOT NULL"), {"name": name}):
                    continue  # dropped by another worker meanwhile
                source = _table_named(name)
                count = int(await session.scalar(select(func.count()).select_from(source)) or 0)
                hours += await _roll_into_hours(session, source, (), "postgresql")
                await session.execute(text(f"DROP TABLE {name}"))
            rolled += count
            log.info("telemetry: rolled the %d raw rows of %s into hours and dropped it",
                     count, name)
        return rolled, hours

    task_name = "hub-telemetry-downsample"

    async def run_once(self) -> DownsampleResult:
        return await self.downsample_once()


def _table_named(name: str) -> TableClause:
    """The raw telemetry's columns under another name (a partition)."""
    return table(name, *(column(c.name, c.type) for c in TelemetryRow.__table__.columns))


async def _roll_into_hours(session: AsyncSession, t: TableClause,
                           scope: tuple[ColumnElement[bool], ...], dialect: str) -> int:
    """The numeric readings of `t` within `scope` merged into telemetry_hourly."""
    hour = (func.date_trunc("hour", t.c.ts) if dialect == "postgresql"
            else func.strftime("%Y-%m-%d %H:00:00", t.c.ts))
    groups = (await session.execute(
        select(t.c.site_id, t.c.edge, t.c.device, t.c.name, hour.label("hour"),
               func.count(t.c.value_num).label("count"), func.min(t.c.value_num),
               func.max(t.c.value_num), func.avg(t.c.value_num), func.max(t.c.unit))
        .where(*scope)
        .group_by(t.c.site_id, t.c.edge, t.c.device, t.c.name, hour)
    )).all()
    rows = [
        {"site_id": g[0], "edge": g[1], "device": g[2], "name": g[3],
         "hour": _parse_hour(g[4]), "count": int(g[5]),
         "min": g[6], "max": g[7], "avg": None if g[8] is None else float(g[8]),
         "unit": g[9]}
        for g in groups
        if g[5]  # text readings have nothing to average: they go with the raw rows
    ]
    if rows:
        await session.execute(_merge_hourly(dialect), rows)
    return len(rows)


def _merge_hourly(dialect: str) -> Any:
    """Insert an hour, or merge it into the one already rolled (late rows); counts are of
    numeric values and never 0 here, so the weighted average is defined."""
    table = cast(Table, TelemetryHourly.__table__)
    stmt = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table))
    new, old = stmt.excluded, table.c
    least, greatest = ((func.least, func.greatest) if dialect == "postgresql"
                       else (func.min, func.max))  # SQLite's min/max of two are scalar
    total = old.count + new.count
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "edge", "device", "name", "hour"],
        set_={
            "count": total,
            "min": least(old.min, new.min),
            "max": greatest(old.max, new.max),
            "avg": (old.avg * old.count + new.avg * new.count) / total,
            "unit": func.coalesce(new.unit, old.unit),
        },
    )
