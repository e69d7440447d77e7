"""Issue 15: an installer keeps the installation through the API: edges, lines, doors with
their readers, Modbus devices, cameras and lifts; each refusal names its field and changes
nothing; deleting what is in use is 409 naming the user; every change is audited; only admins
and the site's managers may change it. SQLite and PostgreSQL (the fixtures' two params)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_app, create_user
from hub.audit import AuditEntry
from hub.models import Edge
from tests.hub.api.conftest import PASSWORD, RecordingPublisher, count

Client = TestClient[Any, Any]
API = "/api/v1"
KEY = "00112233445566778899aabbccddeeff"


@dataclass
class RecordingConfigs:
    """Stands in for the edge-configuration publisher."""

    calls: list[tuple[str, list[int]]] = field(default_factory=list)

    def edges_changed(self, site_id: str, edges: Any) -> None:
        self.calls.append((site_id, sorted(edges)))


@pytest.fixture
def configs() -> RecordingConfigs:
    return RecordingConfigs()


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession], publisher: RecordingPublisher,
                 configs: RecordingConfigs) -> AsyncIterator[Client]:
    app = create_app(sessions=sessions, publisher=publisher, config_publisher=configs)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def call(client: Client, auth: dict[str, str], method: str, path: str, status: int,
               body: Any = None) -> Any:
    resp = await client.request(method, API + path, headers=auth, json=body)
    text = await resp.text()
    assert resp.status == status, f"{method} {path}: {resp.status} {text}"
    return await resp.json() if text else None


async def edge_id(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessions() as session:
        found = await session.scalar(select(Edge.id).where(Edge.name == name))
    assert found is not None
    return found


async def login_as(client: Client, sessions: async_sessionmaker[AsyncSession], username: str,
                   role: str, site_id: str | None) -> dict[str, str]:
    async with sessions() as session, session.begin():
        await create_user(session, username, PASSWORD, role, site_id=site_id)
    resp = await client.post(API + "/auth/login",
                             json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


def problem(body: dict[str, Any]) -> tuple[str, str]:
    assert body["error"] == "validation", body
    first = body["detail"][0]
    return first["field"], first["reason"]


async def test_an_installer_commissions_a_building(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
    publisher: RecordingPublisher, configs: RecordingConfigs,
) -> None:
    """Edge, lines, two readers on one line, a lift with a car reader, a fire panel and a
    camera; read back, changed, removed in order; each change named its edge."""
    edge = await call(client, auth, "POST", "/edges", 201,
                      {"site_id": "sunrise", "name": "edge-b2", "label": "2号楼"})
    assert (edge["name"], edge["label"], edge["status"]) == ("edge-b2", "2号楼", "unknown")
    e = edge["id"]
    readers = await call(client, auth, "POST", "/lines", 201, {
        "edge_id": e, "name": "readers", "port": "/dev/ttyUSB0", "baudrate": 115200,
        "protocol": "osdp"})
    bus = await call(client, auth, "POST", "/lines", 201, {
        "edge_id": e, "name": "modbus", "port": "/dev/ttyUSB1", "baudrate": 19200,
        "parity": "E", "protocol": "modbus"})
    assert (readers["site_id"], readers["parity"], readers["stopbits"]) == ("sunrise", "N", 1)
    main = await call(client, auth, "POST", "/doors", 201, {
        "edge_id": e, "name": "B2-main", "label": "2号楼 正门", "line_id": readers["id"],
        "reader_address": 1, "fail_safe_egress": True, "unlock_s": 4})
    assert (main["edge"], main["reader_commissioned"], main["fail_safe_egress"]) == (
        "edge-b2", False, True)
    assert "reader_key" not in main
    side = await call(client, auth, "POST", "/doors", 201, {
        "edge_id": e, "name": "B2-side", "line_id": readers["id"], "reader_address": 2,
        "reader_key": KEY.upper(), "rex_input": None})
    assert side["reader_commissioned"] is True and side["rex_input"] is None
    lift_ctl = await call(client, auth, "POST", "/devices", 201, {
        "edge_id": e, "name": "B2-lift-1", "model": "elevator-mrl-b", "transport": "rtu",
        "line_id": bus["id"]})
    assert (lift_ctl["unit_id"], lift_ctl["device_type"], lift_ctl["edge"]) == (
        2, "elevator", "edge-b2")  # the model's factory unit id
    fire = await call(client, auth, "POST", "/devices", 201, {
        "edge_id": e, "name": "B2-fire", "model": "fire-panel-8z", "transport": "rtu",
        "line_id": bus["id"], "unit_id": 5, "poll_interval_s": 0.5})
    lift = await call(client, auth, "POST", "/lifts", 201, {
        "name": "B2-lift-1", "device_id": lift_ctl["id"], "floor_enable_s": 8,
        "floors": [{"floor": 1, "label": "1"}, {"floor": "B1"}, {"floor": 2, "label": "2"}]})
    assert [(f["floor"], f["label"]) for f in lift["floors"]] == [(-1, "B1"), (1, "1"), (2, "2")]
    assert lift["edge_id"] == e
    car = await call(client, auth, "POST", "/doors", 201, {
        "edge_id": e, "name": "B2-lift-1-car", "line_id": readers["id"], "reader_address": 3,
        "lift_id": lift["id"], "contact_input": None, "rex_input": None})
    camera = await call(client, auth, "POST", "/cameras", 201, {
        "edge_id": e, "name": "B2-cam", "source": "rtsp://admin:secret@10.0.0.9/stream",
        "door_id": main["id"], "zones": [{"name": "lobby",
                                          "polygon": [[0, 0], [1, 0], [1, 1]]}]})
    assert camera["source"] == "rtsp://admin:***@10.0.0.9/stream"

    # read back, scoped lists by edge
    doors = await call(client, auth, "GET", f"/doors?edge_id={e}", 200)
    assert [d["name"] for d in doors["items"]] == ["B2-lift-1-car", "B2-main", "B2-side"]
    cars = await call(client, auth, "GET", f"/doors?lift_id={lift['id']}", 200)
    assert [d["id"] for d in cars["items"]] == [car["id"]]
    assert await call(client, auth, "GET", f"/doors/{main['id']}", 200) == main
    assert await call(client, auth, "GET", f"/lines/{bus['id']}", 200) == bus
    assert await call(client, auth, "GET", f"/lifts/{lift['id']}", 200) == lift
    assert await call(client, auth, "GET", f"/cameras/{camera['id']}", 200) == camera
    lines = await call(client, auth, "GET", f"/lines?edge_id={e}", 200)
    assert [x["name"] for x in lines["items"]] == ["modbus", "readers"]
    listed = await call(client, auth, "GET", "/devices?edge=edge-b2", 200)
    assert {d["name"] for d in listed["items"]} == {"B2-lift-1", "B2-fire"}
    models = await call(client, auth, "GET", "/device-models", 200)
    assert "elevator-mrl-b" in {m["model"] for m in models["items"]}

    # changes
    changed = await call(client, auth, "PATCH", f"/doors/{main['id']}", 200,
                         {"held_open_s": 60, "reader_key": KEY})
    assert (changed["held_open_s"], changed["reader_commissioned"]) == (60, True)
    moved = await call(client, auth, "PATCH", f"/devices/{fire['id']}", 200, {"unit_id": 6})
    assert moved["unit_id"] == 6
    relabelled = await call(client, auth, "PATCH", f"/lifts/{lift['id']}", 200,
                            {"floors": [{"floor": 1, "label": "1F"}]})
    assert relabelled["floors"] == [{"floor": 1, "label": "1F"}]
    assert (await call(client, auth, "PATCH", f"/edges/{e}", 200, {"label": "二号楼"})
            )["label"] == "二号楼"
    assert (await call(client, auth, "PATCH", f"/lines/{readers['id']}", 200,
                       {"baudrate": 9600}))["baudrate"] == 9600

    # every change named the new edge to the configuration publisher; doors the permissions
    assert len(configs.calls) == 14 and all(c == ("sunrise", [e]) for c in configs.calls)
    assert ("sunrise", [e]) in publisher.edge_calls

    # removal in order: what uses a part goes first
    for path in (f"/cameras/{camera['id']}", f"/doors/{car['id']}", f"/lifts/{lift['id']}",
                 f"/devices/{lift_ctl['id']}", f"/devices/{fire['id']}",
                 f"/doors/{main['id']}", f"/doors/{side['id']}", f"/lines/{readers['id']}",
                 f"/lines/{bus['id']}", f"/edges/{e}"):
        await call(client, auth, "DELETE", path, 204)
        await call(client, auth, "GET" if "/devices" not in path and "/edges" not in path
                   else "DELETE", path, 404)

    async with sessions() as session:
        trail = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(a.resource, a.action) for a in trail][:3] == [
        ("edge", "create"), ("line", "create"), ("line", "create")]
    assert {a.actor for a in trail} == {"admin"}
    assert len(trail) == 10 + 5 + 10  # creates, changes, removals
    door_change = next(a for a in trail if a.resource == "door" and a.action == "update")
    # only what changed, and never the key itself
    assert door_change.before == {"held_open_s": 30.0, "reader_key": None}
    assert door_change.after == {"held_open_s": 60.0, "reader_key": "(set)"}
    cam = next(a for a in trail if a.resource == "camera")
    assert cam.after is not None and "secret" not in str(cam.after)


async def _building(client: Client, auth: dict[str, str], e: int) -> dict[str, Any]:
    osdp = await call(client, auth, "POST", "/lines", 201, {
        "edge_id": e, "name": "readers", "port": "/dev/ttyS0", "protocol": "osdp"})
    modbus = await call(client, auth, "POST", "/lines", 201, {
        "edge_id": e, "name": "bus", "port": "/dev/ttyS1", "protocol": "modbus"})
    door = await call(client, auth, "POST", "/doors", 201, {
        "edge_id": e, "name": "B1-lobby", "line_id": osdp["id"], "reader_address": 5})
    device = await call(client, auth, "POST", "/devices", 201, {
        "edge_id": e, "name": "B1-fire", "model": "fire-panel-8z", "transport": "rtu",
        "line_id": modbus["id"], "unit_id": 3})
    lift_ctl = await call(client, auth, "POST", "/devices", 201, {
        "edge_id": e, "name": "B1-lift", "model": "elevator-vvvf-a", "transport": "tcp",
        "host": "10.1.1.2"})
    return {"osdp": osdp, "modbus": modbus, "door": door, "device": device,
            "lift_ctl": lift_ctl}


# (method, path template, body, field, words in the reason)
REFUSALS: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("POST", "/devices", {"edge_id": "{e}", "name": "x1", "model": "lift-9000",
                          "transport": "tcp", "host": "10.0.0.1"},
     "model", "unknown model 'lift-9000'; known: alarm-panel-16e, alarm-panel-8z, elevator-mrl-b"),
    ("POST", "/devices", {"edge_id": "{e}", "name": "x2", "model": "fire-panel-8z",
                          "transport": "rtu", "line_id": "{modbus}", "unit_id": 248},
     "unit_id", "less than or equal to 247"),
    ("POST", "/devices", {"edge_id": "{e}", "name": "x3", "model": "fire-panel-8z",
                          "transport": "rtu", "line_id": "{modbus}", "unit_id": 0},
     "unit_id", "greater than or equal to 1"),
    ("POST", "/devices", {"edge_id": "{e}", "name": "x4", "model": "pressure-sprinkler-pt",
                          "transport": "rtu", "line_id": "{modbus}", "unit_id": 3},
     "unit_id", "line 'bus' already has a device at unit id 3 (held by B1-fire)"),
    ("POST", "/devices", {"edge_id": "{e}", "name": "x5", "model": "elevator-mrl-b",
                          "transport": "tcp", "host": "10.0.0.1"},
     "transport", "model elevator-mrl-b offers rtu, not tcp"),
    ("POST", "/devices", {"edge_id": "{e}", "name": "x6", "model": "fire-panel-8z",
                          "transport": "rtu", "line_id": "{osdp}"},
     "line_id", "line 'readers' speaks osdp; a Modbus device needs a modbus line"),
    ("POST", "/devices", {"edge_id": "{e}", "name": "x7", "model": "fire-panel-8z",
                          "transport": "rtu"},
     "line_id", "an rtu device needs its line"),
    ("POST", "/devices", {"edge_id": "{e}", "name": "B1-fire", "model": "fire-panel-8z",
                          "transport": "tcp", "host": "10.0.0.1"},
     "name", "already has a device 'B1-fire'"),
    ("POST", "/doors", {"edge_id": "{e}", "name": "d1", "line_id": "{osdp}",
                        "reader_address": 5},
     "reader_address", "line 'readers' already has a reader at address 5 (held by B1-lobby)"),
    ("POST", "/doors", {"edge_id": "{e}", "name": "d2", "line_id": "{osdp}",
                        "reader_address": 127},
     "reader_address", "less than or equal to 126"),
    ("POST", "/doors", {"edge_id": "{e}", "name": "d3", "line_id": "{modbus}",
                        "reader_address": 1},
     "line_id", "line 'bus' speaks modbus; a reader needs an osdp line"),
    ("POST", "/doors", {"edge_id": "{m1}", "name": "d4", "line_id": "{osdp}",
                        "reader_address": 9},
     "line_id", "is on another edge than the door's ('edge-m1')"),
    ("POST", "/doors", {"edge_id": "{m1}", "site_id": "sunrise", "name": "d5"},
     "edge_id", "edge 'edge-m1' is in site 'moonbay', not 'sunrise'"),
    ("POST", "/doors", {"edge_id": "{e}", "name": "d6", "line_id": "{osdp}"},
     "reader_address", "a reader needs both line_id and reader_address"),
    ("POST", "/doors", {"edge_id": "{e}", "name": "d7", "line_id": "{osdp}",
                        "reader_address": 7, "reader_key": "xyz"},
     "reader_key", "32 hexadecimal digits"),
    ("POST", "/doors", {"edge_id": "{e}", "name": "B1-main"},
     "name", "site 'sunrise' already has door 'B1-main'"),
    ("POST", "/doors", {"edge_id": 999999, "name": "d8"}, "edge_id", "unknown edge 999999"),
    ("POST", "/doors", {"edge_id": "{e}", "name": "d9", "mode": "unlocked_on_schedule"},
     "unlock_schedule_id", "mode 'unlocked_on_schedule' needs one"),
    ("PATCH", "/doors/{door}", {"reader_address": None},
     "reader_address", "a reader needs both line_id and reader_address"),
    ("PATCH", "/doors/{door}", {"name": "renamed"}, "name", "unknown field"),
    ("POST", "/lines", {"edge_id": "{e}", "name": "bus2", "port": "/dev/ttyS1",
                        "protocol": "modbus"},
     "port", "port /dev/ttyS1 of edge 'edge-b1' is another line's"),
    ("POST", "/lines", {"edge_id": "{e}", "name": "bus3", "port": "ttyS9",
                        "protocol": "modbus"},
     "port", "a serial device such as /dev/ttyUSB0"),
    ("POST", "/lines", {"edge_id": "{e}", "name": "bus4", "port": "/dev/ttyS4",
                        "baudrate": 12345, "protocol": "modbus"},
     "baudrate", "Input should be"),
    ("POST", "/lines", {"edge_id": "{e}", "name": "bus5", "port": "/dev/ttyS5",
                        "protocol": "wiegand"},
     "protocol", "'osdp', 'modbus', 'dlt645' or 'cjt188'"),
    ("PATCH", "/lines/{osdp}", {"protocol": "modbus"},
     "protocol", "the line carries the readers of doors B1-lobby, which speak osdp"),
    ("PATCH", "/lines/{modbus}", {"protocol": "osdp"},
     "protocol", "the line carries Modbus devices B1-fire"),
    ("POST", "/lifts", {"name": "L1", "device_id": "{device}",
                        "floors": [{"floor": 1, "label": "1"}]},
     "device_id", "(model fire-panel-8z) is not a lift controller"),
    ("POST", "/lifts", {"name": "L2", "device_id": "{lift_ctl}",
                        "floors": [{"floor": 19, "label": "19"}]},
     "floors", "floors [19] are outside what elevator-vvvf-a enables (1 to 18)"),
    ("POST", "/lifts", {"name": "L4", "device_id": "{lift_ctl}",
                        "floors": [{"floor": 0, "label": "G"}]},
     "floors.0.floor", "there is no floor 0"),
    ("POST", "/lifts", {"name": "L3", "device_id": "{lift_ctl}",
                        "floors": [{"floor": 1, "label": "1"}, {"floor": 2, "label": "1"}]},
     "floors", "label repeated: 1"),
    ("POST", "/cameras", {"edge_id": "{e}", "name": "B1-lobby", "source": "rtsp://h/s"},
     "name", "already has a door 'B1-lobby'"),
    ("POST", "/cameras", {"edge_id": "{e}", "name": "c1", "source": "ftp://h/s"},
     "source", "rtsp://"),
    ("POST", "/cameras", {"edge_id": "{m1}", "name": "c2", "source": "rtsp://h/s",
                          "door_id": "{door}"},
     "door_id", "is on another edge than the camera's ('edge-m1')"),
    ("POST", "/edges", {"site_id": "sunrise", "name": "edge-b1"},
     "name", "site 'sunrise' already has edge 'edge-b1'"),
    ("POST", "/edges", {"site_id": "sunrise", "name": "edge b1"}, "name", "pattern"),
    ("POST", "/edges", {"site_id": "nowhere", "name": "e9"}, "site_id", "unknown site"),
    ("PATCH", "/edges/{e}", {"building_id": 999999}, "building_id", "unknown building"),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def test_each_refusal_names_its_field_and_changes_nothing(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
    configs: RecordingConfigs,
) -> None:
    e = await edge_id(sessions, "edge-b1")
    parts = await _building(client, auth, e)
    ids = {"e": e, "m1": await edge_id(sessions, "edge-m1"),
           **{k: v["id"] for k, v in parts.items()}}
    calls = len(configs.calls)
    for method, template, body, field_name, words in REFUSALS:
        path = template.format(**ids)
        before = await count(sessions)
        status_want = 422
        resp = await client.request(method, API + path, headers=auth, json=_fill(body, ids))
        answer = await resp.json()
        assert resp.status == status_want, (method, path, body, answer)
        got_field, reason = problem(answer)
        assert (got_field, words in reason) == (field_name, True), (method, path, answer)
        assert await count(sessions) == before, (method, path, "changed something")
    assert len(configs.calls) == calls  # nothing committed, nothing pushed


async def test_removing_what_is_in_use_is_409_naming_the_user(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
) -> None:
    e = await edge_id(sessions, "edge-b1")
    parts = await _building(client, auth, e)
    lift = await call(client, auth, "POST", "/lifts", 201, {
        "name": "L1", "device_id": parts["lift_ctl"]["id"],
        "floors": [{"floor": 1, "label": "1"}]})
    await call(client, auth, "POST", "/doors", 201, {
        "edge_id": e, "name": "car-1", "line_id": parts["osdp"]["id"], "reader_address": 9,
        "lift_id": lift["id"]})
    group = await call(client, auth, "POST", "/access-groups", 201,
                       {"site_id": "sunrise", "name": "lobby", "doors": ["B1-lobby"]})
    before = await count(sessions)
    for path, words in (
        (f"/edges/{e}", ("edge 'edge-b1' is in use (lines: bus, readers; doors: B1-garage, "
                         "B1-lobby, B1-main, car-1; devices: B1-fire, B1-lift; lifts: L1)")),
        (f"/lines/{parts['osdp']['id']}", "doors: B1-lobby, car-1"),
        (f"/lines/{parts['modbus']['id']}", "devices: B1-fire"),
        (f"/doors/{parts['door']['id']}", "access groups: lobby"),
        (f"/devices/{parts['lift_ctl']['id']}", "lifts: L1"),
        (f"/lifts/{lift['id']}", "car readers (doors): car-1"),
    ):
        answer = await call(client, auth, "DELETE", path, 409)
        assert answer["error"] == "conflict" and words in answer["detail"], answer
    assert await count(sessions) == before
    await call(client, auth, "DELETE", f"/access-groups/{group['id']}", 204)
    await call(client, auth, "DELETE", f"/doors/{parts['door']['id']}", 204)


async def test_only_admins_and_the_sites_managers_install(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
) -> None:
    e = await edge_id(sessions, "edge-b1")
    parts = await _building(client, auth, e)
    line = {"edge_id": e, "name": "more", "port": "/dev/ttyS7", "protocol": "osdp"}
    for username, role in (("g", "guard"), ("t", "technician"), ("r", "resident")):
        who = await login_as(client, sessions, username, role, "sunrise")
        before = await count(sessions)
        for method, path, body in (("POST", "/lines", line),
                                   ("PATCH", f"/doors/{parts['door']['id']}", {"label": "x"}),
                                   ("DELETE", f"/devices/{parts['device']['id']}", None),
                                   ("POST", "/edges", {"site_id": "sunrise", "name": "e-x"}),
                                   ("GET", "/audit", None)):
            answer = await call(client, who, method, path, 403, body)
            assert answer["error"] == "forbidden"
        assert await count(sessions) == before
    # a manager of another site: its edge is unknown, its parts are not found, its site not
    # theirs; the trail shows them nothing of it
    moon = await login_as(client, sessions, "m-moon", "manager", "moonbay")
    before = await count(sessions)
    assert problem(await call(client, moon, "POST", "/lines", 422, line)) == (
        "edge_id", f"unknown edge {e}")
    await call(client, moon, "PATCH", f"/doors/{parts['door']['id']}", 404, {"label": "x"})
    await call(client, moon, "DELETE", f"/lines/{parts['osdp']['id']}", 404)
    await call(client, moon, "GET", f"/lines/{parts['osdp']['id']}", 404)
    await call(client, moon, "POST", "/edges", 403, {"site_id": "sunrise", "name": "e-y"})
    await call(client, moon, "POST", "/doors", 403,
               {"site_id": "sunrise", "edge_id": e, "name": "d-y"})
    assert (await call(client, moon, "GET", "/audit", 200))["items"] == []
    await call(client, moon, "GET", "/audit?site_id=sunrise", 403)
    assert await count(sessions) == before
    # the site's own manager installs, and the trail says who
    sun = await login_as(client, sessions, "m-sun", "manager", "sunrise")
    made = await call(client, sun, "POST", "/lines", 201, line)
    trail = await call(client, sun, "GET", "/audit?resource=line&limit=1", 200)
    top = trail["items"][0]
    assert (top["actor"], top["resource_id"], top["action"], top["after"]["port"]) == (
        "m-sun", made["id"], "create", "/dev/ttyS7")
    assert trail["next"] is not None
    older = await call(client, sun, "GET", f"/audit?resource=line&before={trail['next']}", 200)
    assert [i["name"] for i in older["items"]] == ["bus", "readers"] and older["next"] is None


async def test_the_door_patch_keeps_modes_and_schedules(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
    configs: RecordingConfigs,
) -> None:
    """What PATCH /doors did before issue 15 (mode and unlock schedule) still holds."""
    schedule = await call(client, auth, "POST", "/schedules", 201, {
        "site_id": "moonbay", "name": "day",
        "windows": [{"days": [0], "start": "08:00", "end": "09:00"}]})
    doors = await call(client, auth, "GET", "/doors?site_id=sunrise", 200)
    main = next(d for d in doors["items"] if d["name"] == "B1-main")
    answer = await call(client, auth, "PATCH", f"/doors/{main['id']}", 422,
                        {"mode": "unlocked_on_schedule", "unlock_schedule_id": schedule["id"]})
    assert problem(answer) == ("unlock_schedule_id", f"no schedule {schedule['id']} in this site")
    done = await call(client, auth, "PATCH", f"/doors/{main['id']}", 200,
                      {"mode": "locked_down", "pin_required": True})
    assert done["pin_required"] is True
    scheduled = await call(client, auth, "POST", "/schedules", 201, {
        "site_id": "sunrise", "name": "day",
        "windows": [{"days": [0], "start": "08:00", "end": "09:00"}]})
    opened = await call(client, auth, "PATCH", f"/doors/{main['id']}", 200,
                        {"mode": "unlocked_on_schedule", "unlock_schedule_id": scheduled["id"]})
    assert opened["unlock_schedule_id"] == scheduled["id"]
    back = await call(client, auth, "PATCH", f"/doors/{main['id']}", 200, {"mode": "normal"})
    assert (back["mode"], back["unlock_schedule_id"]) == ("normal", None)
    assert configs.calls == []  # mode and card + PIN travel in the permissions alone
    assert (done["mode"], done["label"], done["edge"]) == ("locked_down", "Main entrance",
                                                           "edge-b1")
