"""Work orders through the API: lifecycle, who may do what, photos, lists, ledger, report,
and the live push to technicians and managers (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_app, create_user
from hub.api.core.keys import LIVE
from hub.api.workorders.routes import MAX_PHOTO_BYTES, WORKORDER_CLOCK
from hub.models import Building, Device, Household, Unit
from hub.workorders import TechnicianSkill, WorkOrder
from hub.workorders.dispatch import WorkOrderNotifier
from hub.workorders.models import WorkOrderOutbox, WorkOrderPhoto
from tests.hub.api.conftest import PASSWORD, RecordingPublisher, count
from tests.hub.api.workorder_world import PNG_B64, png
from tests.hub.workorders.support import FakeClock
from tests.support.live import live_socket

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
Client = TestClient[Any, Any]
API = "/api/v1"


@dataclass
class Crew:
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    async def call(self, method: str, path: str, who: str, status: int | None = None,
                   **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        resp = await self.client.request(method, API + path, headers=headers, **kwargs)
        body: Any = await resp.read()
        if resp.content_type == "application/json":
            body = await resp.json()
        if status is not None:
            assert resp.status == status, f"{who} {method} {path}: {resp.status} {body!r:.400}"
        return body

    async def order(self, who: str = "manager", **body: Any) -> dict[str, Any]:
        body = {"title": "水管漏水", "skill": "plumbing", "site_id": "sunrise", **body}
        return dict(await self.call("POST", "/work-orders", who, 201, json=body))


@pytest.fixture
async def crew(sessions: async_sessionmaker[AsyncSession],
               publisher: RecordingPublisher) -> AsyncIterator[Crew]:
    clock = FakeClock()
    app = create_app(sessions=sessions, publisher=publisher, token_ttl_s=3600)
    app[WORKORDER_CLOCK] = clock
    async with TestClient(TestServer(app)) as client:
        crew = Crew(client, sessions, clock)
        async with sessions() as session, session.begin():
            b1 = await session.scalar(select(Building.id).where(Building.code == "B1"))
            session.add(Unit(id=102, building_id=b1, number="102", floor=1))
            await session.flush()
            home, nb = Household(site_id="sunrise", unit_id=101), Household(
                site_id="sunrise", unit_id=102)
            lift = Device(site_id="sunrise", edge="edge-b1", name="lift-1",
                          device_type="elevator", model="m", status="online")
            lift_m = Device(site_id="moonbay", edge="edge-m1", name="lift-m",
                            device_type="elevator", model="m", status="online")
            session.add_all([home, nb, lift, lift_m])
            await session.flush()
            crew.ids.update(home=home.id, neighbour=nb.id, lift=lift.id, lift_m=lift_m.id)
            people = [("manager", "manager", "sunrise", None), ("guard", "guard", "sunrise", None),
                      ("wang", "technician", "sunrise", None),
                      ("li", "technician", "sunrise", None),
                      ("zhao", "technician", "moonbay", None),
                      ("res", "resident", None, home.id), ("res2", "resident", None, home.id),
                      ("nb", "resident", None, nb.id)]
            for name, role, site, household in people:
                user = await create_user(session, name, PASSWORD, role, site_id=site,
                                         household_id=household)
                crew.ids[name] = user.id
            session.add_all([TechnicianSkill(user_id=crew.ids[u], skill=s) for u, s in (
                ("wang", "plumbing"), ("wang", "elevator_door"), ("li", "plumbing"),
                ("zhao", "plumbing"))])
        for name in ("admin", "manager", "guard", "wang", "li", "zhao", "res", "res2", "nb"):
            resp = await client.post(API + "/auth/login",
                                     json={"username": name, "password": PASSWORD})
            assert resp.status == 200, await resp.text()
            crew.tokens[name] = (await resp.json())["token"]
        client.session.cookie_jar.clear()
        yield crew


async def test_a_repair_request_from_request_to_rating(crew: Crew) -> None:
    t0 = crew.clock()
    order = await crew.order("res", title="厨房漏水", priority="high", photos=[PNG_B64],
                             site_id=None)
    oid = order["id"]
    assert (order["kind"], order["unit_id"], order["household_id"], order["state"],
            order["assignee"]) == ("repair", 101, crew.ids["home"], "assigned", "wang")
    assert datetime.fromisoformat(order["due_at"]) == t0 + timedelta(hours=24)  # high
    photo_url = order["photos"][0]["url"].removeprefix(API)
    # li is not the assignee: the order does not exist for them
    await crew.call("GET", f"/work-orders/{oid}", "li", 404)
    await crew.call("POST", f"/work-orders/{oid}/start", "li", 404, json={})
    refused = await crew.call("POST", f"/work-orders/{oid}/resolve", "wang", 409, json={})
    assert "is assigned: cannot resolve it" in refused["detail"]
    assert "in_progress" in refused["detail"]
    assert refused["message"] == f"Work order {oid} is assigned: you cannot resolve it now."
    crew.clock.advance(hours=1)
    await crew.call("POST", f"/work-orders/{oid}/start", "wang", 200, json={})
    await crew.call("POST", f"/work-orders/{oid}/parts", "wang", 201,
                    json={"name": "角阀", "quantity": 2})
    await crew.call("POST", f"/work-orders/{oid}/notes", "res", 201, json={"text": "下午在家"})
    crew.clock.advance(hours=2)
    await crew.call("POST", f"/work-orders/{oid}/resolve", "wang", 200, json={"note": "换了角阀"})
    await crew.call("POST", f"/work-orders/{oid}/rating", "res", 409, json={"stars": 5})
    await crew.call("POST", f"/work-orders/{oid}/close", "wang", 403, json={})
    await crew.call("POST", f"/work-orders/{oid}/close", "res", 200, json={"note": "修好了"})
    refused = await crew.call("POST", f"/work-orders/{oid}/rating", "res2", 403,
                              json={"stars": 1})
    assert "only the resident who asked" in refused["detail"]
    await crew.call("POST", f"/work-orders/{oid}/rating", "nb", 404, json={"stars": 1})
    rated = await crew.call("POST", f"/work-orders/{oid}/rating", "res", 201,
                            json={"stars": 5, "comment": "师傅很专业"})
    assert (rated["rating"], rated["rating_comment"]) == (5, "师傅很专业")
    await crew.call("POST", f"/work-orders/{oid}/rating", "res", 409, json={"stars": 4})
    await crew.call("POST", f"/work-orders/{oid}/close", "res", 409, json={})

    detail = await crew.call("GET", f"/work-orders/{oid}", "manager", 200)
    assert [(h["action"], h["actor"], h["from_state"], h["to_state"])
            for h in detail["history"]] == [
        ("opened", "res", None, "open"),
        ("assigned", "system:assignment", "open", "assigned"),
        ("started", "wang", "assigned", "in_progress"),
        ("resolved", "wang", "in_progress", "resolved"),
        ("closed", "res", "resolved", "closed"),
        ("rated", "res", "closed", "closed"),
    ]
    assert detail["history"][3]["note"] == "换了角阀"
    assert [(p["name"], p["quantity"]) for p in detail["parts"]] == [("角阀", 2)]
    assert [n["author"] for n in detail["notes"]] == ["res"]
    assert detail["resolved_at"] > detail["started_at"] > detail["created_at"]
    # the photo: to those who may see the order but the guards (issue 16), and to nobody else
    for who, status in (("res", 200), ("res2", 200), ("guard", 403), ("wang", 200),
                        ("nb", 404), ("li", 404), ("zhao", 404)):
        body = await crew.call("GET", photo_url, who, status)
        if status == 200:
            assert body == png()


async def test_a_technician_picks_an_open_order_of_their_skill(crew: Crew) -> None:
    order = await crew.order(title="空调不制冷", skill="hvac")
    assert (order["state"], order["assignee_id"]) == ("open", None)
    await crew.call("GET", f"/work-orders/{order['id']}", "li", 404)  # not their skill (yet)
    await crew.call("POST", f"/work-orders/{order['id']}/accept", "li", 404, json={})
    tech = await crew.call("PATCH", f"/technicians/{crew.ids['li']}", "manager", 200,
                           json={"skills": ["plumbing", "hvac"]})
    assert tech["skills"] == ["hvac", "plumbing"]
    listed = await crew.call("GET", "/work-orders?state=open", "li", 200)
    assert [o["id"] for o in listed["items"]] == [order["id"]]
    taken = await crew.call("POST", f"/work-orders/{order['id']}/accept", "li", 200, json={})
    assert (taken["state"], taken["assignee"]) == ("assigned", "li")
    again = await crew.call("POST", f"/work-orders/{order['id']}/accept", "li", 409, json={})
    assert "cannot accept" in again["detail"]
    await crew.call("POST", f"/work-orders/{order['id']}/accept", "wang", 404, json={})
    await crew.call("POST", f"/work-orders/{order['id']}/accept", "manager", 403, json={})


async def test_assignment_by_workload_and_manual_reassignment(crew: Crew) -> None:
    first = await crew.order()
    second = await crew.order()
    assert (first["assignee"], second["assignee"]) == ("wang", "li")
    oid = first["id"]
    moved = await crew.call("POST", f"/work-orders/{oid}/reassign", "manager", 200,
                            json={"technician_id": crew.ids["li"], "note": "王师傅休假"})
    assert moved["assignee"] == "li" and moved["history"][-1]["action"] == "reassigned"
    await crew.call("GET", f"/work-orders/{oid}", "wang", 404)
    wrong = await crew.call("POST", f"/work-orders/{oid}/reassign", "manager", 422,
                            json={"technician_id": crew.ids["zhao"]})
    assert wrong["detail"][0]["field"] == "technician_id"
    await crew.call("POST", f"/work-orders/{oid}/reassign", "manager", 409,
                    json={"technician_id": crew.ids["li"]})
    auto = await crew.call("POST", f"/work-orders/{oid}/reassign", "manager", 200,
                           json={"technician_id": None})
    assert auto["assignee"] == "wang"  # anyone but li, who had it
    nobody = await crew.order(skill="hvac")
    refused = await crew.call("POST", f"/work-orders/{nobody['id']}/reassign", "manager", 409,
                              json={"technician_id": None})
    assert "no active technician of site 'sunrise' has skill 'hvac'" in refused["detail"]
    await crew.call("POST", f"/work-orders/{oid}/start", "guard", 403, json={})
    async with crew.sessions() as session:
        told = [(o.event, o.payload["users"]) for o in await session.scalars(
            select(WorkOrderOutbox).where(WorkOrderOutbox.order_id == oid)
            .order_by(WorkOrderOutbox.id))]
    wang, li = crew.ids["wang"], crew.ids["li"]
    assert told == [("assigned", [wang]), ("reassigned", [li]), ("unassigned", [wang]),
                    ("reassigned", [wang]), ("unassigned", [li])]


async def test_a_resident_files_only_for_their_own_unit(crew: Crew) -> None:
    before = await count(crew.sessions)
    for body, field_ in (({"unit_id": 102}, "unit_id"), ({"site_id": "sunrise"}, "site_id"),
                         ({"device_id": crew.ids["lift"]}, "device_id"),
                         ({"technician_id": crew.ids["wang"]}, "technician_id"),
                         ({"photos": ["R0lGODlh"]}, "photos.0")):
        refused = await crew.call("POST", "/work-orders", "res", 422,
                                  json={"title": "x", **body})
        assert refused["detail"][0]["field"] == field_, refused
    await crew.call("POST", "/work-orders", "manager", 422,
                    json={"title": "x", "device_id": crew.ids["lift_m"]})
    await crew.call("POST", "/work-orders", "manager", 403,
                    json={"title": "x", "site_id": "moonbay"})
    await crew.call("POST", "/work-orders", "guard", 403, json={"title": "x"})
    assert await count(crew.sessions) == before


async def test_photos_by_upload_checked_by_their_bytes(crew: Crew) -> None:
    order = await crew.order()
    path = f"/work-orders/{order['id']}/photos"
    resp = await crew.client.post(API + path, data=png(4, 4), headers={
        "Authorization": f"Bearer {crew.tokens['wang']}", "Content-Type": "image/png"})
    assert resp.status == 201, await resp.text()
    form = aiohttp.FormData()
    form.add_field("photo", b"\xff\xd8\xff\xe0" + b"\x00" * 100, filename="a.jpg",
                   content_type="image/jpeg")
    made = await crew.call("POST", path, "manager", 201, data=form)
    assert made["content_type"] == "image/jpeg"
    before = await count(crew.sessions, WorkOrderPhoto)
    gif = await crew.call("POST", path, "wang", 422,
                          json={"content_base64": base64.b64encode(b"GIF89a....").decode()})
    assert "not a JPEG or PNG" in gif["detail"][0]["reason"]
    junk = await crew.call("POST", path, "wang", 422, json={"content_base64": "%%%"})
    assert junk["detail"][0]["field"] == "content_base64"
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_PHOTO_BYTES
    resp = await crew.client.post(API + path, data=big, headers={
        "Authorization": f"Bearer {crew.tokens['wang']}", "Content-Type": "image/png"})
    assert resp.status == 422
    resp = await crew.client.post(API + path, data=b"hello", headers={
        "Authorization": f"Bearer {crew.tokens['wang']}", "Content-Type": "text/plain"})
    assert resp.status == 400
    await crew.call("POST", path, "li", 404, json={"content_base64": PNG_B64})  # not theirs
    assert await count(crew.sessions, WorkOrderPhoto) == before
    for _ in range(6):
        await crew.call("POST", path, "wang", 201, json={"content_base64": PNG_B64})
    full = await crew.call("POST", path, "wang", 409, json={"content_base64": PNG_B64})
    assert "already has 8 photos" in full["detail"]


async def test_list_filters_paging_and_overdue(crew: Crew) -> None:
    made = []
    for priority in ("urgent", "low", "normal", "high", "urgent"):
        made.append(await crew.order(priority=priority, device_id=crew.ids["lift"]
                                     if priority == "high" else None))
        crew.clock.advance(minutes=1)
    ids = [o["id"] for o in made]
    listed = await crew.call("GET", "/work-orders", "manager", 200)
    assert [o["id"] for o in listed["items"]] == ids[::-1] and listed["next_cursor"] is None
    pages, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await crew.call("GET", "/work-orders" + query, "manager", 200)
        pages.append([o["id"] for o in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
    urgent = await crew.call("GET", "/work-orders?priority=urgent", "guard", 200)
    assert [o["id"] for o in urgent["items"]] == [ids[4], ids[0]]
    by_device = await crew.call("GET", f"/work-orders?device={crew.ids['lift']}", "admin", 200)
    assert [o["id"] for o in by_device["items"]] == [ids[3]]
    mine = await crew.call("GET", f"/work-orders?assignee={crew.ids['wang']}", "manager", 200)
    assert {o["assignee"] for o in mine["items"]} == {"wang"}
    crew.clock.advance(hours=5)  # past the urgent ones' 4 h
    late = await crew.call("GET", "/work-orders?overdue=true", "manager", 200)
    assert [o["id"] for o in late["items"]] == [ids[4], ids[0]]
    assert all(o["overdue"] for o in late["items"])
    on_time = await crew.call("GET", "/work-orders?overdue=false", "manager", 200)
    assert {o["id"] for o in on_time["items"]} == set(ids[1:4])
    await crew.call("GET", "/work-orders?site=moonbay", "manager", 403)
    await crew.call("GET", "/work-orders?cursor=bogus", "manager", 422)
    assert (await crew.call("GET", "/work-orders", "nb", 200))["items"] == []


async def test_report_by_priority_and_skill_as_json_and_csv(crew: Crew) -> None:
    quick = await crew.order(priority="urgent")
    slow = await crew.order(priority="urgent", skill="elevator_door")
    await crew.order(priority="low")  # not resolved
    for oid in (quick["id"], slow["id"]):
        await crew.call("POST", f"/work-orders/{oid}/start", "wang", 200, json={})
    crew.clock.advance(hours=1)
    await crew.call("POST", f"/work-orders/{quick['id']}/resolve", "wang", 200, json={})
    crew.clock.advance(hours=5)
    await crew.call("POST", f"/work-orders/{slow['id']}/resolve", "wang", 200, json={})
    report = await crew.call("GET", "/reports/work-orders", "manager", 200)
    rows = {(r["group"], r["key"]): r for r in report["rows"]}
    assert rows[("all", "all")]["opened"] == 3 and rows[("all", "all")]["resolved"] == 2
    urgent = rows[("priority", "urgent")]
    assert (urgent["resolved"], urgent["mean_resolve_minutes"], urgent["within_due"],
            urgent["within_due_share"]) == (2, 210.0, 1, 0.5)
    assert rows[("skill", "elevator_door")]["within_due_share"] == 0.0
    assert rows[("priority", "low")]["mean_resolve_minutes"] is None
    resp = await crew.client.get(API + "/reports/work-orders?format=csv", headers={
        "Authorization": f"Bearer {crew.tokens['manager']}"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    lines = (await resp.text()).splitlines()
    assert lines[0] == ("group,key,opened,resolved,mean_resolve_minutes,within_due,"
                        "within_due_share,mean_rating")
    assert "priority,urgent,2,2,210.0,1,0.5," in lines
    await crew.call("GET", "/reports/work-orders", "wang", 403)
    later = await crew.call("GET", "/reports/work-orders?since=2030-01-01T00:00:00Z",
                            "manager", 200)
    assert later["rows"][0]["opened"] == 0


async def test_equipment_ledger(crew: Crew) -> None:
    lift = crew.ids["lift"]
    set_ = await crew.call("PATCH", f"/equipment/{lift}", "manager", 200, json={
        "install_date": "2024-05-01", "cycle_days": 15, "last_maintained_on": "2026-03-01"})
    assert (set_["next_due_on"], set_["cycle_days"]) == ("2026-03-16", 15)
    moved = await crew.call("PATCH", f"/equipment/{lift}", "admin", 200,
                            json={"next_due_on": "2026-03-20", "lead_days": 5})
    assert (moved["next_due_on"], moved["lead_days"], moved["install_date"]) == (
        "2026-03-20", 5, "2024-05-01")
    listed = await crew.call("GET", "/equipment?due_before=2026-03-31", "wang", 200)
    assert [e["id"] for e in listed["items"]] == [lift]
    await crew.call("PATCH", f"/equipment/{lift}", "wang", 403, json={"cycle_days": 1})
    await crew.call("PATCH", f"/equipment/{crew.ids['lift_m']}", "manager", 404,
                    json={"cycle_days": 1})
    bad = await crew.call("PATCH", f"/equipment/{lift}", "manager", 422,
                          json={"install_date": "2026-01-01", "last_maintained_on": "2025-01-01"})
    assert bad["detail"][0]["field"] == "last_maintained_on"
    techs = await crew.call("GET", "/technicians?skill=plumbing", "manager", 200)
    assert [t["username"] for t in techs["items"]] == ["wang", "li"]


async def test_technicians_and_managers_are_told_at_once(crew: Crew) -> None:
    """The notifier on the app's in-process bus; consoles on the live WebSocket."""
    url = str(crew.client.make_url("")).rstrip("/")
    bus = crew.client.app[LIVE]
    async with WorkOrderNotifier(crew.sessions, bus, poll_s=30), \
            aiohttp.ClientSession() as http, \
            live_socket(http, url, ["work_orders"], token=crew.tokens["wang"]) as wang, \
            live_socket(http, url, ["work_orders"], token=crew.tokens["li"]) as li, \
            live_socket(http, url, ["work_orders"], token=crew.tokens["manager"]) as manager, \
            live_socket(http, url, ["work_orders"], token=crew.tokens["res"]) as res, \
            live_socket(http, url, ["work_orders"], token=crew.tokens["nb"]) as nb:
        await asyncio.sleep(0.1)  # the sockets are listening
        order = await crew.order(title="电梯门夹人", skill="elevator_door", priority="urgent")
        # poll_s is 30 s: only the commit's nudge can deliver within the timeouts below
        pushed = await wang.next("work_orders", timeout=15, id=order["id"])
        assert (pushed["event"], pushed["assignee_id"], pushed["priority"]) == (
            "assigned", crew.ids["wang"], "urgent")
        assert (await manager.next("work_orders", timeout=15, id=order["id"]))["event"] == \
            "assigned"
        await li.nothing(0.3)
        request = await crew.order("res", title="马桶堵了", site_id=None)
        mine = await res.next("work_orders", timeout=15, id=request["id"])
        assert (mine["event"], mine["unit_id"]) == ("assigned", 101)
        await nb.nothing(0.3)


async def test_maintenance_cycles_by_the_rules_of_the_trade(crew: Crew) -> None:
    """A lift keeps TSG T5002-2017's four cycles; one longer than the rule allows is refused
    naming the rule; a visit lists the checklist of every cycle due that day, resolves only
    when the technician has ticked every item, and moves those cycles on."""
    from hub.workorders.jobs import WorkOrderJobs

    lift = crew.ids["lift"]
    before = await count(crew.sessions)
    for body, where in (({"cycle_days": 30}, "cycle_days"),
                        ({"cycles": [{"name": "half_monthly", "days": 30}]}, "cycles.0.days")):
        bad = await crew.call("PATCH", f"/equipment/{lift}", "manager", 422, json=body)
        problem = bad["detail"][0]
        assert problem["field"] == where, bad
        assert "TSG T5002-2017" in problem["reason"] and "at most every 15 days" in problem["reason"]
    unknown = await crew.call("PATCH", f"/equipment/{lift}", "manager", 422,
                              json={"cycles": [{"name": "daily"}]})
    assert unknown["detail"][0]["field"] == "cycles.0.name"
    assert await count(crew.sessions) == before  # refused: nothing changed

    defaults = await crew.call("PATCH", f"/equipment/{lift}", "manager", 200, json={"cycles": []})
    assert [(c["name"], c["days"], c["max_days"], c["rule"]) for c in defaults["cycles"]] == [
        ("half_monthly", 15, 15, "TSG T5002-2017"), ("quarterly", 90, 92, "TSG T5002-2017"),
        ("half_yearly", 180, 184, "TSG T5002-2017"), ("yearly", 365, 366, "TSG T5002-2017")]
    assert defaults["cycles"][0]["next_due_on"] == "2026-03-17"  # today (03-02) + 15 days
    assert defaults["cycles"][0]["text_zh"] == "半月维护保养"

    # this visit covers the half-monthly and the quarterly items, both due on 03-05
    await crew.call("PATCH", f"/equipment/{lift}", "manager", 200, json={"cycles": [
        {"name": "half_monthly", "next_due_on": "2026-03-05"},
        {"name": "quarterly", "next_due_on": "2026-03-05"}, {"name": "yearly"}]})
    async with crew.sessions() as session, session.begin():
        session.add(TechnicianSkill(user_id=crew.ids["wang"], skill="elevator"))
    opened, _ = await WorkOrderJobs(crew.sessions, lead_days=3, clock=crew.clock).run_once()
    assert len(opened) == 1
    async with crew.sessions() as session:
        oid = await session.scalar(select(WorkOrder.id).where(WorkOrder.kind == "preventive"))
    detail = await crew.call("GET", f"/work-orders/{oid}", "wang", 200)
    assert (detail["assignee"], detail["pm_due_on"]) == ("wang", "2026-03-05")
    items = detail["checklist"]
    assert {i["cycle"] for i in items} == {"half_monthly", "quarterly"}
    assert "A1-18" in {i["code"] for i in items} and not any(i["done"] for i in items)
    assert "TSG T5002-2017" in detail["description"]

    await crew.call("POST", f"/work-orders/{oid}/start", "wang", 200, json={})
    await crew.call("POST", f"/work-orders/{oid}/checklist", "li", 404,
                    json={"ticks": {"A1-01": True}})  # not li's order: not even shown to li
    await crew.call("POST", f"/work-orders/{oid}/checklist", "wang", 422,
                    json={"ticks": {"Z9": True}})
    ticked = await crew.call("POST", f"/work-orders/{oid}/checklist", "wang", 200,
                             json={"ticks": {"A1-01": True, "A1-02": True}})
    done = [i for i in ticked["checklist"] if i["done"]]
    assert [(i["code"], i["done_by"]) for i in done] == [("A1-01", "wang"), ("A1-02", "wang")]
    refused = await crew.call("POST", f"/work-orders/{oid}/resolve", "wang", 409, json={})
    assert "A1-03" in str(refused) and "A2-10" in str(refused)
    await crew.call("POST", f"/work-orders/{oid}/checklist", "wang", 200,
                    json={"ticks": {i["code"]: True for i in items}})
    resolved = await crew.call("POST", f"/work-orders/{oid}/resolve", "wang", 200, json={})
    assert resolved["state"] == "resolved"
    await crew.call("POST", f"/work-orders/{oid}/checklist", "wang", 409,
                    json={"ticks": {"A1-01": False}})  # final once resolved
    after = {c["name"]: c for c in
             (await crew.call("GET", f"/equipment/{lift}", "manager", 200))["cycles"]}
    assert (after["half_monthly"]["last_done_on"], after["half_monthly"]["next_due_on"]) == (
        "2026-03-02", "2026-03-17")
    assert after["quarterly"]["next_due_on"] == "2026-05-31"
    assert after["yearly"]["last_done_on"] is None  # not part of this visit


async def test_fire_facilities_take_gb_25201_cycles(crew: Crew) -> None:
    async with crew.sessions() as session, session.begin():
        panel = Device(site_id="sunrise", edge="edge-b1", name="fire-1",
                       device_type="fire_panel", model="m", status="online")
        session.add(panel)
        await session.flush()
        panel_id = panel.id
    set_ = await crew.call("PATCH", f"/equipment/{panel_id}", "manager", 200, json={"cycles": []})
    assert [(c["name"], c["days"], c["rule"]) for c in set_["cycles"]] == [
        ("daily", 1, "GB 25201-2010"), ("monthly", 30, "GB 25201-2010"),
        ("yearly", 365, "GB 25201-2010")]
    bad = await crew.call("PATCH", f"/equipment/{panel_id}", "manager", 422,
                          json={"cycles": [{"name": "monthly", "days": 45}]})
    assert "GB 25201-2010" in bad["detail"][0]["reason"]
