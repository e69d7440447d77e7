"""The partitions of a PostgreSQL table as the hub sees and changes them (async sessions).

Every change runs under a transaction-level advisory lock, so hub workers take turns, and
with a short `lock_timeout`: a DETACH waits for the ingest's open transactions, and anything
queued behind it waits for it, so it gives up soon and is tried again at the next round.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.history.ddl import (
    LIST_DETACHED,
    LIST_PARTITIONS,
    Period,
    create_partition,
    next_start,
    parse_bound,
    partition_name,
    period_start,
)

log = logging.getLogger(__name__)
LOCK_TIMEOUT_MS = 3000
Sessions = async_sessionmaker[AsyncSession]


async def is_partitioned(sessions: Sessions, table: str) -> bool:
    """Whether `table` is partitioned here (PostgreSQL after migration 0040a/b; a database
    made from the models alone is not)."""
    async with sessions() as session:
        return bool(await session.scalar(text(
            "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}))


async def _locked(session: AsyncSession, lock: int) -> bool:
    """In a transaction: take the job's advisory lock (or learn another worker holds it)
    and make the statements' times and waits the job's."""
    if not await session.scalar(select(func.pg_try_advisory_xact_lock(lock))):
        return False
    await session.execute(text("SET LOCAL TIME ZONE 'UTC'"))
    await session.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
    return True


async def partitions(session: AsyncSession, table: str) -> dict[str, tuple[datetime, datetime]]:
    """The range partitions attached to `table` by name, with [start, end) (not DEFAULT);
    the session's time zone must be UTC (set by `_locked`)."""
    found: dict[str, tuple[datetime, datetime]] = {}
    for name, bound in (await session.execute(text(LIST_PARTITIONS), {"table": table})).all():
        span = parse_bound(bound)
        if span is not None:
            found[name] = span
    return found


async def create_ahead(sessions: Sessions, table: str, period: Period, now: datetime,
                       ahead: int, lock: int) -> list[str]:
    """The partitions of the period holding `now` and the `ahead` next ones, those missing
    (a range some partition already covers, even in part, is left alone)."""
    created: list[str] = []
    async with sessions() as session, session.begin():
        if not await _locked(session, lock):
            return created
        spans = list((await partitions(session, table)).values())
        start = period_start(now, period)
        for _ in range(ahead + 1):
            end = next_start(start, period)
            if not any(lo < end and start < hi for lo, hi in spans):
                for statement in create_partition(table, start, end):
                    await session.execute(text(statement))
                created.append(partition_name(table, start))
            start = end
    if created:
        log.info("history: partitions made ahead: %s", ", ".join(created))
    return created


async def detach_before(sessions: Sessions, table: str, cutoff: datetime, lock: int) -> list[str]:
    """Detach the partitions whose every row is older than `cutoff` (their upper bound at or
    before it: a partition holding any row inside the window is never touched). Not
    CONCURRENTLY: PostgreSQL refuses that beside a DEFAULT partition; the lock is short."""
    gone: list[str] = []
    async with sessions() as session, session.begin():
        if not await _locked(session, lock):
            return gone
        for name, (_start, end) in sorted((await partitions(session, table)).items()):
            if end <= cutoff:
                await session.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
                gone.append(name)
    return gone


async def detached(sessions: Sessions, table: str) -> list[str]:
    """This table's partitions detached and not dropped yet (this round's, or a round that
    stopped between the two)."""
    async with sessions() as session:
        return sorted(await session.scalars(text(LIST_DETACHED),
                                            {"pattern": f"{table}\\_p%"}))


async def drop_detached(sessions: Sessions, table: str, cutoff: datetime, lock: int) -> list[str]:
    """Drop the detached partitions of `table`; one still holding a row at or after `cutoff`
    (detached by hand, say) is left, with a warning."""
    dropped: list[str] = []
    for name in await detached(sessions, table):
        async with sessions() as session, session.begin():
            if not await _locked(session, lock):
                break
            if not await session.scalar(text("SELECT to_regclass(:n) IS NOT NULL"),
                                        {"n": name}):
                continue
            if await session.scalar(text(f"SELECT 1 FROM {name} WHERE ts >= :cutoff LIMIT 1"),
                                    {"cutoff": cutoff}):
                log.warning("history: %s holds rows inside the retention: not dropped", name)
                continue
            await session.execute(text(f"DROP TABLE {name}"))
        dropped.append(name)
    if dropped:
        log.info("history: partitions past retention dropped: %s", ", ".join(dropped))
    return dropped


__all__ = ["create_ahead", "detach_before", "detached", "drop_detached", "is_partitioned",
           "partitions"]
