"""Visitor pass uses recorded from access events: once per event, redeliveries change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from hub.credentials.uses import record_pass_uses
from hub.models import Building, Site, Unit, VisitorPass
from hub.schema import metadata

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def row(event_id: str, credential: str, result: str = "granted") -> dict[str, Any]:
    return {"id": event_id, "credential": credential, "result": result, "door": "B1-main",
            "ts": NOW}


async def test_uses_counted_once_per_event(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = async_sessionmaker(engine)
    async with sessions() as session, session.begin():
        session.add(Site(id="s", name="S"))
        session.add(Building(id=1, site_id="s", code="B1", name="B1"))
        session.add(Unit(id=1, building_id=1, number="101"))
        session.add(VisitorPass(id=7, site_id="s", unit_id=1, visitor_name="V",
                                visitor_phone="139", valid_from=NOW,
                                valid_until=NOW + timedelta(hours=1), max_uses=3,
                                share_code="x"))
    batch = [row("e1", "pass:7"), row("e2", "pass:7", "denied"), row("e3", "pass:99"),
             row("e4", "1001"), row("e5", "pass:abc")]
    for _ in range(2):  # the broker redelivers the same batch
        async with sessions() as session, session.begin():
            await record_pass_uses(session, batch)
    async with sessions() as session, session.begin():
        await record_pass_uses(session, [row("e6", "pass:7")])
    async with sessions() as session:
        vp = await session.get(VisitorPass, 7)
        assert vp is not None and vp.uses == 2
    await engine.dispose()
