"""hub.liveness on SQLite and PostgreSQL: which state messages count, and the silence sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.liveness import SilenceSweep, record_states, sweep_silent
from hub.models import Edge, Site
from hub.mqtt import Message
from wire import EdgeState, topics

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def state(status: str, at: float, *, retain: bool = False, edge: str = "e1",
          keepalive: int | None = 10) -> tuple[Message, topics.TopicParts, EdgeState]:
    topic = topics.state("demo", edge)
    message = Message(topic, b"", 1, retain, 1, 0, (T0 + timedelta(seconds=at)).timestamp())
    return message, topics.parse(topic), EdgeState(
        status=status, agent_version="1.0", keepalive_s=keepalive)  # type: ignore[arg-type]


async def record(sessions: async_sessionmaker[AsyncSession], *items: tuple[Message, topics.TopicParts, EdgeState]
                 ) -> tuple[list[str], list[str]]:
    async with sessions() as session, session.begin():
        changes, unknown = await record_states(session, items, T0)
    return [s.status for _, _, s in changes], [p.edge for _, p, _ in unknown]


async def edge(sessions: async_sessionmaker[AsyncSession]) -> Edge:
    async with sessions() as session:
        found = await session.scalar(select(Edge).where(Edge.name == "e1"))
        assert found is not None
        return found


async def test_only_changes_go_on_and_old_or_retained_words_do_not_count(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        session.add(Site(id="demo", name="Demo", timezone="Asia/Shanghai"))
        await session.flush()
        session.add(Edge(site_id="demo", name="e1"))
    assert await record(sessions, state("online", 0)) == (["online"], [])
    assert await record(sessions, state("online", 5)) == ([], [])  # a heartbeat: no change
    row = await edge(sessions)
    assert row.last_seen == T0 + timedelta(seconds=5)
    assert row.silent_at == T0 + timedelta(seconds=5 + 12.5)  # 1.25 keepalives
    # a worker that lags replays an older will after the newer heartbeat: ignored
    assert await record(sessions, state("offline", 3)) == ([], [])
    # a retained "online" handed over on subscribing says nothing about now
    assert await record(sessions, state("online", 60, retain=True)) == ([], [])
    assert (await edge(sessions)).last_seen == T0 + timedelta(seconds=5)
    # the will (retained or not) counts; so does the same edge back, in order, in one batch
    assert await record(sessions, state("offline", 20, retain=True),
                        state("online", 21)) == (["offline", "online"], [])
    assert await record(sessions, state("online", 22, edge="stranger")) == ([], ["stranger"])


async def test_the_sweep_counts_a_silent_edge_offline_once_and_waits_after_a_start(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        session.add(Site(id="demo", name="Demo", timezone="Asia/Shanghai"))
        await session.flush()
        session.add_all([Edge(site_id="demo", name="e1"), Edge(site_id="demo", name="e2")])
    await record(sessions, state("online", 0), state("online", 0, edge="e2", keepalive=None))
    long_ago = T0 - timedelta(hours=1)
    async with sessions() as session, session.begin():
        # before 1.25 keepalives: nothing; a worker that just started waits as long again
        assert await sweep_silent(session, T0 + timedelta(seconds=12), long_ago) == []
        assert await sweep_silent(session, T0 + timedelta(seconds=13), T0 + timedelta(seconds=5)) == []
        gone = await sweep_silent(session, T0 + timedelta(seconds=13), long_ago)
        again = await sweep_silent(session, T0 + timedelta(seconds=14), long_ago)
    # e2 never said its keepalive: only its will can tell
    assert [(e, s.status, s.keepalive_s) for _, e, s in gone] == [("e1", "offline", 10)]
    assert again == []
    assert (await edge(sessions)).status == "offline"


async def test_a_worker_behind_on_its_queue_does_not_sweep(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """Behind a backlog the edges' heartbeats wait in the broker's queue: silence then says
    nothing, and a worker that lags leaves the counting to the others (or to itself later)."""
    async with sessions() as session, session.begin():
        session.add(Site(id="demo", name="Demo", timezone="Asia/Shanghai"))
        await session.flush()
        session.add(Edge(site_id="demo", name="e1"))
    await record(sessions, state("online", 0))  # silent since T0 + 12.5 s, long past now
    caught_up = [False]
    sweep = SilenceSweep(sessions, 1.0, caught_up=lambda: caught_up[0])
    sweep._since = T0 - timedelta(hours=1)  # a worker up for long
    await sweep.run_once()
    assert (sweep.skipped, sweep.counted_offline) == (1, 0)
    assert (await edge(sessions)).status == "online"
    caught_up[0] = True
    await sweep.run_once()
    assert sweep.counted_offline == 1 and (await edge(sessions)).status == "offline"
