"""Guard patrol on SQLite and PostgreSQL: a round completed; a skipped checkpoint's alarm on
time (the sweep driven by a hand-moved clock, twice: one alarm); an offline round synced
later (in any order, resent, nothing doubled); forged and replayed readings refused."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.live import Listener, LiveBus
from hub.models import Site, User
from hub.patrol.models import Checkpoint, GuardKey, Reading, Round, Route, RouteStop
from hub.patrol.proof import display_code, reading_bytes, step_of
from hub.patrol.rounds import (
    ReadingIn,
    ReadingRefused,
    record_reading,
    refusal_alarm,
    start_round,
)
from hub.patrol.sweep import PatrolSweep
from hub.rules.clock import ManualClock
from hub.rules.models import Alarm

T0 = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]
PHONE = Ed25519PrivateKey.generate()


async def setup(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        session.add(Site(id="demo", name="Demo", timezone="Asia/Shanghai"))
        await session.flush()
        wang = User(username="wang", password_hash="-", role="guard", site_id="demo")
        route = Route(site_id="demo", code="night-a", name="Night A", name_zh="夜班A线")
        session.add_all([wang, route])
        for n in (1, 2, 3):
            session.add(Checkpoint(site_id="demo", code=f"CP{n}", name=f"Gate {n}",
                                   kind="display", secret=f"{n:02d}" * 20))
        await session.flush()
        key = PHONE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        session.add(GuardKey(user_id=wang.id, public_key=base64.b64encode(key).decode()))
        for n, cp in enumerate(await session.scalars(select(Checkpoint).order_by(Checkpoint.code)), 1):
            session.add(RouteStop(route_id=route.id, position=n, checkpoint_id=cp.id,
                                  allowance_s=600))


def signed(round_id: int, cp: str, ts: datetime, *, reading_id: str | None = None,
           key: Ed25519PrivateKey = PHONE, code: str | None = None) -> ReadingIn:
    n = int(cp[2:])
    code = code or display_code(f"{n:02d}" * 20, "demo", cp, step_of(ts))
    reading_id = reading_id or str(uuid.uuid4())
    sig = key.sign(reading_bytes("demo", round_id, cp, code, ts, reading_id))
    return ReadingIn(id=reading_id, checkpoint=cp, ts=ts, code=code,
                     signature=base64.b64encode(sig).decode())


async def begin(sessions: Sessions, at: datetime) -> int:
    async with sessions() as session, session.begin():
        route = await session.scalar(select(Route))
        assert route is not None
        return (await start_round(session, route, "wang", at)).id


async def post(sessions: Sessions, round_id: int, reading: ReadingIn, now: datetime) -> bool:
    async with sessions() as session, session.begin():
        round_ = await session.get(Round, round_id)
        assert round_ is not None
        return (await record_reading(session, round_, "wang", reading, now))[1]


async def alarms(sessions: Sessions) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        return [(a.type, a.dedup_key, a.state) for a in await session.scalars(
            select(Alarm).order_by(Alarm.id))]


async def round_state(sessions: Sessions, round_id: int) -> tuple[str, list[tuple[int, bool, bool]]]:
    async with sessions() as session:
        round_ = await session.get(Round, round_id)
        assert round_ is not None
        rows = await session.scalars(select(Reading).where(Reading.round_id == round_id)
                                     .order_by(Reading.ts))
        return round_.state, [(r.position, r.late, r.out_of_order) for r in rows]


async def test_a_round_completed_with_late_and_out_of_order_flagged(sessions: Sessions) -> None:
    await setup(sessions)
    rid = await begin(sessions, T0)
    clock = ManualClock(T0)
    sweep = PatrolSweep(sessions, clock=clock)
    for cp, minutes in (("CP1", 5), ("CP3", 12), ("CP2", 25)):
        clock.advance(minutes * 60 - (clock.now() - T0).total_seconds())
        assert await post(sessions, rid, signed(rid, cp, clock.now()), clock.now())
        assert await sweep.run_once() == []
    # CP2 was due at 20 min: late; read after CP3: out of order
    assert await round_state(sessions, rid) == ("completed", [(1, False, False), (3, False, False),
                                                              (2, True, True)])
    clock.advance(3600)
    assert await sweep.run_once() == [] and await alarms(sessions) == []


async def test_a_skipped_checkpoint_raises_its_alarm_at_the_deadline_once(sessions: Sessions) -> None:
    await setup(sessions)
    rid = await begin(sessions, T0)
    clock = ManualClock(T0 + timedelta(minutes=5))
    assert await post(sessions, rid, signed(rid, "CP1", clock.now()), clock.now())
    # wang walks past CP2 to CP3: the guard is moving, so no stalled alarm yet
    clock.advance(10 * 60)
    assert await post(sessions, rid, signed(rid, "CP3", clock.now()), clock.now())
    one, two = PatrolSweep(sessions, clock=clock), PatrolSweep(sessions, clock=clock)
    assert await one.run_once() == []
    clock.advance(14 * 60 + 59)  # 29:59: a second before the deadline (30 min)
    assert await one.run_once() == []
    clock.advance(1)
    opened = await one.run_once() + await two.run_once()  # two hub workers: one alarm
    assert len(opened) == 1
    assert await alarms(sessions) == [("patrol_missed", f"patrol:{rid}:2:missed", "active")]
    assert (await round_state(sessions, rid))[0] == "incomplete"


async def test_a_guard_who_stops_moving_raises_an_alarm(sessions: Sessions) -> None:
    await setup(sessions)
    rid = await begin(sessions, T0)
    clock = ManualClock(T0 + timedelta(minutes=3))
    assert await post(sessions, rid, signed(rid, "CP1", clock.now()), clock.now())
    live = LiveBus()
    console = Listener(role="guard", user_id=7, channels=frozenset({"alarms"}), site_id="demo")
    live.listen(console)
    sweep = PatrolSweep(sessions, clock=clock, live=live)
    clock.advance(10 * 60)  # 10 min after CP1 exactly: CP2's allowance not yet exceeded
    assert await sweep.run_once() == []
    clock.advance(1)
    assert len(await sweep.run_once()) == 1
    assert await sweep.run_once() == []
    assert await alarms(sessions) == [("patrol_stalled", f"patrol:{rid}:2:stalled", "active")]
    pushed = console.queue.get_nowait()  # the guard's console hears of it at once
    assert pushed.data["alarm"]["type"] == "patrol_stalled" and console.queue.empty()


async def test_an_offline_round_synced_later_in_any_order_nothing_doubled(sessions: Sessions) -> None:
    await setup(sessions)
    rid = await begin(sessions, T0)
    queue = [signed(rid, cp, T0 + timedelta(minutes=m)) for cp, m in
             (("CP1", 4), ("CP2", 9), ("CP3", 15))]
    clock = ManualClock(T0 + timedelta(minutes=31))
    # the phone was offline past the deadline: the sweep counts all three missed
    assert len(await PatrolSweep(sessions, clock=clock).run_once()) == 3
    for reading in (queue[2], queue[0], queue[1], queue[0]):  # out of order, and a resend
        await post(sessions, rid, reading, clock.now())
    state, readings = await round_state(sessions, rid)
    assert state == "completed"
    assert readings == [(1, False, False), (2, False, False), (3, False, False)]
    # each missed alarm is cleared by its reading synced later
    assert [s for _, _, s in await alarms(sessions)] == ["cleared"] * 3


async def test_forged_copied_and_replayed_readings_are_refused(sessions: Sessions) -> None:
    await setup(sessions)
    rid = await begin(sessions, T0)
    now = T0 + timedelta(minutes=5)
    thief = Ed25519PrivateKey.generate()
    photo = display_code("01" * 20, "demo", "CP1", step_of(T0 - timedelta(minutes=30)))
    for bad, why in ((signed(rid, "CP1", now, key=thief), "signature"),
                     (signed(rid, "CP1", now, code=photo), "code"),
                     (ReadingIn(id="x", checkpoint="CP1", ts=now), "no code")):
        with pytest.raises(ReadingRefused, match=why):
            await post(sessions, rid, bad, now)
    good = signed(rid, "CP1", now, reading_id="r-1")
    assert await post(sessions, rid, good, now)
    assert not await post(sessions, rid, good, now)  # resent: stored once
    with pytest.raises(ReadingRefused, match="replay"):
        await post(sessions, rid, signed(rid, "CP2", now, reading_id="r-1"), now)
    async with sessions() as session, session.begin():
        await refusal_alarm(session, "demo", "wang", "replay", now)
    assert await alarms(sessions) == [("patrol_reading_refused", "patrol:refused:wang",
                                       "active")]
