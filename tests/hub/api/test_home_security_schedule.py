"""Issue 18 point 2: a resident sets their own unit's arm schedule (POST /me/home-security/
schedule). The change is audited with the resident's name and reaches the unit's edge through
the installation's configuration push, as a manager's change does; a bad time, a day and time
given twice (the same or another instruction) and more than 16 entries are refused naming the
entry and change nothing. Nobody else's unit: a neighbour's resident changes only their own,
a resident without a panel gets 404, guards and technicians 403 (and guards never see when a
home arms itself: not in the panel list, not in the audit). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_app
from hub.audit import AuditEntry
from hub.homesec.models import SecurityPanel
from hub.models import Edge
from tests.hub.api.conftest import PASSWORD, RecordingPublisher
from tests.hub.api.test_installation import RecordingConfigs

Client = TestClient[Any, Any]
API = "/api/v1"
WEEKDAYS = [{"days": [1, 2, 3, 4, 5], "at": "08:30", "mode": "away"},
            {"days": [1, 2, 3, 4, 5], "at": "18:00", "mode": "disarmed"}]


@dataclass
class Home:
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    configs: RecordingConfigs
    edge_id: int
    panels: dict[str, int]  # unit number -> panel id
    tokens: dict[str, dict[str, str]]  # login -> header

    async def call(self, who: str, method: str, path: str, status: int, body: Any = None,
                   lang: str = "en") -> Any:
        headers = {**self.tokens[who], "Accept-Language": lang}
        resp = await self.client.request(method, API + path, headers=headers, json=body)
        text = await resp.text()
        assert resp.status == status, f"{who} {method} {path}: {resp.status} {text}"
        return await resp.json() if text else None

    async def stored(self) -> dict[str, Any]:
        async with self.sessions() as session:
            rows = (await session.execute(select(SecurityPanel.id, SecurityPanel.schedule))).all()
        return {str(panel): schedule for panel, schedule in rows}

    async def audits(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.fixture
async def home(sessions: async_sessionmaker[AsyncSession],
               publisher: RecordingPublisher) -> AsyncIterator[Home]:
    configs = RecordingConfigs()
    app = create_app(sessions=sessions, publisher=publisher, config_publisher=configs)
    async with TestClient(TestServer(app)) as client:
        async with sessions() as session:
            edge = await session.scalar(select(Edge.id).where(Edge.name == "edge-b1"))
        assert edge is not None
        h = Home(client, sessions, configs, edge, {}, {})
        h.tokens["admin"] = await _login(client, "admin")
        building = (await h.call("admin", "GET", "/buildings?site_id=sunrise", 200))["items"][0]
        units = {"101": 101}
        for number in ("102", "103"):
            units[number] = (await h.call("admin", "POST", "/units", 201, {
                "building_id": building["id"], "number": number, "floor": 1}))["id"]
        for number in ("101", "102"):  # 103 has no alarm panel
            device = await h.call("admin", "POST", "/devices", 201, {
                "edge_id": edge, "name": f"panel-{number}", "model": "alarm-panel-8z",
                "transport": "tcp", "host": "10.0.0.5"})
            h.panels[number] = (await h.call("admin", "POST", "/security-panels", 201, {
                "device_id": device["id"], "unit_id": units[number]}))["id"]
        for login, number in (("zhang", "101"), ("li", "102"), ("zhao", "103")):
            resident = await h.call("admin", "POST", "/residents", 201, {
                "site_id": "sunrise", "name": f"住户{number}", "unit_id": units[number],
                "type": "owner", "phone": "13800000000"})
            await h.call("admin", "POST", "/users", 201, {
                "username": login, "password": PASSWORD, "role": "resident",
                "household_id": resident["household_id"]})
            h.tokens[login] = await _login(client, login)
        for login, role in (("wang", "guard"), ("tech", "technician"), ("boss", "manager")):
            await h.call("admin", "POST", "/users", 201, {
                "username": login, "password": PASSWORD, "role": role, "site_id": "sunrise"})
            h.tokens[login] = await _login(client, login)
        configs.calls.clear()
        yield h


async def _login(client: Client, username: str) -> dict[str, str]:
    resp = await client.post(API + "/auth/login",
                             json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_a_resident_sets_the_schedule_audited_and_pushed_to_the_edge(home: Home) -> None:
    before = await home.audits()
    mine = await home.call("zhang", "POST", "/me/home-security/schedule", 200,
                           {"schedule": WEEKDAYS})
    assert mine["schedule"] == WEEKDAYS and mine["unit"] == "101"
    assert (await home.call("zhang", "GET", "/me/home-security", 200))["schedule"] == WEEKDAYS
    stored = await home.stored()
    assert stored[str(home.panels["101"])] == WEEKDAYS
    assert stored[str(home.panels["102"])] == []  # the neighbour's stays as it was
    # the edge's configuration follows, by the path a manager's change takes
    assert home.configs.calls == [("sunrise", [home.edge_id])]
    async with home.sessions() as session:
        trail = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert len(trail) == before + 1  # one entry: the installation's, with the request's context
    entry = trail[-1]
    assert (entry.actor, entry.resource, entry.resource_id, entry.action) == (
        "zhang", "security_panel", home.panels["101"], "update")
    assert entry.before == {"schedule": []} and entry.after == {"schedule": WEEKDAYS}
    assert entry.method == "POST" and entry.path == f"{API}/me/home-security/schedule"
    # days given in any order, repeated: kept sorted and once
    mine = await home.call("zhang", "POST", "/me/home-security/schedule", 200, {"schedule": [
        {"days": [7, 6, 6], "at": "23:00", "mode": "stay"}]})
    assert mine["schedule"] == [{"days": [6, 7], "at": "23:00", "mode": "stay"}]
    # [] leaves arming to the resident's hand
    assert (await home.call("zhang", "POST", "/me/home-security/schedule", 200,
                            {"schedule": []}))["schedule"] == []
    assert len(home.configs.calls) == 3


REFUSED = [
    pytest.param([{"days": [1], "at": "25:00", "mode": "away"}], "schedule.0.at",
                 "时间：25:00 不是 时:分 格式的时间", id="hour-25"),
    pytest.param([{"days": [1], "at": "8:30", "mode": "away"}], "schedule.0.at",
                 "时间：8:30 不是 时:分 格式的时间", id="one-digit-hour"),
    pytest.param([{"days": [1], "at": "", "mode": "away"}], "schedule.0.at", "时间：", id="empty"),
    pytest.param([{"days": [0, 8], "at": "08:00", "mode": "away"}], "schedule.0.days",
                 "星期：星期应为 1（周一）到 7（周日），不能是 0, 8", id="weekday-8"),
    pytest.param([{"days": [], "at": "08:00", "mode": "away"}], "schedule.0.days", "星期：",
                 id="no-day"),
    pytest.param([{"days": [1], "at": "08:00", "mode": "party"}], "schedule.0.mode", "模式：",
                 id="mode"),
    pytest.param([*WEEKDAYS, {"days": [6, 5], "at": "08:30", "mode": "away"}], "schedule.2",
                 "布防计划：与第 1 项重复（周五 08:30）", id="duplicate"),
    pytest.param([*WEEKDAYS, {"days": [3], "at": "18:00", "mode": "stay"}], "schedule.2",
                 "布防计划：与第 2 项冲突：周三 18:00 已设为撤防", id="clash"),
    pytest.param([{"days": [d % 7 + 1], "at": f"{h:02d}:00", "mode": "away"}
                  for d, h in enumerate(range(17))], "schedule", "布防计划：最多 16 项",
                 id="seventeen"),
    pytest.param([{"days": [1], "at": "08:00", "mode": "away", "zone": 3}], "schedule.0.zone",
                 "", id="unknown-key"),
]


@pytest.mark.parametrize(("schedule", "field", "zh"), REFUSED)
async def test_a_refused_schedule_names_its_field_and_changes_nothing(
        home: Home, schedule: list[dict[str, Any]], field: str, zh: str) -> None:
    await home.call("zhang", "POST", "/me/home-security/schedule", 200, {"schedule": WEEKDAYS})
    stored, audits, pushes = await home.stored(), await home.audits(), len(home.configs.calls)
    refused = await home.call("zhang", "POST", "/me/home-security/schedule", 422,
                              {"schedule": schedule}, lang="zh")
    assert refused["error"] == "validation"
    assert field in [p["field"] for p in refused["detail"]], refused
    message = next(p["message"] for p in refused["detail"] if p["field"] == field)
    assert message.startswith(zh), message
    assert await home.stored() == stored
    assert await home.audits() == audits
    assert len(home.configs.calls) == pushes


async def test_the_manager_path_refuses_a_clash_too(home: Home) -> None:
    panel = home.panels["102"]
    clash = [{"days": [1], "at": "07:00", "mode": "away"},
             {"days": [1, 2], "at": "07:00", "mode": "disarmed"}]
    refused = await home.call("boss", "PATCH", f"/security-panels/{panel}", 422,
                              {"schedule": clash})
    assert [p["field"] for p in refused["detail"]] == ["schedule.1"]
    assert refused["detail"][0]["message"] == (
        "arm schedule: entry 1 already says arm away on Monday at 07:00")
    assert (await home.stored())[str(panel)] == []


async def test_only_the_units_own_resident_sets_it(home: Home) -> None:
    await home.call("zhang", "POST", "/me/home-security/schedule", 200, {"schedule": WEEKDAYS})
    # the neighbour's resident has no way to name unit 101: their own panel changes
    theirs = [{"days": [6], "at": "09:00", "mode": "stay"}]
    mine = await home.call("li", "POST", "/me/home-security/schedule", 200, {"schedule": theirs})
    assert mine["unit"] == "102"
    stored = await home.stored()
    assert stored[str(home.panels["101"])] == WEEKDAYS
    assert stored[str(home.panels["102"])] == theirs
    # ... nor through the installation's resource
    await home.call("li", "PATCH", f"/security-panels/{home.panels['101']}", 403,
                    {"schedule": []})
    # a home without a panel has no schedule
    await home.call("zhao", "GET", "/me/home-security", 404)
    await home.call("zhao", "POST", "/me/home-security/schedule", 404, {"schedule": WEEKDAYS})
    # staff have no "me" home; guards and technicians may not change a panel
    for who in ("wang", "tech"):
        await home.call(who, "GET", "/me/home-security", 403)
        await home.call(who, "POST", "/me/home-security/schedule", 403, {"schedule": []})
        await home.call(who, "PATCH", f"/security-panels/{home.panels['101']}", 403,
                        {"schedule": []})
    assert await home.stored() == stored


async def test_guards_never_see_when_a_home_arms_itself(home: Home) -> None:
    await home.call("zhang", "POST", "/me/home-security/schedule", 200, {"schedule": WEEKDAYS})
    panels = (await home.call("wang", "GET", "/security-panels", 200))["items"]
    assert {p["unit"] for p in panels} == {"101", "102"}
    assert all("schedule" not in p for p in panels)
    await home.call("wang", "GET", "/audit", 403)  # the schedule's history lives there
    await home.call("wang", "GET", f"/security-panels/{home.panels['101']}", 405)
    # the site's manager keeps the installation, with its trail
    trail = (await home.call("boss", "GET", "/audit?resource=security_panel", 200))["items"]
    assert any(e["actor"] == "zhang" for e in trail)
