"""The vehicle registry over the API: a household's cars, visitor-car passes, blocked
plates (each a registry change the edges get), and the vehicles inside with dwell time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import Building, Household, Unit, User, utcnow
from hub.vehicles.models import Vehicle
from hub.vehicles.store import load_permissions, record_vehicle_events
from tests.hub.api.conftest import PASSWORD, RecordingPublisher, count

Client = TestClient[Any, Any]


async def household(sessions: async_sessionmaker[AsyncSession], unit_id: int = 101) -> int:
    async with sessions() as session, session.begin():
        if unit_id != 101:  # the seed's building B1 has unit 101 only
            b1 = await session.scalar(select(Building.id).where(Building.code == "B1"))
            session.add(Unit(id=unit_id, building_id=b1, number=str(unit_id), floor=1))
            await session.flush()
        row = Household(site_id="sunrise", unit_id=unit_id, name=str(unit_id))
        session.add(row)
        await session.flush()
        return row.id


async def test_register_block_and_pass_reach_the_snapshot(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
        publisher: RecordingPublisher) -> None:
    hh = await household(sessions)
    resp = await client.post("/api/v1/vehicles", headers=auth,
                             json={"household_id": hh, "plate": "粤B·12345"})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["plate"] == "粤B12345"
    again = await client.post("/api/v1/vehicles", headers=auth,
                              json={"household_id": hh, "plate": "粤b 12345"})
    assert again.status == 409
    bad = await client.post("/api/v1/vehicles", headers=auth,
                            json={"household_id": hh, "plate": "?!"})
    assert bad.status == 422 and "plate" in await bad.text()
    unknown = await client.post("/api/v1/vehicles", headers=auth,
                                json={"household_id": 999, "plate": "粤B55555"})
    assert unknown.status == 422 and "household_id" in await unknown.text()
    assert await count(sessions, Vehicle) == {"vehicles": 1}
    now = utcnow()
    resp = await client.post("/api/v1/vehicle-passes", headers=auth, json={
        "household_id": hh, "plate": "粤B66666", "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(hours=2)).isoformat(), "max_uses": 2})
    assert resp.status == 201, await resp.text()
    resp = await client.post("/api/v1/blocked-plates", headers=auth,
                             json={"site_id": "sunrise", "plate": "粤B99999", "reason": "stolen"})
    assert resp.status == 201, await resp.text()
    assert publisher.calls.count("sunrise") == 3
    async with sessions() as session:
        perms = await load_permissions(session, "sunrise", utcnow())
    assert perms is not None
    assert [v.plate for v in perms.residents] == ["粤B12345"]
    assert [(p.plate, p.max_uses) for p in perms.passes] == [("粤B66666", 2)]
    assert [b.plate for b in perms.blocked] == ["粤B99999"]


async def test_inside_lists_open_stays_with_dwell(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()

    def event(eid: str, lane: str, direction: str, plate: str, minutes: int) -> dict[str, Any]:
        return {"id": eid, "site_id": "sunrise", "ts": now - timedelta(minutes=minutes),
                "data": {"lane": lane, "direction": direction, "plate": plate,
                         "result": "open", "reason": "temporary"}}

    async with sessions() as session, session.begin():
        await record_vehicle_events(session, [
            event("e1", "gate-in", "entry", "粤B12345", 90),
            event("e2", "gate-in", "entry", "京A00001", 30),
            event("e3", "gate-out", "exit", "京A00001", 10)])
    resp = await client.get("/api/v1/vehicles/inside", headers=auth,
                            params={"site_id": "sunrise"})
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert [i["plate"] for i in items] == ["粤B12345"]
    assert 89 * 60 <= items[0]["dwell_s"] <= 91 * 60


async def test_site_settings_reach_the_snapshot(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
        publisher: RecordingPublisher) -> None:
    resp = await client.get("/api/v1/vehicle-settings", headers=auth,
                            params={"site_id": "sunrise"})
    assert (await resp.json())["passback"] == "warn"  # the default
    resp = await client.post("/api/v1/vehicle-settings", headers=auth, json={
        "site_id": "sunrise", "temporary_entry": "guard", "passback": "refuse",
        "min_confidence": 0.9})
    assert resp.status == 200, await resp.text()
    bad = await client.post("/api/v1/vehicle-settings", headers=auth,
                            json={"site_id": "sunrise", "passback": "sometimes"})
    assert bad.status == 422 and "passback" in await bad.text()
    assert publisher.calls == ["sunrise"]
    async with sessions() as session:
        perms = await load_permissions(session, "sunrise", utcnow())
    assert perms is not None
    assert (perms.settings.temporary_entry, perms.settings.passback,
            perms.settings.min_confidence) == ("guard", "refuse", 0.9)


async def test_csv_import_all_rows_or_none(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    headers = {**auth, "Content-Type": "text/csv"}
    bad = "building,unit,plate\nB1,101,粤B10001\nB1,999,粤B10002\nB1,101,粤B10001\nB1,101,??\n"
    resp = await client.post("/api/v1/import/vehicles?site_id=sunrise", headers=headers,
                             data=bad.encode())
    assert resp.status == 422, await resp.text()
    rows = {(r["line"], r["column"]) for r in (await resp.json())["rows"]}
    assert rows == {(3, "unit"), (4, "plate"), (5, "plate")}
    assert await count(sessions, Vehicle) == {"vehicles": 0}
    good = "building,unit,plate,colour\nB1,101,粤B 10001,blue\nB1,101,粤B10002,\n"
    resp = await client.post("/api/v1/import/vehicles?site_id=sunrise", headers=headers,
                             data=good.encode())
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["created"] == 2
    again = await client.post("/api/v1/import/vehicles?site_id=sunrise", headers=headers,
                              data=good.encode())
    assert again.status == 422 and "already registered" in await again.text()
    async with sessions() as session:
        perms = await load_permissions(session, "sunrise", utcnow())
    assert perms is not None and [v.plate for v in perms.residents] == ["粤B10001", "粤B10002"]


async def test_parking_spaces_limit_reaches_the_snapshot(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
        publisher: RecordingPublisher) -> None:
    """Issue 17: a household's valid spaces (owned, or rented until a day) are its limit in
    the lanes' permissions; the site's over_spaces setting goes with it."""
    hh = await household(sessions)
    now = utcnow()
    for code, kind, until in (("B2-017", "owned", None),
                              ("B2-018", "rented", now + timedelta(days=30)),
                              ("B2-019", "rented", now - timedelta(days=1))):  # ended
        resp = await client.post("/api/v1/parking-spaces", headers=auth, json={
            "household_id": hh, "code": code, "kind": kind,
            "valid_until": until.isoformat() if until else None})
        assert resp.status == 201, await resp.text()
    taken = await client.post("/api/v1/parking-spaces", headers=auth,
                              json={"household_id": hh, "code": "B2-017", "kind": "owned"})
    assert taken.status == 409 and "B2-017" in await taken.text()
    bad = await client.post("/api/v1/parking-spaces", headers=auth,
                            json={"household_id": hh, "code": "B2-020", "kind": "borrowed"})
    assert bad.status == 422 and "kind" in await bad.text()
    listed = await (await client.get(f"/api/v1/parking-spaces?household_id={hh}",
                                     headers=auth)).json()
    assert [s["code"] for s in listed["items"]] == ["B2-017", "B2-018", "B2-019"]
    resp = await client.post("/api/v1/vehicle-settings", headers=auth,
                             json={"site_id": "sunrise", "over_spaces": "refuse"})
    assert resp.status == 200 and (await resp.json())["over_spaces"] == "refuse"
    async with sessions() as session:
        perms = await load_permissions(session, "sunrise", utcnow())
    assert perms is not None
    assert [(s.household_id, s.spaces) for s in perms.spaces] == [(hh, 2)]
    assert perms.settings.over_spaces == "refuse"
    gone = await client.delete(f"/api/v1/parking-spaces/{listed['items'][0]['id']}",
                               headers=auth)
    assert gone.status == 204
    async with sessions() as session:
        perms = await load_permissions(session, "sunrise", utcnow())
    assert perms is not None and [s.spaces for s in perms.spaces] == [1]
    assert publisher.calls.count("sunrise") == 5


async def test_a_vehicle_is_changed_and_a_pass_revoked_and_refusals_speak_chinese(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
        publisher: RecordingPublisher) -> None:
    hh, other = await household(sessions), await household(sessions, 102)
    made = [await (await client.post("/api/v1/vehicles", headers=auth, json={
        "household_id": hh, "plate": plate})).json() for plate in ("粤B12345", "粤B23456")]
    zh = {**auth, "Accept-Language": "zh-CN"}
    # a plate another vehicle holds: 409 in the reader's language, nothing changed
    taken = await client.patch(f"/api/v1/vehicles/{made[1]['id']}", headers=zh,
                               json={"plate": "粤B·12345"})
    assert taken.status == 409
    assert (await taken.json())["message"] == f"车牌 粤B12345 已登记（车辆 {made[0]['id']}）"
    backwards = await client.patch(f"/api/v1/vehicles/{made[1]['id']}", headers=zh, json={
        "valid_from": "2026-06-01T00:00:00+08:00", "valid_until": "2026-05-01T00:00:00+08:00"})
    assert backwards.status == 422 and "valid_until" in await backwards.text()
    nobody = await client.patch(f"/api/v1/vehicles/{made[1]['id']}", headers=auth,
                                json={"household_id": 9999})
    assert nobody.status == 422 and "household_id" in await nobody.text()
    async with sessions() as session:
        row = await session.get(Vehicle, made[1]["id"])
        assert row is not None and (row.plate, row.household_id, row.valid_until) == (
            "粤B23456", hh, None)
    calls = publisher.calls.count("sunrise")
    changed = await client.patch(f"/api/v1/vehicles/{made[1]['id']}", headers=auth, json={
        "household_id": other, "plate": "粤B 34567", "note": "二号车",
        "valid_until": "2027-01-01T00:00:00+08:00", "lanes": ["gate-in", "gate-in"]})
    assert changed.status == 200, await changed.text()
    got = await changed.json()
    assert (got["plate"], got["household_id"], got["note"], got["lanes"]) == (
        "粤B34567", other, "二号车", ["gate-in"])
    assert publisher.calls.count("sunrise") == calls + 1
    cleared = await client.patch(f"/api/v1/vehicles/{made[1]['id']}", headers=auth,
                                 json={"valid_until": None})
    assert (await cleared.json())["valid_until"] is None

    blocked = await client.post("/api/v1/blocked-plates", headers=auth,
                                json={"site_id": "sunrise", "plate": "粤B99999"})
    assert blocked.status == 201
    again = await client.post("/api/v1/blocked-plates", headers=zh,
                              json={"site_id": "sunrise", "plate": "粤B99999"})
    assert again.status == 409 and (await again.json())["message"] == "黑名单车牌 粤B99999 已存在。"

    now = utcnow()
    issued = await (await client.post("/api/v1/vehicle-passes", headers=auth, json={
        "household_id": hh, "plate": "粤C88888", "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(hours=4)).isoformat()})).json()
    revoked = await client.post(f"/api/v1/vehicle-passes/{issued['id']}/revoke", headers=auth)
    assert revoked.status == 200 and (await revoked.json())["revoked"] is True
    async with sessions() as session:
        perms = await load_permissions(session, "sunrise", utcnow())
    assert perms is not None and perms.passes == []  # the lanes stop opening for it
    missing = await client.post("/api/v1/vehicle-passes/9999/revoke", headers=zh)
    assert missing.status == 404 and "访客车辆通行证" in (await missing.json())["message"]


async def test_the_registry_names_households_and_finds_units_a_few_at_a_time(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    """The console's vehicle page asks for no unit it does not show: the vehicles and spaces
    name their household ("B1 101"), and its unit picker searches units as people name them,
    a few at a time; a bad search names its field."""
    hh = await household(sessions)
    other = await household(sessions, 1203)
    async with sessions() as session, session.begin():
        b1 = await session.scalar(select(Building.id).where(Building.code == "B1"))
        session.add(Unit(id=1204, building_id=b1, number="1204", floor=12))  # no household
    car = await client.post("/api/v1/vehicles", headers=auth,
                            json={"household_id": other, "plate": "粤B12345"})
    assert (await car.json())["household_label"] == "B1 1203"
    space = await client.post("/api/v1/parking-spaces", headers=auth,
                              json={"household_id": hh, "code": "P-01", "kind": "owned"})
    assert space.status == 201, await space.text()
    assert (await space.json())["household_label"] == "B1 101"
    cars = await (await client.get("/api/v1/vehicles", headers=auth)).json()
    assert [(v["plate"], v["household_label"]) for v in cars["items"]] == [("粤B12345", "B1 1203")]
    spaces = await (await client.get("/api/v1/parking-spaces", headers=auth)).json()
    assert [(s["code"], s["household_label"]) for s in spaces["items"]] == [("P-01", "B1 101")]

    async def units(query: str) -> list[tuple[int, int | None]]:
        resp = await client.get(f"/api/v1/units?{query}", headers=auth)
        assert resp.status == 200, await resp.text()
        return [(u["id"], u["household_id"]) for u in (await resp.json())["items"]]

    assert await units("q=B1%201") == [(101, hh), (1203, other), (1204, None)]
    assert await units("q=b1-12&has_household=true") == [(1203, other)]
    assert await units("q=12&has_household=false") == [(1204, None)]
    assert await units("q=B1&limit=2") == [(101, hh), (1203, other)]
    assert await units("q=M1%20901") == [(901, None)]
    assert await units("q=B2%20101") == []
    assert await units("q=%25") == []  # a LIKE wildcard is a character like any other
    for bad, name in (("q=", "q"), ("limit=0", "limit"), ("has_household=perhaps",
                                                         "has_household")):
        resp = await client.get(f"/api/v1/units?{bad}", headers=auth)
        assert resp.status == 422 and name in await resp.text(), bad


async def test_the_registry_is_searched_and_paged_and_a_resident_finds_only_their_own(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    """A compound registers thousands of cars: the list is searched by plate (as people write
    it: 粤B 12 finds 粤B12345), unit number or note, and read a page at a time with the total;
    a resident's search never reaches another household's cars."""
    mine = await household(sessions)
    theirs = await household(sessions, 1203)
    cars = [(mine, "粤B12345", "blue Tesla"), (mine, "粤B12399", ""),
            (theirs, "粤A88888", "moving van"), (theirs, "粤B34512", "")]
    for hh, plate, note in cars:
        resp = await client.post("/api/v1/vehicles", headers=auth,
                                 json={"household_id": hh, "plate": plate, "note": note})
        assert resp.status == 201, await resp.text()

    async def plates(query: str, headers: dict[str, str] = auth) -> tuple[list[str], int]:
        resp = await client.get(f"/api/v1/vehicles?{query}", headers=headers)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        return [v["plate"] for v in body["items"]], body["total"]

    assert await plates("") == (["粤A88888", "粤B12345", "粤B12399", "粤B34512"], 4)
    assert await plates("q=%E7%B2%A4b%20123") == (["粤B12345", "粤B12399"], 2)  # 粤b 123
    assert await plates("q=345") == (["粤B12345", "粤B34512"], 2)
    assert await plates("q=1203") == (["粤A88888", "粤B34512"], 2)  # the unit's number
    assert await plates("q=TESLA") == (["粤B12345"], 1)  # the note, any case
    assert await plates("q=%25") == ([], 0)  # a LIKE wildcard is a character like any other
    assert await plates("limit=3") == (["粤A88888", "粤B12345", "粤B12399"], 4)
    assert await plates("limit=3&offset=3") == (["粤B34512"], 4)
    assert await plates("q=%E7%B2%A4B&limit=2&offset=2") == (["粤B34512"], 3)
    for bad, name in (("q=", "q"), ("limit=0", "limit"), ("limit=5001", "limit"),
                      ("offset=-1", "offset")):
        resp = await client.get(f"/api/v1/vehicles?{bad}", headers=auth)
        assert resp.status == 422 and name in await resp.text(), bad

    async with sessions() as session, session.begin():
        await session.execute(update(User).where(User.username == "alice")
                              .values(household_id=mine))
    login = await client.post("/api/v1/auth/login",
                              json={"username": "alice", "password": PASSWORD})
    alice = {"Authorization": f"Bearer {(await login.json())['token']}"}
    assert await plates("", alice) == (["粤B12345", "粤B12399"], 2)
    assert await plates("q=1203", alice) == ([], 0)
    assert await plates("q=345&limit=1", alice) == (["粤B12345"], 1)
