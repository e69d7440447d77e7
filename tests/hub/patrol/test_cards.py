"""Door readers in checkpoint mode, on SQLite and PostgreSQL: a guard's card at a checkpoint's
door records the checkpoint in the guard's open round once, whatever the broker redelivers;
a resident's card there, or the guard's card at another door, records nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import Door, Edge, Site, User
from hub.patrol.cards import record_card_readings
from hub.patrol.models import Checkpoint, GuardCard, Reading, Round, Route, RouteStop
from hub.patrol.rounds import start_round

T0 = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)


def access(event_id: str, door: str, card: str, at: datetime) -> dict[str, Any]:
    return {"id": event_id, "site_id": "demo", "edge": "e1", "door": door, "ts": at,
            "credential_type": "card", "credential": card, "result": "denied"}


async def test_a_guards_card_at_a_checkpoint_door_is_a_reading_once(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        session.add(Site(id="demo", name="Demo", timezone="Asia/Shanghai"))
        await session.flush()
        edge = Edge(site_id="demo", name="e1")
        wang = User(username="wang", password_hash="-", role="guard", site_id="demo")
        session.add_all([edge, wang])
        await session.flush()
        gate = Door(site_id="demo", edge_id=edge.id, name="B1-main")
        other = Door(site_id="demo", edge_id=edge.id, name="B1-garage")
        session.add_all([gate, other, GuardCard(site_id="demo", user_id=wang.id,
                                                card_number="777")])
        await session.flush()
        cp = Checkpoint(site_id="demo", code="CP1", name="Main gate", kind="door",
                        door_id=gate.id)
        route = Route(site_id="demo", code="night-a", name="Night A")
        session.add_all([cp, route])
        await session.flush()
        session.add(RouteStop(route_id=route.id, position=1, checkpoint_id=cp.id,
                              allowance_s=600))
        await session.flush()
        await start_round(session, route, "wang", T0)
    at = T0 + timedelta(minutes=3)
    rows = [access("ev-1", "B1-garage", "777", at), access("ev-2", "B1-main", "1001", at),
            access("ev-3", "B1-main", "777", at)]
    for expected in (1, 0):  # the broker redelivers the batch: nothing doubled
        async with sessions() as session, session.begin():
            assert await record_card_readings(session, rows, at) == expected
    async with sessions() as session:
        readings = list(await session.scalars(select(Reading)))
        assert [(r.id, r.method, r.guard, r.ts) for r in readings] == [
            ("ev-3", "card", "wang", at)]
        assert (await session.scalar(select(Round.state))) == "completed"
