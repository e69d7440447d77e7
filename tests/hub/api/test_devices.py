"""The device endpoints: filters, current state, telemetry, faults, 404 and 422."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_app
from hub.devices import apply_device_events
from hub.models import Edge
from hub.telemetry import InfluxTelemetrySink
from tests.hub.api.conftest import RecordingPublisher, problem_fields
from tests.hub.device_support import at, device_event, telemetry_event
from tests.hub.support import dumps
from wire import parse_event

Client = TestClient[Any, Any]


def _sunrise(events: list[dict[str, Any]]) -> list[Any]:
    for e in events:
        e.update(site="sunrise", edge="edge-b1")
    return [parse_event(dumps(e)) for e in events]


@pytest.fixture
async def devices(sessions: async_sessionmaker[AsyncSession]) -> None:
    events = _sunrise([
        device_event(1, "online", ts=at(0), counters={"polls": 3, "crc_errors": 1}),
        telemetry_event(2, {"floor": 2, "door": "closed"}, ts=at(1)),
        telemetry_event(3, {"floor": 4}, ts=at(2)),
        telemetry_event(4, {"floor": 6}, ts=at(3)),
        device_event(5, "fault_raised", ts=at(4), code="E01", severity="major",
                     skill="elevator", text="Door lock open", text_zh="门锁断开"),
        device_event(6, "fault_raised", ts=at(5), code="E02", severity="minor"),
        device_event(7, "fault_cleared", ts=at(6), code="E02"),
        device_event(8, "life_safety", ts=at(7), device="panel-1", device_type="fire_panel",
                     model="demo-panel", detail="zone 3 alarm: released B1-main, recalled lift-1"),
        device_event(9, "offline", ts=at(8), device="pump-1", device_type="pressure_sensor",
                     model="demo-pressure"),
    ])
    async with sessions() as session, session.begin():
        await apply_device_events(session, events, None)


async def _ids(client: Client, auth: dict[str, str]) -> dict[str, int]:
    body = await (await client.get("/api/v1/devices", headers=auth)).json()
    return {d["name"]: d["id"] for d in body["items"]}


async def test_list_and_filter_devices(client: Client, auth: dict[str, str], devices: None) -> None:
    resp = await client.get("/api/v1/devices", headers=auth)
    assert resp.status == 200
    items = {d["name"]: d for d in (await resp.json())["items"]}
    assert set(items) == {"lift-1", "panel-1", "pump-1"}
    lift = items["lift-1"]
    assert (lift["status"], lift["open_faults"], lift["last_seen"]) == (
        "online", 1, "2026-11-20T08:00:06Z")
    assert (items["panel-1"]["status"], items["panel-1"]["open_faults"]) == ("unknown", 1)
    assert items["pump-1"]["status"] == "offline"
    for query, names in (("type=elevator", {"lift-1"}), ("status=offline", {"pump-1"}),
                         ("site=sunrise&edge=edge-b1", set(items)), ("site=moonbay", set()),
                         ("status=unknown", {"panel-1"})):
        body = await (await client.get(f"/api/v1/devices?{query}", headers=auth)).json()
        assert {d["name"] for d in body["items"]} == names, query


async def test_device_state_readings_counters_and_open_faults(
    client: Client, auth: dict[str, str], devices: None
) -> None:
    ids = await _ids(client, auth)
    body = await (await client.get(f"/api/v1/devices/{ids['lift-1']}", headers=auth)).json()
    assert body["counters"] == {"polls": 3, "crc_errors": 1}
    assert [(r["name"], r["value"]) for r in body["readings"]] == [("door", "closed"),
                                                                  ("floor", 6)]
    assert [(f["code"], f["text_zh"], f["severity"], f["open"]) for f in body["faults"]] == [
        ("E01", "门锁断开", "major", True)]
    panel = await (await client.get(f"/api/v1/devices/{ids['panel-1']}", headers=auth)).json()
    assert [(f["code"], f["severity"], f["text"]) for f in panel["faults"]] == [
        ("life_safety", "critical", "zone 3 alarm: released B1-main, recalled lift-1")]


async def test_telemetry_newest_first_with_window_and_limit(
    client: Client, auth: dict[str, str], devices: None
) -> None:
    lift = (await _ids(client, auth))["lift-1"]
    url = f"/api/v1/devices/{lift}/telemetry"
    body = await (await client.get(url, headers=auth, params={"name": "floor"})).json()
    assert body["device"] == lift
    assert [p["value"] for p in body["items"]] == [6.0, 4.0, 2.0]
    window = {"name": "floor", "since": at(2).isoformat(), "until": at(3).isoformat()}
    body = await (await client.get(url, headers=auth, params=window)).json()
    assert [(p["value"], p["ts"]) for p in body["items"]] == [(4.0, "2026-11-20T08:00:02Z")]
    body = await (await client.get(url, headers=auth, params={"limit": "2"})).json()
    assert [p["value"] for p in body["items"]] == [6.0, 4.0]


async def test_faults_open_and_cleared(client: Client, auth: dict[str, str], devices: None) -> None:
    lift = (await _ids(client, auth))["lift-1"]
    url = f"/api/v1/devices/{lift}/faults"
    every = await (await client.get(url, headers=auth)).json()
    assert [f["code"] for f in every["items"]] == ["E02", "E01"]
    opened = await (await client.get(url, headers=auth, params={"open": "true"})).json()
    assert [f["code"] for f in opened["items"]] == ["E01"]
    closed = await (await client.get(url, headers=auth, params={"open": "false"})).json()
    assert [(f["code"], f["cleared_at"]) for f in closed["items"]] == [
        ("E02", "2026-11-20T08:00:06Z")]


async def test_devices_of_an_offline_edge_are_unknown_and_stale(
    client: Client, auth: dict[str, str], devices: None,
    sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(Edge).where(Edge.name == "edge-b1").values(status="offline"))
    body = await (await client.get("/api/v1/devices", headers=auth)).json()
    assert {(d["status"], d["stale"]) for d in body["items"]} == {("unknown", True)}
    assert {d["reported_status"] for d in body["items"]} == {"online", "offline", "unknown"}
    offline = await (await client.get("/api/v1/devices?status=offline", headers=auth)).json()
    assert offline["items"] == []


@pytest.mark.parametrize("path", ["/api/v1/devices/999", "/api/v1/devices/999/telemetry",
                                  "/api/v1/devices/999/faults"])
async def test_unknown_device_is_404(client: Client, auth: dict[str, str], path: str) -> None:
    resp = await client.get(path, headers=auth)
    assert resp.status == 404
    assert (await resp.json()) == {"error": "not_found", "detail": "device 999 not found",
                                   "message": "No device 999 (it may have been removed)."}


@pytest.mark.parametrize(("query", "fields"), [
    ("type=toaster", ["type"]),
    ("status=broken", ["status"]),
    ("edge=bad%20name", ["edge"]),
    ("colour=red", ["colour"]),
])
async def test_bad_device_filters_are_422(client: Client, auth: dict[str, str], query: str,
                                          fields: list[str]) -> None:
    resp = await client.get(f"/api/v1/devices?{query}", headers=auth)
    assert resp.status == 422
    assert problem_fields(await resp.json()) == fields


@pytest.mark.parametrize(("query", "fields"), [
    ({"limit": "0"}, ["limit"]),
    ({"since": "2026-11-20T08:00:00"}, ["since"]),  # no zone
    ({"since": "2026-11-20T09:00:00Z", "until": "2026-11-20T08:00:00Z"}, ["until"]),
    ({"name": "no spaces"}, ["name"]),
])
async def test_bad_telemetry_queries_are_422(client: Client, auth: dict[str, str],
                                             devices: None, query: dict[str, str],
                                             fields: list[str]) -> None:
    lift = (await _ids(client, auth))["lift-1"]
    resp = await client.get(f"/api/v1/devices/{lift}/telemetry", headers=auth, params=query)
    assert resp.status == 422
    assert problem_fields(await resp.json()) == fields


async def test_telemetry_from_a_sink_that_cannot_query_is_501(
    sessions: async_sessionmaker[AsyncSession], devices: None
) -> None:
    sink = InfluxTelemetrySink(url="http://127.0.0.1:9", token="", org="o", bucket="b")
    app = create_app(sessions=sessions, publisher=RecordingPublisher(), token_ttl_s=600,
                     telemetry_sink=sink)
    async with TestClient(TestServer(app)) as client:
        login = await client.post("/api/v1/auth/login",
                                  json={"username": "admin",
                                        "password": "correct horse battery staple"})
        auth = {"Authorization": f"Bearer {(await login.json())['token']}"}
        lift = (await _ids(client, auth))["lift-1"]
        resp = await client.get(f"/api/v1/devices/{lift}/telemetry", headers=auth)
        assert resp.status == 501
        body = await resp.json()
        assert body["error"] == "not_implemented" and "InfluxDB" in body["detail"]
        state = await client.get(f"/api/v1/devices/{lift}", headers=auth)
        assert state.status == 200 and (await state.json())["readings"]
