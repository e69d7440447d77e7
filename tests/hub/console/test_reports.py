"""The report figures behind the charts, on SQLite and PostgreSQL, limited to the scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.core.scope import Scope
from hub.console.reports import alarms_by_type, resolution_times, traffic_by_door_hour
from hub.models import AccessEvent, EventLog
from hub.rules.models import Alarm
from hub.workorders.models import WorkOrder

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 17:30 in Asia/Shanghai (the sites' zone)
MANAGER = Scope(user_id=1, role="manager", site_id="sunrise", household_id=None)


async def _access(session: AsyncSession, n: int, site: str, door: str, ts: datetime) -> None:
    event_id = f"0190dddd-0000-7000-8000-{n:012d}"
    session.add(EventLog(id=event_id, kind="access", site_id=site, edge="e", device=door, seq=n,
                         ts=ts, data={}))
    await session.flush()
    session.add(AccessEvent(id=event_id, site_id=site, edge="e", door=door, ts=ts,
                            credential_type="card", credential="1", result="granted",
                            reason="granted", decision_us=5))


async def test_traffic_per_door_per_local_hour(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await _access(session, 1, "sunrise", "B1-main", NOW - timedelta(minutes=20))  # 17:10
        await _access(session, 2, "sunrise", "B1-main", NOW - timedelta(minutes=25))
        await _access(session, 3, "sunrise", "B1-garage", NOW - timedelta(hours=2))  # 15:30
        await _access(session, 4, "moonbay", "M1-main", NOW)  # another site: not counted
        await _access(session, 5, "sunrise", "B1-main", NOW - timedelta(hours=30))  # too old
    async with sessions() as session:
        chart = await traffic_by_door_hour(session, MANAGER, NOW)
    # the sites share Asia/Shanghai; the last bar is the current hour
    assert chart.zone == "Asia/Shanghai" and chart.labels[-1] == "17" and chart.total == 3
    counts = {s.name: {chart.labels[i]: v for i, v in enumerate(s.values) if v} for s in chart.series}
    assert counts == {"B1-garage": {"15": 1.0}, "B1-main": {"17": 2.0}}
    assert "<title>B1-main 17: 2</title>" in chart.svg


async def test_alarms_by_type_and_resolution_times(sessions: async_sessionmaker[AsyncSession]
                                                   ) -> None:
    async with sessions() as session, session.begin():
        for n, (site, kind) in enumerate([("sunrise", "door_forced_open"),
                                          ("sunrise", "door_forced_open"),
                                          ("sunrise", "fire_alarm"), ("moonbay", "fire_alarm")]):
            session.add(Alarm(site_id=site, type=kind, severity="critical", dedup_key=f"k{n}",
                              message="m", state="active", first_seen=NOW, last_seen=NOW,
                              raised_at=NOW - timedelta(hours=1)))
        for n, hours in enumerate([0.5, 2, 3, 30, None]):
            opened = NOW - timedelta(hours=40)
            session.add(WorkOrder(
                site_id="sunrise", kind="manual", source="manager", title=f"o{n}", skill="x",
                priority="normal", state="resolved" if hours else "open", created_at=opened,
                due_at=opened + timedelta(days=2),
                resolved_at=opened + timedelta(hours=hours) if hours else None))
    async with sessions() as session:
        alarms = await alarms_by_type(session, MANAGER, NOW - timedelta(days=30), str.upper)
        orders = await resolution_times(session, MANAGER, NOW - timedelta(days=30), str)
    assert alarms.rows == [("DOOR_FORCED_OPEN", 2.0), ("FIRE_ALARM", 1.0)]
    assert orders.rows == [("lt1h", 1.0), ("1to4h", 2.0), ("4to24h", 0.0), ("1to3d", 1.0),
                           ("gt3d", 0.0)]
    assert (orders.total, orders.note) == (4.0, "2.5")  # the median of 0.5, 2, 3, 30 hours
    assert "DOOR_FORCED_OPEN" in alarms.svg
