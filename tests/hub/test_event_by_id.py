"""A look for one event by its id (a guard's plate correction) on the partitioned event log:
bounded by the time the id's UUIDv7 carries, PostgreSQL reads one monthly partition; an id
stored far from its time (kept in event_id_outliers, as the ingest does) is still found, in
the one partition of its ts. EXPLAIN of the very statements `find_event` runs shows it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.history.ddl import partition_name, period_start
from hub.history.ids import find_event
from hub.history.partitions import create_ahead
from hub.models import EventIdOutlier, EventLog
from hub.seed import seed_demo
from wire import new_event_id

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
# the middle of a month two months back: a day either side stays in that month's partition
MID = period_start(NOW - timedelta(days=62), "month") + timedelta(days=14, hours=6)
FAR = period_start(NOW - timedelta(days=124), "month") + timedelta(days=10)


def vehicle(event_id: str, ts: datetime, seq: int) -> EventLog:
    return EventLog(id=event_id, kind="vehicle", site_id="demo", edge="e7", device="gate",
                    seq=seq, ts=ts, received_at=NOW,
                    data={"lane": "gate", "direction": "entry", "plate": "粤B12345",
                          "result": "open", "reason": "resident"})


@contextmanager
def statements(sessions: async_sessionmaker[AsyncSession]) -> Iterator[list[tuple[str, Any]]]:
    """The SQL (and its parameters) the engine sends meanwhile."""
    engine = sessions.kw["bind"].sync_engine
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def plans(sessions: async_sessionmaker[AsyncSession],
                sent: list[tuple[str, Any]]) -> list[set[str]]:
    """The event_log partitions each event_log statement's plan reads."""
    out = []
    async with sessions() as session:
        conn = await session.connection()
        for statement, parameters in sent:
            if "FROM event_log" not in statement:
                continue
            rows = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plan = "\n".join(r[0] for r in rows)
            out.append(set(re.findall(r"on (event_log_\w+)", plan)) | (
                {"event_log"} if re.search(r"on event_log\b(?!_)", plan) else set()))
    return out


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no partitions
async def test_an_event_is_looked_for_in_the_one_partition_its_id_names(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions)
    await create_ahead(sessions, "event_log", "month", period_start(FAR, "month"), 6, 1)
    near, outlier = new_event_id(MID), new_event_id(MID)
    async with sessions() as session, session.begin():
        session.add_all([vehicle(near, MID, 1), vehicle(outlier, FAR, 2)])
        session.add(EventIdOutlier(id=outlier, ts=FAR))  # as the ingest keeps it
    with statements(sessions) as sent:
        async with sessions() as session:
            found = await find_event(session, near)
    assert found is not None and found.id == near and found.ts == MID
    print(f"\nthe look for {near}: {sent}")
    assert await plans(sessions, sent) == [{partition_name("event_log", period_start(MID, "month"))}]

    with statements(sessions) as sent:
        async with sessions() as session:
            found = await find_event(session, outlier)
    assert found is not None and found.id == outlier and found.ts == FAR
    # the id's days (nothing there), the outliers' table, then the one partition of its ts
    assert await plans(sessions, sent) == [
        {partition_name("event_log", period_start(MID, "month"))},
        {partition_name("event_log", period_start(FAR, "month"))}]

    with statements(sessions) as sent:
        async with sessions() as session:
            assert await find_event(session, new_event_id(MID)) is None  # stored nowhere
            assert await find_event(session, "not-an-id") is None
    assert await plans(sessions, sent) == [
        {partition_name("event_log", period_start(MID, "month"))}]
