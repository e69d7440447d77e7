"""Vehicle reports (issue 17): entries and exits per hour of the site's day, and the vehicles
inside longer than N days, as JSON and CSV. SQLite and PostgreSQL (the fixtures' params)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import EventIdOutlier, EventLog, utcnow
from hub.vehicles.models import VehicleStay
from wire import new_event_id

Client = TestClient[Any, Any]
_seq = itertools.count(1)
# 08:xx and 09:xx in Shanghai (the sites' default zone)
H8 = datetime(2026, 12, 1, 0, 10, tzinfo=UTC)
H9 = datetime(2026, 12, 1, 1, 5, tzinfo=UTC)


def event(ts: datetime, direction: str, result: str = "open", site: str = "sunrise",
          household: int | None = 7, offline: bool = False) -> EventLog:
    return EventLog(id=new_event_id(ts), kind="vehicle", site_id=site, edge="edge-b1",
                    device="gate", seq=next(_seq), ts=ts, data={
                        "lane": "gate", "direction": direction, "plate": "粤B12345",
                        "confidence": 0.9, "result": result, "reason": "resident",
                        "household_id": household, "decision_us": 10, "offline": offline})


async def test_entries_and_exits_per_hour_in_the_sites_time(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        session.add_all([
            event(H8, "entry"), event(H8 + timedelta(minutes=5), "entry", household=None),
            event(H8 + timedelta(minutes=9), "entry", result="refused"),
            event(H8 + timedelta(minutes=20), "exit"),
            event(H8 + timedelta(minutes=30), "entry", result="held", offline=True),  # late
            event(H9, "exit"), event(H9, "entry", site="moonbay"),  # another site
        ])
    window = "since=2026-11-30T00:00:00Z&until=2026-12-02T00:00:00Z"
    resp = await client.get(f"/api/v1/reports/vehicle-traffic?site_id=sunrise&{window}",
                            headers=auth)
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert [(i["hour"], i["entries"], i["exits"], i["refused"], i["temporary"])
            for i in items] == [("2026-12-01T08:00:00+08:00", 2, 1, 1, 1),
                                ("2026-12-01T09:00:00+08:00", 0, 1, 0, 0)]
    csv = await client.get(
        f"/api/v1/reports/vehicle-traffic?site_id=sunrise&{window}&format=csv", headers=auth)
    assert csv.status == 200 and csv.content_type == "text/csv"
    lines = (await csv.text()).splitlines()
    assert lines[0] == "site_id,hour,entries,exits,refused,temporary"
    assert lines[1] == "sunrise,2026-12-01T08:00:00+08:00,2,1,1,1"
    outside = await client.get("/api/v1/reports/vehicle-traffic?site_id=sunrise"
                               "&since=2026-12-02T00:00:00Z", headers=auth)
    assert (await outside.json())["items"] == []


async def test_overstays_lists_the_vehicles_inside_longer_than_n_days(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        for plate, days, left in (("粤B00005", 5, False), ("粤B00002", 2, False),
                                  ("粤B00009", 9, True)):
            session.add(VehicleStay(
                entry_event_id=new_event_id(), site_id="sunrise", plate=plate, lane="gate",
                reason="temporary", household_id=None, pass_id=None,
                entered_at=now - timedelta(days=days), left_at=now if left else None))
    resp = await client.get("/api/v1/reports/vehicle-overstays?site_id=sunrise", headers=auth)
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert [(i["plate"], round(i["days_inside"])) for i in items] == [("粤B00005", 5)]
    more = await client.get("/api/v1/reports/vehicle-overstays?days=1&format=csv",
                            headers=auth)
    lines = (await more.text()).splitlines()
    assert lines[0] == "site_id,plate,lane,reason,household_id,entered_at,days_inside"
    assert [line.split(",")[1] for line in lines[1:]] == ["粤B00005", "粤B00002"]
    bad = await client.get("/api/v1/reports/vehicle-overstays?days=0", headers=auth)
    assert bad.status == 422 and "days" in await bad.text()


async def test_a_misread_plate_is_corrected_and_the_correction_logged(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    """The guard corrects what the lane read: the entry's stay takes the real plate, the real
    plate's exit ends it, the decisions list shows the correction, and the log keeps who and
    why; refusals name their field and change nothing."""
    entered = event(H8, "entry", household=None)
    entered.data = {**entered.data, "plate": "粤B1234S", "reason": "temporary"}
    left = event(H9, "exit")
    left.data = {**left.data, "plate": "粤8I2345"}
    entry_id, exit_id = entered.id, left.id  # read before the commit expires the rows
    async with sessions() as session, session.begin():
        session.add_all([entered, left])
        session.add(VehicleStay(entry_event_id=entry_id, site_id="sunrise", plate="粤B1234S",
                                lane="gate", reason="temporary", household_id=None,
                                pass_id=None, entered_at=H8))
    same = await client.post(f"/api/v1/vehicles/decisions/{entry_id}/correct", headers=auth,
                             json={"plate": "粤B1234S", "reason": "x"})
    assert same.status == 422 and "plate" in await same.text()
    unknown = await client.post("/api/v1/vehicles/decisions/nope/correct", headers=auth,
                                json={"plate": "粤B12345", "reason": "x"})
    assert unknown.status == 404
    fixed = await client.post(f"/api/v1/vehicles/decisions/{entry_id}/correct", headers=auth,
                              json={"plate": "粤B12345", "reason": "看照片是 5 不是 S"})
    assert fixed.status == 201, await fixed.text()
    body = await fixed.json()
    assert (body["read_plate"], body["plate"], body["corrected_by"]) == (
        "粤B1234S", "粤B12345", "admin")
    inside = await (await client.get("/api/v1/vehicles/inside", headers=auth)).json()
    assert [i["plate"] for i in inside["items"]] == ["粤B12345"]
    out = await client.post(f"/api/v1/vehicles/decisions/{exit_id}/correct", headers=auth,
                            json={"plate": "粤B12345", "reason": "出口识别错误"})
    assert out.status == 201
    inside = await (await client.get("/api/v1/vehicles/inside", headers=auth)).json()
    assert inside["items"] == []
    decisions = await (await client.get("/api/v1/vehicles/decisions", headers=auth)).json()
    assert {d["id"]: d["corrected_plate"] for d in decisions["items"]} == {
        entry_id: "粤B12345", exit_id: "粤B12345"}


async def test_a_decision_stored_far_from_its_ids_time_is_still_corrected(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    """The look by id is bounded by the time its UUIDv7 carries (tests/hub/test_event_by_id.py
    shows the plan); an edge whose clock was off stored its decision far from that time, and
    the ingest kept the id among the outliers: the correction finds it all the same."""
    entered = event(H8, "entry", household=None)
    entered.id = new_event_id(H8 + timedelta(days=40))  # the edge's clock ran 40 days ahead
    entered.data = {**entered.data, "plate": "粤B1234S", "reason": "temporary"}
    entry_id = entered.id
    async with sessions() as session, session.begin():
        session.add(entered)
        session.add(EventIdOutlier(id=entry_id, ts=H8))
    fixed = await client.post(f"/api/v1/vehicles/decisions/{entry_id}/correct", headers=auth,
                              json={"plate": "粤B12345", "reason": "看照片是 5 不是 S"})
    assert fixed.status == 201, await fixed.text()
    assert (await fixed.json())["event_id"] == entry_id
    unknown = await client.post(f"/api/v1/vehicles/decisions/{new_event_id(H8)}/correct",
                                headers=auth, json={"plate": "粤B12345", "reason": "x"})
    assert unknown.status == 404
