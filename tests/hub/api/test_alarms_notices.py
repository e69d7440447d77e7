"""Alarms (filters, paging, lifecycle), notices (who reads which) and reports (JSON, CSV)
through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import AccessEvent, Device, DeviceFault, EventLog
from hub.rules.models import Alarm, Notice
from tests.hub.api.world import World, build_world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
Client = TestClient[Any, Any]
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def world(client: Client, sessions: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(client, sessions)


async def add_alarms(sessions: async_sessionmaker[AsyncSession], site: str,
                     specs: list[dict[str, Any]]) -> list[int]:
    ids = []
    async with sessions() as session, session.begin():
        for i, spec in enumerate(specs):
            raised = spec.pop("raised_at", T0 + timedelta(minutes=i))
            values = {"type": "door_forced_open", "severity": "major", "state": "active",
                      **spec}
            alarm = Alarm(site_id=site, dedup_key=f"k{site}{i}{raised.timestamp()}",
                          message="m", count=1, first_seen=raised, last_seen=raised,
                          raised_at=raised, **values)
            session.add(alarm)
            await session.flush()
            ids.append(alarm.id)
    return ids


async def test_alarm_filters_and_paging(world: World) -> None:
    ids = await add_alarms(world.sessions, "sunrise", [
        {"severity": "critical"}, {"type": "device_fault"}, {},
        {"state": "acknowledged", "acknowledged_at": T0, "acknowledged_by": "g"},
        {"state": "cleared", "cleared_at": T0, "cleared_by": "g"}, {}, {"severity": "critical"},
    ])
    await add_alarms(world.sessions, "moonbay", [{}])
    seen: list[int] = []
    cursor = None
    while True:
        query = "site_id=sunrise&since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00Z&limit=3" + (
            f"&cursor={cursor}" if cursor else "")
        _, page = await world.call("GET", f"/alarms?{query}", "guard", 200)
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, each once
    for query, expected in (
        ("severity=critical&until=2026-11-02T00:00:00Z", [ids[6], ids[0]]),
        ("type=device_fault", [ids[1]]),
        ("state=acknowledged", [ids[3]]),
        ("open=false&since=2026-11-01T00:00:00Z", [ids[4]]),
        ("until=" + (T0 + timedelta(minutes=1)).isoformat().replace("+", "%2B")
         + "&since=2026-11-01T00:00:00Z", [ids[0]]),
    ):
        _, page = await world.call("GET", f"/alarms?{query}", "technician", 200)
        assert [a["id"] for a in page["items"]] == expected, query
    await world.call("GET", "/alarms?site_id=moonbay", "guard", 403)
    _, bad = await world.call("GET", "/alarms?severity=awful&cursor=nope", "guard", 422)
    assert {p["field"] for p in bad["detail"]} == {"severity", "cursor"}


async def test_alarm_lifecycle_by_hand(world: World) -> None:
    [alarm_id] = await add_alarms(world.sessions, "sunrise", [{}])
    await world.call("POST", f"/alarms/{alarm_id}/acknowledge", "technician", 403, json={})
    _, acked = await world.call("POST", f"/alarms/{alarm_id}/acknowledge", "guard", 200,
                                json={"note": "seen"})
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "guard"
    _, again = await world.call("POST", f"/alarms/{alarm_id}/acknowledge", "manager", 409,
                                json={})
    assert "acknowledged" in again["detail"]
    _, again_zh = await world.call("POST", f"/alarms/{alarm_id}/acknowledge", "manager", 409,
                                   json={}, headers={"Accept-Language": "zh-CN"})
    assert again_zh["message"] == "该报警已确认，现在不能再确认。"  # for people, in Chinese
    _, missing = await world.call("GET", "/alarms/999999", "guard", 404,
                                  headers={"Accept-Language": "zh-CN"})
    assert missing["message"] == "找不到报警 999999（可能已被删除）。"
    _, cleared = await world.call("POST", f"/alarms/{alarm_id}/clear", "manager", 200, json={})
    assert cleared["state"] == "cleared" and cleared["cleared_by"] == "manager"
    await world.call("POST", f"/alarms/{alarm_id}/clear", "guard", 409, json={})
    await world.call("POST", f"/alarms/{alarm_id}/comments", "guard", 201,
                     json={"text": "false alarm: wind"})
    _, detail = await world.call("GET", f"/alarms/{alarm_id}", "technician", 200)
    assert [(s["action"], s["actor"], s["note"]) for s in detail["history"]] == [
        ("acknowledged", "guard", "seen"), ("cleared", "manager", None)]
    assert [(c["author"], c["text"]) for c in detail["comments"]] == [
        ("guard", "false alarm: wind")]


async def test_notices_reach_their_audience(world: World) -> None:
    now = datetime.now(UTC)
    building = world.building["home"]
    posted = {}
    for name, extra in (
        ("site", {}),
        ("building", {"building_id": building}),
        ("home", {"unit_id": world.unit["home"]}),
        ("neighbour", {"unit_id": world.unit["neighbour"]}),
        ("future", {"valid_from": (now + timedelta(days=1)).isoformat()}),
    ):
        _, notice = await world.call("POST", "/notices", "manager", 201, json={
            "site_id": "sunrise", "title": name, "body": f"to {name}", **extra})
        posted[name] = notice["id"]
    # one whose validity has ended since it was posted (posting it so is refused, issue 16)
    async with world.sessions() as session, session.begin():
        expired = Notice(site_id="sunrise", title="expired", body="to expired", source="manual",
                         valid_from=now - timedelta(days=2), valid_until=now - timedelta(days=1),
                         created_by="manager", created_at=now - timedelta(days=2))
        session.add(expired)
        await session.flush()
        posted["expired"] = expired.id
    assert (await world.call("GET", f"/notices/{posted['home']}", "admin", 200))[1][
        "building_id"] == building  # a unit's notice names its building too
    _, mine = await world.call("GET", "/notices", "resident", 200)
    titles = {n["title"] for n in mine["items"]}
    assert {"site", "building", "home"} <= titles
    assert not titles & {"neighbour", "expired", "future"}
    await world.call("GET", f"/notices/{posted['neighbour']}", "resident", 404)
    await world.call("GET", f"/notices/{posted['expired']}", "resident", 404)
    _, staff = await world.call("GET", "/notices?site_id=sunrise", "guard", 200)
    assert set(posted.values()) <= {n["id"] for n in staff["items"]}
    _, old = await world.call("GET", "/notices?current=false", "manager", 200)
    assert {posted["expired"], posted["future"]} <= {n["id"] for n in old["items"]}
    assert posted["site"] not in {n["id"] for n in old["items"]}
    # bad notices change nothing
    for body, field in (
        ({"unit_id": world.unit["away"]}, "unit_id"),
        ({"building_id": world.building["away"]}, "building_id"),
        ({"building_id": building, "unit_id": 999_999}, "unit_id"),
        ({"valid_from": now.isoformat(), "valid_until": now.isoformat()}, "valid_until"),
        ({"unit_id": world.unit["home"], "on_boards": True}, "on_boards"),  # a unit's: no board
    ):
        _, answer = await world.call("POST", "/notices", "manager", 422, json={
            "site_id": "sunrise", "title": "t", "body": "b", **body})
        assert [p["field"] for p in answer["detail"]] == [field], answer
    await world.call("POST", "/notices", "guard", 403,
                     json={"site_id": "sunrise", "title": "t", "body": "b"})
    await world.call("DELETE", f"/notices/{posted['site']}", "manager", 204)
    await world.call("GET", f"/notices/{posted['site']}", "resident", 404)


async def test_reports_as_json_and_csv(world: World) -> None:
    await add_alarms(world.sessions, "sunrise", [
        {"raised_at": T0, "acknowledged_at": T0 + timedelta(seconds=30),
         "cleared_at": T0 + timedelta(seconds=300), "state": "cleared"},
        {"raised_at": T0, "acknowledged_at": T0 + timedelta(seconds=90), "state": "acknowledged"},
        {"raised_at": T0, "type": "device_fault", "severity": "minor"},
    ])
    async with world.sessions() as session, session.begin():
        lift = Device(site_id="sunrise", edge="edge-b1", name="lift-r", device_type="elevator",
                      model="elevator-vvvf-a", status="online")
        lift2 = Device(site_id="sunrise", edge="edge-b1", name="lift-s", device_type="elevator",
                       model="elevator-vvvf-a", status="online")
        session.add_all([lift, lift2])
        await session.flush()
        for device, code, cleared in ((lift, "Err41", T0), (lift, "Err30", None),
                                      (lift2, "Err41", None)):
            session.add(DeviceFault(device_id=device.id, code=code, raised_at=T0,
                                    last_raised_at=T0, raise_count=1, cleared_at=cleared))
        for i, (door, reason, card) in enumerate((
                ("B1-main", "unknown_card", "9"), ("B1-main", "unknown_card", "9"),
                ("B1-main", "revoked", "8"), ("B1-garage", "expired", "7"))):
            event_id = f"0190abcd-0000-7000-8000-00000000000{i}"
            session.add(EventLog(id=event_id, kind="access", site_id="sunrise", edge="edge-b1",
                                 device="r", seq=i, ts=T0, data={}))
            await session.flush()
            session.add(AccessEvent(id=event_id, site_id="sunrise", edge="edge-b1", door=door,
                                    ts=T0 + timedelta(seconds=i), credential_type="card",
                                    credential=card, resident_id=None, result="denied",
                                    reason=reason, decision_us=100))
    window = "since=2026-11-01T00:00:00Z&until=2026-11-02T00:00:00Z"
    _, times = await world.call("GET", f"/reports/alarms?{window}", "manager", 200)
    forced = next(r for r in times["items"] if r["type"] == "door_forced_open")
    assert (forced["alarms"], forced["acknowledged"], forced["mean_ack_s"], forced["cleared"],
            forced["mean_clear_s"]) == (2, 2, 60.0, 1, 300.0)
    _, faults = await world.call("GET", f"/reports/faults?{window}", "manager", 200)
    assert [(r["device"], r["faults"], r["open_faults"]) for r in faults["items"]] == [
        ("lift-r", 2, 1), ("lift-s", 1, 1)]
    _, models = await world.call("GET", f"/reports/faults?by=model&{window}", "admin", 200)
    assert [(r["model"], r["devices"], r["faults"]) for r in models["items"]] == [
        ("elevator-vvvf-a", 2, 3)]
    _, denied = await world.call("GET", f"/reports/denied?{window}", "manager", 200)
    assert [(r["door"], r["denied"], r["credentials"], r["top_reason"])
            for r in denied["items"]] == [("B1-main", 3, 2, "unknown_card"),
                                          ("B1-garage", 1, 1, "expired")]
    status, text = await world.call("GET", f"/reports/denied?{window}&format=csv", "manager")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["door"], r["denied"]) for r in rows] == [("B1-main", "3"), ("B1-garage", "1")]
    status, text = await world.call("GET", f"/reports/alarms?{window}", "manager",
                                    headers={"Accept": "text/csv"})
    assert status == 200 and text.splitlines()[0].startswith("type,severity,alarms")
    await world.call("GET", "/reports/denied?site_id=moonbay", "manager", 403)
    await world.call("GET", "/reports/denied", "guard", 403)


async def test_alarm_texts_in_the_readers_language(world: World) -> None:
    """The same stored alarm reads 火灾报警 in Chinese and "Fire alarm" in English; a row
    written before codes (no code) reads as it was written."""
    fault = {"device": "lift-1", "code": "Err41",
             "fault": {"en": "Safety circuit open", "zh": "安全回路断开"}}
    [coded, plain] = await add_alarms(world.sessions, "sunrise", [
        {"type": "device_fault", "message_code": "alarm_msg.device_fault",
         "message_params": fault},
        {"type": "fire_alarm"}])
    _, zh = await world.call("GET", f"/alarms/{coded}", "guard", 200,
                             headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    _, en = await world.call("GET", f"/alarms/{coded}", "guard", 200,
                             headers={"Accept-Language": "en"})
    _, default = await world.call("GET", f"/alarms/{coded}", "guard", 200)
    assert zh["message"] == "lift-1 故障 Err41：安全回路断开"
    assert en["message"] == default["message"] == "lift-1 fault Err41: Safety circuit open"
    assert zh["message_code"] == "alarm_msg.device_fault" and zh["message_params"] == fault
    _, page = await world.call("GET", "/alarms?type=fire_alarm", "guard", 200,
                               headers={"Accept-Language": "zh-CN"})
    assert [(a["id"], a["message"]) for a in page["items"]] == [(plain, "m")]
