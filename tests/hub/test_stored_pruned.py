"""The fold of stored sequence numbers (hub.stored) on the partitioned event log: its read of an
edge's events above stored_through is bounded by the edge's time there, so PostgreSQL plans
only the recent months; an edge whose clock went back or ran ahead still has every event
counted, on both engines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.history.ddl import partition_name, period_start
from hub.history.partitions import create_ahead
from hub.models import EdgeUplink, EventLog
from hub.seed import seed_demo
from hub.stored import events_above, fold_edge, progress
from wire import new_event_id

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await seed_demo(sessions)
    return sessions


async def store(sessions: async_sessionmaker[AsyncSession], *events: tuple[int, datetime]
                ) -> None:
    async with sessions() as session, session.begin():
        session.add_all([EventLog(id=new_event_id(), kind="door", site_id="demo", edge="e7",
                                  device="door-1", seq=seq, ts=ts, received_at=NOW,
                                  data={"door": "B1-main", "event": "opened"})
                         for seq, ts in events])


async def fold(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, datetime | None]:
    async with sessions() as session, session.begin():
        await fold_edge(session, "demo", "e7")
    async with sessions() as session:
        row = (await session.execute(select(EdgeUplink.stored_through, EdgeUplink.through_ts)
                                     .where(EdgeUplink.edge == "e7"))).one()
        return row[0], row[1]


async def shown(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessions() as session:
        now = await progress(session, "demo", "e7")
    return now.stored_through, now.missing, now.highest_stored


async def test_every_event_is_counted_whatever_the_edges_clock_did(
    seeded: async_sessionmaker[AsyncSession]
) -> None:
    await store(seeded, *[(n, NOW + timedelta(seconds=n)) for n in range(1, 6)])
    assert await fold(seeded) == (5, NOW + timedelta(seconds=5))
    # the clock set back two months, then right again: the bounded read leaves a gap at 6,
    # so it reads again unbounded and counts it
    await store(seeded, (6, NOW - timedelta(days=60)), (7, NOW + timedelta(seconds=7)))
    assert await shown(seeded) == (7, 0, 7)
    assert await fold(seeded) == (7, NOW + timedelta(seconds=7))
    # a clock a year ahead: the edge's time kept no later than the hub's, so the events after
    # it (clock set right) are still read
    await store(seeded, (8, NOW + timedelta(days=400)))
    through, through_ts = await fold(seeded)
    assert through == 8 and through_ts is not None and through_ts < NOW + timedelta(days=1)
    await store(seeded, (9, NOW + timedelta(seconds=9)), (11, NOW + timedelta(seconds=11)))
    assert await shown(seeded) == (9, 1, 11)  # 10 is a real gap
    assert await fold(seeded) == (9, NOW + timedelta(seconds=9))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no partitions
async def test_the_folds_read_plans_only_the_months_from_the_edges_time_on(
    seeded: async_sessionmaker[AsyncSession]
) -> None:
    old = period_start(NOW - timedelta(days=150), "month")
    await create_ahead(seeded, "event_log", "month", old, 2, 1)
    through_ts = max(NOW - timedelta(hours=1), period_start(NOW, "month") + timedelta(days=8))
    async with seeded() as session:
        stmt = events_above("demo", "e7", 5, through_ts)
        compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in await session.execute(text(f"EXPLAIN {compiled}")))
        unbounded = events_above("demo", "e7", 5, None).compile(
            session.get_bind(), compile_kwargs={"literal_binds": True})
        everything = "\n".join(r[0] for r in await session.execute(text(f"EXPLAIN {unbounded}")))
    print(f"\nthe fold's read:\n{plan}")
    found = set(re.findall(r"on (event_log_\w+)", plan))
    assert partition_name("event_log", period_start(NOW, "month")) in found, plan
    old_months = {partition_name("event_log", m) for m in
                  (old, period_start(old + timedelta(days=32), "month"))}
    assert not old_months & found, plan
    assert old_months <= set(re.findall(r"on (event_log_\w+)", everything)), everything
