"""Device health, faults and telemetry through the real broker into the hub's database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_app, create_user
from hub.ingest import Ingest, hub_subscriptions
from hub.models import DeadLetter, Device, DeviceFault, EventLog, TelemetryRow
from hub.mqtt import MqttClient
from hub.seed import seed_demo
from tests.hub.device_support import at, device_event, elevator_story, telemetry_event
from tests.hub.support import count, dumps, edge_client, event_topic
from tests.support.services import MosquittoServer
from tests.support.waiting import until
from wire import topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await seed_demo(sessions)
    return sessions


@pytest.fixture
async def ingest(mosquitto: MosquittoServer,
                 seeded: async_sessionmaker[AsyncSession]) -> AsyncIterator[Ingest]:
    mqtt = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1",
                      subscriptions=hub_subscriptions("hub"))
    async with mqtt, Ingest(seeded, mqtt) as running:
        await mqtt.wait_ready(10)
        yield running


async def publish(mosquitto: MosquittoServer, messages: list[tuple[str, bytes]]) -> None:
    async with edge_client(mosquitto.host, mosquitto.port) as edge:
        await edge.wait_ready(10)
        for topic, payload in messages:
            await edge.publish(topic, payload, qos=1)


async def settle(ingest: Ingest, received: int) -> None:
    async def done() -> bool:
        return ingest.stats.received >= received
    await until(done)
    await ingest.wait_idle()


async def test_device_state_faults_and_telemetry_applied_once(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], ingest: Ingest
) -> None:
    story = elevator_story()
    # each event twice at once, then the whole story again, as a broker may redeliver
    messages = [(event_topic(e), dumps(e)) for e in story for _ in range(2)]
    await publish(mosquitto, messages)
    await settle(ingest, len(messages))
    await publish(mosquitto, messages[::2])
    await settle(ingest, len(messages) + len(story))

    assert await count(seeded, EventLog) == len(story)
    assert await count(seeded, DeadLetter) == 0
    async with seeded() as session:
        devices = {d.name: d for d in await session.scalars(select(Device))}
        faults = list(await session.scalars(select(DeviceFault).order_by(DeviceFault.id)))
        rows = list(await session.scalars(select(TelemetryRow).order_by(TelemetryRow.ts)))
    assert set(devices) == {"lift-1", "pump-1"}
    lift = devices["lift-1"]
    assert (lift.site_id, lift.edge, lift.device_type, lift.model) == (
        "demo", "b1-edge", "elevator", "demo-lift")
    assert lift.status == "online" and lift.last_seen == at(8)
    assert lift.counters == {"polls": 10, "timeouts": 1}
    assert lift.telemetry is not None
    assert {k: v["value"] for k, v in lift.telemetry.items()} == {
        "floor": 5, "direction": "up", "running": True}
    assert devices["pump-1"].telemetry == {
        "pressure": {"value": 0.35, "unit": "MPa", "ts": at(9).isoformat()}}
    # E01: raised, raised again (updated), cleared; raised anew; E02 open
    summary = [(f.code, f.raise_count, f.raised_at, f.cleared_at, f.text) for f in faults]
    assert summary == [
        ("E01", 2, at(3), at(6), "Door lock circuit open (2)"),
        ("E02", 1, at(5), None, "Leveling error"),
        ("E01", 1, at(8), None, "Door lock circuit open"),
    ]
    assert faults[0].text_zh == "门锁回路断开" and faults[0].severity == "major"
    assert faults[0].skill == "elevator"
    # every reading stored once: 3 + 1 for the lift, 1 for the pump
    assert sorted((r.ts, r.device, r.name, r.value_num, r.value_text) for r in rows) == [
        (at(1), "lift-1", "direction", None, "up"), (at(1), "lift-1", "floor", 3.0, None),
        (at(1), "lift-1", "running", 1.0, None), (at(7), "lift-1", "floor", 5.0, None),
        (at(9), "pump-1", "pressure", 0.35, None),
    ]
    assert {r.unit for r in rows if r.device == "pump-1"} == {"MPa"}


async def test_older_events_do_not_overwrite_newer_state(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], ingest: Ingest
) -> None:
    newer = [device_event(2, "offline", ts=at(10), counters={"polls": 20, "timeouts": 9}),
             telemetry_event(3, {"floor": 7}, ts=at(10))]
    older = [device_event(1, "online", ts=at(5), counters={"polls": 5, "timeouts": 0}),
             telemetry_event(0, {"floor": 1}, ts=at(4))]
    await publish(mosquitto, [(event_topic(e), dumps(e)) for e in newer])
    await settle(ingest, 2)
    await publish(mosquitto, [(event_topic(e), dumps(e)) for e in older])
    await settle(ingest, 4)
    async with seeded() as session:
        lift = (await session.execute(select(Device))).scalar_one()
    # the state of 10 s stays: the online of 5 s and the floor of 4 s arrive too late to win
    assert lift.status_at == at(10) and lift.last_seen == at(10)
    assert lift.counters == {"polls": 20, "timeouts": 9}
    assert lift.telemetry is not None and lift.telemetry["floor"]["value"] == 7
    assert await count(seeded, TelemetryRow) == 2  # history keeps both readings


BAD_DEVICE = [
    ("fault without code", device_event(1, "fault_raised", ts=at(0)), "needs a fault code"),
    ("unknown device type", device_event(1, "online", ts=at(0), device_type="toaster"),
     "device_type"),
    ("unknown device event", device_event(1, "exploded", ts=at(0)), "data.event"),
    ("bad severity", device_event(1, "fault_raised", ts=at(0), code="E1", severity="meh"),
     "severity"),
    ("no readings", telemetry_event(1, {}, ts=at(0)), "readings"),
    ("not finite", telemetry_event(1, {"pressure": float("nan")}, ts=at(0)), "not a finite"),
    ("too large", telemetry_event(1, {"trips": 10**400}, ts=at(0)), "not a finite"),
    ("bad reading name", telemetry_event(1, {"floor number": 3}, ts=at(0)), "name"),
    ("unknown site", telemetry_event(1, {"floor": 3}, ts=at(0), site="nowhere"),
     "unknown site"),
]


async def test_malformed_device_and_telemetry_events_are_dead_letters(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], ingest: Ingest
) -> None:
    messages = [(event_topic(e), json.dumps(e).encode()) for _, e, _ in BAD_DEVICE]
    messages.append((topics.event("demo", "b1-edge", "device"), b'{"kind": "device"'))
    await publish(mosquitto, messages)
    await settle(ingest, len(messages))
    async with seeded() as session:
        dead = {d.payload: d.reason for d in await session.scalars(select(DeadLetter))}
    assert len(dead) == len(messages)
    for (name, _, expected), (_, payload) in zip(BAD_DEVICE, messages, strict=False):
        assert expected in dead[payload], (name, dead[payload])
    for model in (EventLog, Device, DeviceFault, TelemetryRow):
        assert await count(seeded, model) == 0


async def test_telemetry_and_stale_devices_through_the_api(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], ingest: Ingest
) -> None:
    story = elevator_story()
    await publish(mosquitto, [(event_topic(e), dumps(e)) for e in story])
    await settle(ingest, len(story))
    async with seeded() as session, session.begin():
        await create_user(session, "tech", "a long enough password", "admin")
    app = create_app(sessions=seeded, publisher=None, token_ttl_s=600)
    async with TestClient(TestServer(app)) as client:
        login = await client.post("/api/v1/auth/login",
                                  json={"username": "tech", "password": "a long enough password"})
        auth = {"Authorization": f"Bearer {(await login.json())['token']}"}

        async def get(path: str) -> Any:
            resp = await client.get(path, headers=auth)
            assert resp.status == 200, await resp.text()
            return await resp.json()

        listed = {d["name"]: d for d in (await get("/api/v1/devices"))["items"]}
        lift = listed["lift-1"]
        assert (lift["status"], lift["stale"], lift["open_faults"]) == ("online", False, 2)
        page = await get(f"/api/v1/devices/{lift['id']}/telemetry?name=floor")
        assert [(p["name"], p["value"]) for p in page["items"]] == [("floor", 5.0), ("floor", 3.0)]

        # the edge's will arrives: its devices are shown unknown and stale, not deleted
        offline = {"status": "offline", "agent_version": "0.1.0"}
        await publish(mosquitto, [(topics.state("demo", "b1-edge"), dumps(offline))])
        await settle(ingest, len(story) + 1)
        listed = {d["name"]: d for d in (await get("/api/v1/devices"))["items"]}
        assert {(d["status"], d["reported_status"], d["stale"], d["edge_status"])
                for d in listed.values()} == {("unknown", "online", True, "offline")}
        assert (await get("/api/v1/devices?status=online"))["items"] == []
        detail = await get(f"/api/v1/devices/{lift['id']}")
        assert detail["stale"] is True and detail["counters"] == {"polls": 10, "timeouts": 1}
