"""Old raw telemetry rolled into per-hour min/max/avg (`telemetry_hourly`), then deleted.

Only whole hours older than the retention are rolled, so an hour is never half raw and half
rolled. Late rows for an hour already rolled are merged into its figures (count-weighted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
        t = TelemetryRow
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
            max_id = await session.scalar(select(func.max(t.id)).where(t.ts < cutoff))
            if max_id is None:
                return DownsampleResult(cutoff, 0, 0)
            scope = (t.ts < cutoff, t.id <= max_id)
            hour = (func.date_trunc("hour", t.ts) if dialect == "postgresql"
                    else func.strftime("%Y-%m-%d %H:00:00", t.ts))
            groups = (await session.execute(
                select(t.site_id, t.edge, t.device, t.name, hour.label("hour"),
                       func.count(t.value_num).label("count"), func.min(t.value_num), func.max(t.value_num),
                       func.avg(t.value_num), func.max(t.unit))
                .where(*scope)
                .group_by(t.site_id, t.edge, t.device, t.name, hour)
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
            deleted = await session.execute(delete(t).where(*scope))
        rolled = int(cast(Any, deleted).rowcount)
        log.info("telemetry: rolled %d raw rows before %s into %d hours", rolled, cutoff,
                 len(rows))
        return DownsampleResult(cutoff, rolled, len(rows))

    task_name = "hub-telemetry-downsample"

    async def run_once(self) -> DownsampleResult:
        return await self.downsample_once()


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
