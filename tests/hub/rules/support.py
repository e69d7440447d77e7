"""Events as the ingest stores them, and a rules engine over a test database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import Building, Edge, Site
from hub.rules.engine import RuleEngine
from hub.rules.models import Alarm
from wire import new_event_id

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
_seq = itertools.count(1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(kind: str, data: dict[str, Any], *, ts: datetime, device: str = "dev-1",
        site: str = "demo", edge: str = "b1-edge") -> dict[str, Any]:
    """An event_log row, as the ingest hands it to the rules."""
    return {"id": new_event_id(), "kind": kind, "site_id": site, "edge": edge,
            "device": device, "seq": next(_seq), "ts": ts, "received_at": ts, "data": data}


def door(event: str, ts: datetime, door: str = "B1-main") -> dict[str, Any]:
    return row("door", {"door": door, "event": event}, ts=ts, device=door)


def denied(ts: datetime, door: str = "B1-main", card: str = "9999") -> dict[str, Any]:
    return row("access", {"door": door, "credential_type": "card", "credential": card,
                          "result": "denied", "reason": "unknown_card", "decision_us": 100},
               ts=ts, device=door)


def device(event: str, ts: datetime, name: str = "lift-1", device_type: str = "elevator",
           **data: Any) -> dict[str, Any]:
    return row("device", {"device_type": device_type, "model": "m", "event": event, **data},
               ts=ts, device=name)


def telemetry(readings: dict[str, Any], ts: datetime, name: str = "pump-1",
              device_type: str = "pressure_sensor") -> dict[str, Any]:
    return row("telemetry", {"device_type": device_type, "model": "m",
                             "readings": [{"name": k, "value": v, "unit": None}
                                          for k, v in readings.items()]}, ts=ts, device=name)


async def seed_site(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Site demo, building B1, edge b1-edge; returns the building id."""
    async with sessions() as session, session.begin():
        session.add(Site(id="demo", name="Demo"))
        await session.flush()
        building = Building(site_id="demo", code="B1", name="1号楼")
        session.add(building)
        await session.flush()
        session.add(Edge(site_id="demo", name="b1-edge", building_id=building.id))
        return building.id


async def feed(engine: RuleEngine, sessions: async_sessionmaker[AsyncSession],
               *rows: dict[str, Any]) -> None:
    async with sessions() as session, session.begin():
        after = await engine.evaluate(session, list(rows))
    if after is not None:
        await after()


async def alarms(sessions: async_sessionmaker[AsyncSession]) -> list[Alarm]:
    async with sessions() as session:
        return list(await session.scalars(select(Alarm).order_by(Alarm.id)))
