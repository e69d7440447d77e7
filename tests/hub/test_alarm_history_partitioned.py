"""Alarms' history partitioned by month (PostgreSQL) with its retention (both engines): the
months made ahead, an alarm's steps read from the months of its life only, an old month
dropped while alarms keep being raised (none lost that should stay), cleared alarms leaving
with their history and open ones staying; and the home-security panel's event query pruned."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.history.ddl import partition_name, period_start
from hub.history.maintenance import HistoryMaintenance, Retention
from hub.history.partitions import create_ahead
from hub.homesec.models import SecurityPanel
from hub.homesec.service import panel_events_since
from hub.ingest import Ingest, hub_subscriptions
from hub.mqtt import MqttClient
from hub.rules import alarms as ops
from hub.rules.engine import RuleEngine
from hub.rules.loader import load_rules
from hub.rules.models import Alarm, AlarmComment, AlarmHistory
from hub.seed import seed_demo
from tests.hub.support import access_event, dumps, edge_client, event_topic
from tests.support.services import MosquittoServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
NOW = datetime.now(UTC)
RETENTION_DAYS = 365


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await seed_demo(sessions)
    return sessions


def month_after(month: datetime) -> datetime:
    return period_start(month + timedelta(days=32), "month")


async def raise_one(sessions: async_sessionmaker[AsyncSession], key: str, at: datetime, *,
                    cleared_after: timedelta | None = None, comment: bool = False) -> int:
    """An alarm raised at `at` (hub time), cleared `cleared_after` later if given."""
    async with sessions() as session, session.begin():
        [(alarm, created)] = await ops.raise_alarms(session, [ops.AlarmRaise(
            site_id="demo", dedup_key=key, type="door_forced", severity="high",
            message=f"forced {key}", ts=at)], at)
        assert created
        if comment:
            session.add(AlarmComment(alarm_id=alarm.id, ts=at, author="guard", text="seen"))
        if cleared_after is not None:
            assert await ops.clear(session, alarm, "guard", "done", at + cleared_after)
        return alarm.id


async def steps(sessions: async_sessionmaker[AsyncSession], alarm_id: int) -> list[str]:
    async with sessions() as session:
        alarm = await session.get(Alarm, alarm_id)
        assert alarm is not None
        return [s.action for s in await ops.history(session, alarm)]


async def partitions_of(sessions: async_sessionmaker[AsyncSession], table: str) -> set[str]:
    async with sessions() as session:
        return set(await session.scalars(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:t AS regclass)"), {"t": table}))


async def plan_of(session: AsyncSession, stmt: Any) -> str:
    compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    return "\n".join(row[0] for row in await session.execute(text(f"EXPLAIN {compiled}")))


def scanned(plan: str, table: str) -> set[str]:
    return set(re.findall(rf"on ({table}_\w+)", plan))


async def test_months_are_made_ahead_and_an_alarms_steps_are_read_from_its_months_only(
    seeded: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    """The job makes this month and the next three of alarm_history; an alarm's steps (raised,
    acknowledged, cleared) read back whole, and on PostgreSQL the read of an alarm raised and
    cleared in one month plans that month's partition alone."""
    job = HistoryMaintenance(seeded, Retention(None, None, None), ahead=3)
    report = await job.run_once()
    old_month = period_start(NOW - timedelta(days=100), "month")
    old_at = old_month + timedelta(days=10)
    if db_url.startswith("postgresql"):
        months = [period_start(NOW, "month")]
        while len(months) < 4:
            months.append(month_after(months[-1]))
        names = await partitions_of(seeded, "alarm_history")
        assert {partition_name("alarm_history", m) for m in months} <= names
        assert "alarm_history_default" in names
        assert not {partition_name("alarm_history", m) for m in months} & set(report.dropped)
        await create_ahead(seeded, "alarm_history", "month", old_month, 0, 1)
    old_id = await raise_one(seeded, "old", old_at, cleared_after=timedelta(hours=2))
    async with seeded() as session, session.begin():
        alarm = await session.get(Alarm, old_id)
        assert alarm is not None
        assert not await ops.acknowledge(session, alarm, "guard", None, NOW)  # cleared: refused
    open_id = await raise_one(seeded, "open", NOW - timedelta(minutes=5))
    async with seeded() as session, session.begin():
        alarm = await session.get(Alarm, open_id)
        assert alarm is not None
        assert await ops.acknowledge(session, alarm, "guard", "on it", NOW)
    assert await steps(seeded, old_id) == ["raised", "cleared"]
    assert await steps(seeded, open_id) == ["raised", "acknowledged"]
    if not db_url.startswith("postgresql"):
        return
    async with seeded() as session:
        alarm = await session.get(Alarm, old_id)
        assert alarm is not None
        plan = await plan_of(session, ops.history_query(alarm))
        where = await session.scalar(text(
            "SELECT DISTINCT tableoid::regclass::text FROM alarm_history WHERE alarm_id = :a"),
            {"a": old_id})
    print(f"\nan alarm's steps:\n{plan}")
    assert scanned(plan, "alarm_history") == {partition_name("alarm_history", old_month)}, plan
    assert where == partition_name("alarm_history", old_month)


async def test_retention_drops_an_old_month_while_alarms_are_raised_and_keeps_the_rest(
    seeded: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    """A month wholly past retention goes (its steps, and its cleared alarms with their
    comments); a month the cutoff falls inside stays whole on PostgreSQL; an alarm still open
    from that old month stays; every alarm raised while the job runs keeps its step."""
    postgres = db_url.startswith("postgresql")
    cutoff = NOW - timedelta(days=RETENTION_DAYS)
    gone_month = period_start(cutoff - timedelta(days=62), "month")
    edge_month = period_start(cutoff, "month")
    if postgres:  # the old months as partitions of their own, as if made ahead back then
        for month in (gone_month, edge_month):
            await create_ahead(seeded, "alarm_history", "month", month, 0, 1)
    gone = [await raise_one(seeded, f"gone-{n}", gone_month + timedelta(days=1, hours=n),
                            cleared_after=timedelta(minutes=30), comment=True)
            for n in range(30)]
    still_open = await raise_one(seeded, "still-open", gone_month + timedelta(days=2))
    straddling = [await raise_one(seeded, f"edge-{n}", edge_month + timedelta(minutes=n),
                                  cleared_after=timedelta(minutes=1)) for n in range(20)]
    before_cutoff = [a for n, a in enumerate(straddling)
                     if edge_month + timedelta(minutes=n + 1) < cutoff]
    # raised in that month before the cutoff, cleared after it: kept
    spanning = await raise_one(seeded, "spanning", edge_month + timedelta(seconds=30),
                               cleared_after=cutoff + timedelta(hours=1) - edge_month)

    job = HistoryMaintenance(seeded, Retention(None, None, RETENTION_DAYS), batch_rows=7)
    raised: list[int] = []

    async def keep_raising() -> None:
        for n in range(120):
            raised.append(await raise_one(seeded, f"live-{n}", NOW + timedelta(milliseconds=n)))

    raising = asyncio.create_task(keep_raising())
    reports = []
    while not raising.done() or not reports:
        reports.append(await job.run_once())
    await raising
    reports.append(await job.run_once())

    async with seeded() as session:
        alarms = set(await session.scalars(select(Alarm.id)))
        comments = await session.scalar(select(func.count()).select_from(AlarmComment))
        live_steps = await session.scalar(select(func.count()).select_from(AlarmHistory).where(
            AlarmHistory.alarm_id.in_(raised), AlarmHistory.action == "raised"))
        old_steps = await session.scalar(select(func.count()).select_from(AlarmHistory).where(
            AlarmHistory.ts < edge_month))
        orphans = await session.scalar(select(func.count()).select_from(AlarmHistory).where(
            AlarmHistory.alarm_id.not_in(select(Alarm.id))))
    assert not alarms & set(gone), "cleared alarms past the retention are deleted"
    assert comments == 0  # with their alarms
    assert old_steps == 0
    assert orphans == 0  # a deleted alarm's steps went with it
    assert still_open in alarms  # open: kept, whatever its age
    assert set(raised) <= alarms and live_steps == len(raised)
    assert sum(r.deleted.get("alarms", 0) for r in reports) == len(gone) + len(before_cutoff)
    assert not set(before_cutoff) & alarms  # cleared before the cutoff: gone with the rest
    for alarm_id in set(straddling) - set(before_cutoff):
        assert await steps(seeded, alarm_id) == ["raised", "cleared"]
    assert spanning in alarms
    # PostgreSQL drops whole months only: the step before the cutoff stays in its month;
    # SQLite deletes row by row what is older than the cutoff
    assert await steps(seeded, spanning) == (["raised", "cleared"] if postgres else ["cleared"])
    if postgres:
        dropped = {name for r in reports for name in r.dropped}
        assert dropped == {partition_name("alarm_history", gone_month)}
        names = await partitions_of(seeded, "alarm_history")
        assert partition_name("alarm_history", edge_month) in names
        assert partition_name("alarm_history", period_start(NOW, "month")) in names


@pytest.fixture
async def alarming_ingest(mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession],
                          tmp_path: Path) -> AsyncIterator[Ingest]:
    """The real ingest with the rules engine and a rule raising one alarm per card."""
    (tmp_path / "cards.yaml").write_text("""
rules:
  - name: every-card
    match: {kind: access}
    actions:
      - raise_alarm: {type: card_seen, severity: minor, key: "card:{data.credential}",
                      message: "card {data.credential}"}
""")
    mqtt = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-alarms",
                      subscriptions=hub_subscriptions("hub"))
    rules = RuleEngine(load_rules(tmp_path), seeded)
    async with mqtt, Ingest(seeded, mqtt, rules=rules) as running:
        await mqtt.wait_ready(10)
        yield running


async def test_retention_runs_while_the_rules_raise_alarms_from_the_ingest(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession],
    alarming_ingest: Ingest, db_url: str
) -> None:
    """Events through Mosquitto and the ingest raise alarms (one per card) while the job
    drops an old month of alarm_history: every new alarm has its raise step, the old month
    and its cleared alarms are gone."""
    cutoff = NOW - timedelta(days=RETENTION_DAYS)
    gone_month = period_start(cutoff - timedelta(days=62), "month")
    if db_url.startswith("postgresql"):
        await create_ahead(seeded, "alarm_history", "month", gone_month, 0, 1)
    gone = [await raise_one(seeded, f"gone-{n}", gone_month + timedelta(days=1, hours=n),
                            cleared_after=timedelta(minutes=5)) for n in range(10)]
    events = [access_event(n, card=f"c{n}") for n in range(1, 301)]
    job = HistoryMaintenance(seeded, Retention(None, None, RETENTION_DAYS), batch_rows=3)

    async def publish() -> None:
        async with edge_client(mosquitto.host, mosquitto.port, name="alarm-edge") as edge:
            await edge.wait_ready(10)
            for chunk in range(0, len(events), 50):
                await asyncio.gather(*(edge.publish(event_topic(e), dumps(e), qos=1)
                                       for e in events[chunk:chunk + 50]))

    async def all_raised() -> bool:
        async with seeded() as session:
            return (await session.scalar(select(func.count()).select_from(AlarmHistory).where(
                AlarmHistory.actor == "rule:every-card"))) == len(events)

    publishing = asyncio.create_task(publish())
    reports = []
    async with asyncio.timeout(90):  # the job runs over and over while the ingest raises
        while not publishing.done() or not reports or not await all_raised():
            reports.append(await job.run_once())
    await publishing
    async with seeded() as session:
        keys = set(await session.scalars(select(Alarm.dedup_key).where(
            Alarm.type == "card_seen")))
        left = set(await session.scalars(select(Alarm.id).where(Alarm.id.in_(gone))))
        old_steps = await session.scalar(select(func.count()).select_from(AlarmHistory).where(
            AlarmHistory.ts < cutoff))
    assert keys == {f"card:c{n}" for n in range(1, 301)}
    assert not left and old_steps == 0
    if db_url.startswith("postgresql"):
        assert partition_name("alarm_history", gone_month) in {
            name for r in reports for name in r.dropped}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has no partitions
async def test_the_panels_refused_zones_query_reads_only_the_recent_months(
    seeded: async_sessionmaker[AsyncSession]
) -> None:
    """The arm refusal's zones are looked up by the hub's receive time; the bound on the
    edge's `ts` beside it lets the planner leave out every month before the command's."""
    now_month = period_start(NOW, "month")
    old = period_start(NOW - timedelta(days=150), "month")
    await create_ahead(seeded, "event_log", "month", old, 2, 1)
    panel = SecurityPanel(site_id="demo", edge="b1-edge", device="panel-1")
    since = max(NOW - timedelta(minutes=1), now_month + timedelta(days=8))
    async with seeded() as session:
        plan = await plan_of(session, panel_events_since(panel, since))
    print(f"\nthe panel's events since a command:\n{plan}")
    found = scanned(plan, "event_log")
    assert partition_name("event_log", now_month) in found, plan
    assert not {partition_name("event_log", m) for m in (old, month_after(old))} & found, plan
