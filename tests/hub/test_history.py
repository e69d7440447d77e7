"""Event history partitioned by time (PostgreSQL) and retention by kind (both engines), with
a real Mosquitto and the real ingest: partitions made ahead, late and future events kept,
access-log queries pruned to the month asked for, and retention dropping a partition while
the ingest stores events, none lost that should stay."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.access.log import _before, _filtered, _newest_first
from hub.api.access.schemas import AccessEventQuery
from hub.api.core.scope import Scope
from hub.history.ddl import partition_name, period_start
from hub.history.maintenance import HistoryMaintenance, Retention
from hub.history.partitions import create_ahead
from hub.ingest import Ingest, hub_subscriptions
from hub.models import AccessEvent, EventLog
from hub.mqtt import MqttClient
from hub.seed import seed_demo
from tests.hub.support import access_event, dumps, edge_client, event_topic
from tests.support.services import MosquittoServer
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
NOW = datetime.now(UTC)


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await seed_demo(sessions)
    return sessions


@pytest.fixture
async def ingest(mosquitto: MosquittoServer,
                 seeded: async_sessionmaker[AsyncSession]) -> AsyncIterator[Ingest]:
    mqtt = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-history",
                      subscriptions=hub_subscriptions("hub"))
    async with mqtt, Ingest(seeded, mqtt) as running:
        await mqtt.wait_ready(10)
        yield running


def event_at(seq: int, ts: datetime) -> dict[str, Any]:
    return {**access_event(seq, card=f"c{seq}"), "ts": ts.isoformat()}


async def publish(mosquitto: MosquittoServer, events: list[dict[str, Any]]) -> None:
    async with edge_client(mosquitto.host, mosquitto.port, name="history-edge") as edge:
        await edge.wait_ready(10)
        await asyncio.gather(*(edge.publish(event_topic(e), dumps(e), qos=1) for e in events))


async def stored_at(sessions: async_sessionmaker[AsyncSession], model: Any,
                    lo: datetime, hi: datetime) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(
            model.ts >= lo, model.ts < hi)) or 0)


async def partitions_of(sessions: async_sessionmaker[AsyncSession], table: str) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:t AS regclass)"), {"t": table}))


def months_from(start: datetime, n: int) -> list[datetime]:
    out = [period_start(start, "month")]
    while len(out) < n:
        out.append(period_start(out[-1] + timedelta(days=32), "month"))
    return out


async def test_partitions_are_made_ahead_and_future_events_move_into_theirs(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], ingest: Ingest,
    db_url: str
) -> None:
    """The job makes this month and the next three ahead (days for telemetry); events far in
    the future or past land in the DEFAULT partition, are stored and confirmed like any, and
    move into their month's partition when it is made."""
    far = NOW + timedelta(days=200)
    old = NOW - timedelta(days=3000)
    await publish(mosquitto, [event_at(1, far), event_at(2, old), event_at(3, NOW)])
    await until(lambda: _count(seeded, AccessEvent, 3))
    job = HistoryMaintenance(seeded, Retention(None, None), ahead=3)
    await job.run_once()
    if not db_url.startswith("postgresql"):
        assert await _count(seeded, EventLog, 3)
        return
    names = await partitions_of(seeded, "access_events")
    assert {partition_name("access_events", m) for m in months_from(NOW, 4)} <= names
    days = {partition_name("telemetry", period_start(NOW + timedelta(days=d), "day"))
            for d in range(4)}
    assert days <= await partitions_of(seeded, "telemetry")
    async with seeded() as session:
        where = dict((await session.execute(text(
            "SELECT credential, tableoid::regclass::text FROM access_events"))).all())
    assert where == {"c1": "access_events_default", "c2": "access_events_default",
                     "c3": partition_name("access_events", period_start(NOW, "month"))}
    # months later the job makes the far event's month: it moves out of the default
    later = HistoryMaintenance(seeded, Retention(None, None), ahead=1,
                               clock=lambda: far - timedelta(days=20))
    report = await later.run_once()
    assert partition_name("access_events", period_start(far, "month")) in report.created
    async with seeded() as session:
        where = dict((await session.execute(text(
            "SELECT credential, tableoid::regclass::text FROM access_events"))).all())
        logged = await session.scalar(select(func.count()).select_from(EventLog))
    assert where["c1"] == partition_name("access_events", period_start(far, "month"))
    assert where["c2"] == "access_events_default"
    assert logged == 3


async def _count(sessions: async_sessionmaker[AsyncSession], model: Any, n: int) -> bool:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0) == n


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no partitions
async def test_an_access_log_query_for_one_month_reads_only_that_months_partition(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], ingest: Ingest,
) -> None:
    months = months_from(NOW, 3)
    await publish(mosquitto, [event_at(n, m + timedelta(days=1, hours=n))
                              for n, m in enumerate(months)])
    await until(lambda: _count(seeded, AccessEvent, 3))
    scope = Scope(user_id=1, role="manager", site_id="demo", household_id=None)
    query = AccessEventQuery(site="demo", since=months[1], until=months[2])
    async with seeded() as session:
        stmt = _newest_first(await _filtered(session, scope, query)).limit(51)
        plan = await _plan(session, stmt)
        # the next page: the cursor's (ts, id) bound prunes as well
        paged = await _plan(session, _newest_first((await _filtered(
            session, scope, AccessEventQuery(site="demo"))).where(
            _before(months[1] + timedelta(days=2), "01900000-0000-7000-8000-000000000000")
        )).limit(51))
    scanned = _partitions_in(plan)
    assert scanned == {partition_name("access_events", months[1])}, plan
    print(f"\none month:\n{plan}\nnext page:\n{paged}")
    assert partition_name("access_events", months[2]) not in _partitions_in(paged), paged


async def _plan(session: AsyncSession, stmt: Any) -> str:
    compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    rows = await session.execute(text(f"EXPLAIN {compiled}"))
    return "\n".join(row[0] for row in rows)


def _partitions_in(plan: str) -> set[str]:
    return set(re.findall(r"on (access_events_\w+)", plan))


async def test_retention_drops_a_partition_while_the_ingest_stores_and_keeps_the_rest(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], ingest: Ingest,
    db_url: str
) -> None:
    """Three kinds of rows: a month wholly past retention (goes), a month the cutoff falls
    inside (stays whole: no partition holding a row inside the window is dropped), and events
    the ingest stores while the job runs (all stay). Counted before and after."""
    postgres = db_url.startswith("postgresql")
    days = 365
    cutoff = NOW - timedelta(days=days)
    gone_month = period_start(cutoff - timedelta(days=62), "month")
    edge_month = period_start(cutoff, "month")
    if postgres:  # the old months as partitions of their own, as if made ahead back then
        for table in ("event_log", "access_events"):
            for month in (gone_month, edge_month):
                await create_ahead(seeded, table, "month", month, 0, 1)
    old = [event_at(n, gone_month + timedelta(days=1, minutes=n)) for n in range(300)]
    straddling = [event_at(1000 + n, edge_month + timedelta(minutes=n)) for n in range(200)]
    inside = [event_at(2000, cutoff + timedelta(hours=1))]
    if inside[0]["ts"] >= (edge_month + timedelta(days=28)).isoformat():
        inside = []
    await publish(mosquitto, old + straddling + inside)
    await until(lambda: _count(seeded, AccessEvent, len(old) + len(straddling) + len(inside)),
                     timeout=60)
    edge_end = period_start(edge_month + timedelta(days=32), "month")
    before_edge = await stored_at(seeded, AccessEvent, edge_month, edge_end)

    job = HistoryMaintenance(seeded, Retention(days, days), batch_rows=50)
    live = [event_at(5000 + n, NOW + timedelta(milliseconds=n)) for n in range(1500)]
    publishing = asyncio.create_task(publish(mosquitto, live))
    reports = []
    while not publishing.done() or not reports:
        reports.append(await job.run_once())
    await publishing
    await until(lambda: _settled(seeded, live), timeout=60)
    reports.append(await job.run_once())
    assert await stored_at(seeded, AccessEvent, gone_month, edge_month) == 0
    assert await stored_at(seeded, EventLog, gone_month, edge_month) == 0
    assert await stored_at(seeded, AccessEvent, NOW, NOW + timedelta(days=1)) == len(live)
    assert await stored_at(seeded, EventLog, NOW, NOW + timedelta(days=1)) == len(live)
    if postgres:
        # the month the cutoff falls in is kept whole, rows before the cutoff too
        assert await stored_at(seeded, AccessEvent, edge_month, edge_end) == before_edge
        dropped = {name for r in reports for name in r.dropped}
        assert dropped == {partition_name(t, gone_month) for t in ("event_log", "access_events")}
        assert partition_name("access_events", edge_month) in await partitions_of(
            seeded, "access_events")
        assert await stored_at(seeded, AccessEvent, edge_month, NOW + timedelta(days=1)) == (
            len(straddling) + len(inside) + len(live))
    else:
        # SQLite deletes row by row in batches: what is older than the cutoff goes
        assert await stored_at(seeded, AccessEvent, edge_month, cutoff) == 0
        assert await stored_at(seeded, AccessEvent, cutoff, edge_end) == before_edge - len(
            [e for e in straddling if e["ts"] < cutoff.isoformat()])
        assert sum(r.deleted.get("access_events", 0) for r in reports) >= len(old)


async def _settled(sessions: async_sessionmaker[AsyncSession],
                   live: list[dict[str, Any]]) -> bool:
    return await stored_at(sessions, AccessEvent, NOW, NOW + timedelta(days=1)) == len(live)
