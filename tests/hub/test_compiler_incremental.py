"""The compiler recompiles only the edges a change reaches: two buildings, two edges, real
Mosquitto, SQLite and PostgreSQL, changes made through the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from harness.downlink import SIGNER, opened
from hub.api import create_app
from hub.api.core.auth import create_user
from hub.compiler import PermissionPublisher, affected_edges, compile_edge, load_registry
from hub.compiler import publisher as publisher_module
from hub.compiler.delta import merge
from hub.models import AccessGroup, Door, Edge, PermissionVersion, Resident, Site
from hub.mqtt import MqttClient
from tests.hub.support import edge_client
from tests.support.services import MosquittoServer
from wire import PermissionDelta, PermissionSnapshot, topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
PASSWORD = "correct horse battery staple"


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as s, s.begin():
        s.add(Site(id="two", name="Two buildings"))
        await s.flush()
        ea, eb = Edge(site_id="two", name="edge-a"), Edge(site_id="two", name="edge-b")
        s.add_all([ea, eb])
        await s.flush()
        da = Door(site_id="two", edge_id=ea.id, name="A-main")
        db = Door(site_id="two", edge_id=eb.id, name="B-main")
        s.add_all([da, db])
        await s.flush()
        ga = AccessGroup(site_id="two", name="A", doors=[da])
        gb = AccessGroup(site_id="two", name="B", doors=[db])
        s.add_all([ga, gb])
        await s.flush()
        ra = Resident(site_id="two", name="in A", groups=[ga])
        s.add(ra)
        await create_user(s, "admin", PASSWORD, "admin")
        await s.flush()
        return {"edge_a": ea.id, "edge_b": eb.id, "resident_a": ra.id, "group_b": gb.id,
                "door_b": db.id}


async def _versions(sessions: async_sessionmaker[AsyncSession]) -> dict[int, int]:
    async with sessions() as s:
        rows = (await s.execute(select(PermissionVersion.edge_id, PermissionVersion.version))).all()
    return dict(rows)  # type: ignore[arg-type]


@pytest.fixture
async def api(
    sessions: async_sessionmaker[AsyncSession], mosquitto: MosquittoServer
) -> AsyncIterator[tuple[TestClient[Any, Any], PermissionPublisher, dict[str, int]]]:
    ids = await _seed(sessions)
    async with (
        MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-inc") as mqtt,
        PermissionPublisher(sessions, mqtt, debounce_s=0.01, downlink=SIGNER) as publisher,
    ):
        await mqtt.wait_ready(10)
        await publisher.wait_idle()
        app = create_app(sessions=sessions, publisher=publisher)
        async with TestClient(TestServer(app)) as client:
            resp = await client.post("/api/v1/auth/login",
                                     json={"username": "admin", "password": PASSWORD})
            client.session.headers["Authorization"] = f"Bearer {(await resp.json())['token']}"
            yield client, publisher, ids


async def test_a_card_change_recompiles_only_the_edges_its_holder_reaches(
    api: tuple[TestClient[Any, Any], PermissionPublisher, dict[str, int]],
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, publisher, ids = api
    compiled: list[str] = []

    def recording(site_id: str, edge_id: int, edge_name: str, reg: Any) -> Any:
        compiled.append(edge_name)
        return compile_edge(site_id, edge_id, edge_name, reg)

    monkeypatch.setattr(publisher_module, "compile_edge", recording)
    start = await _versions(sessions)
    assert set(start) == {ids["edge_a"], ids["edge_b"]}

    resp = await client.post("/api/v1/cards",
                             json={"resident_id": ids["resident_a"], "card_number": "555"})
    assert resp.status == 201
    card = await resp.json()
    await publisher.wait_idle()
    after = await _versions(sessions)
    assert after[ids["edge_a"]] == start[ids["edge_a"]] + 1
    assert after[ids["edge_b"]] == start[ids["edge_b"]]
    assert compiled == ["edge-a"]  # edge B was not even compiled

    async with sessions() as s:
        assert await affected_edges(s, residents=[ids["resident_a"]]) == {ids["edge_a"]}
        assert await affected_edges(s, groups=[ids["group_b"]]) == {ids["edge_b"]}
        assert await affected_edges(s, doors=[ids["door_b"]]) == {ids["edge_b"]}
        assert await affected_edges(s) == set()

    # moving the holder into group B reaches both edges (left A, joined B)
    resp = await client.patch(f"/api/v1/residents/{ids['resident_a']}",
                              json={"groups": [ids["group_b"]]})
    assert resp.status == 200
    await publisher.wait_idle()
    moved = await _versions(sessions)
    assert moved[ids["edge_a"]] == after[ids["edge_a"]] + 1  # the card left edge A
    assert moved[ids["edge_b"]] == after[ids["edge_b"]] + 1  # and arrived at edge B

    resp = await client.patch(f"/api/v1/cards/{card['id']}", json={"status": "revoked"})
    assert resp.status == 200
    await publisher.wait_idle()
    revoked = await _versions(sessions)
    assert revoked[ids["edge_b"]] == moved[ids["edge_b"]] + 1
    assert revoked[ids["edge_a"]] == moved[ids["edge_a"]]  # untouched
    assert compiled == ["edge-a", "edge-a", "edge-b", "edge-b"]

    # a holiday concerns every edge of the site
    resp = await client.post("/api/v1/holidays", json={"site_id": "two", "day": "2026-10-01"})
    assert resp.status == 201
    await publisher.wait_idle()
    assert compiled[4:] == ["edge-a", "edge-b"]


async def test_a_revocation_goes_out_as_a_delta_before_the_snapshot(
    api: tuple[TestClient[Any, Any], PermissionPublisher, dict[str, int]],
    mosquitto: MosquittoServer,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, publisher, ids = api
    merged: list[str] = []

    def spy(last: Any, part: Any, residents: set[int]) -> Any:
        merged.append(part.edge)
        return merge(last, part, residents)

    monkeypatch.setattr(publisher_module, "merge", spy)
    resp = await client.post("/api/v1/cards",
                             json={"resident_id": ids["resident_a"], "card_number": "777"})
    card = await resp.json()
    await publisher.wait_idle()
    wanted = [(topics.perm_delta("two", "edge-a"), 1), (topics.perm("two", "edge-a"), 1)]
    async with edge_client(mosquitto.host, mosquitto.port, name="edge-a-watch",
                           subscriptions=wanted) as watch:
        retained = await asyncio.wait_for(watch.messages.get(), 10)  # the snapshot held now
        watch.ack(retained)
        held = PermissionSnapshot.model_validate_json(opened(retained.topic, retained.payload))

        resp = await client.patch(f"/api/v1/cards/{card['id']}", json={"status": "revoked"})
        assert resp.status == 200
        first = await asyncio.wait_for(watch.messages.get(), 10)
        second = await asyncio.wait_for(watch.messages.get(), 10)
        watch.ack(first)
        watch.ack(second)
    assert first.topic == topics.perm_delta("two", "edge-a")
    delta = PermissionDelta.model_validate_json(opened(first.topic, first.payload))
    assert (delta.base_version, delta.base_hash) == (held.version, held.hash)
    assert [(c.card, c.status) for c in delta.upsert] == [("777", "revoked")]
    assert delta.remove == []
    full = PermissionSnapshot.model_validate_json(opened(second.topic, second.payload))
    assert (full.version, full.hash) == (delta.version, delta.hash)
    # issue and revocation patched edge A's last snapshot; the patch equals a full compile
    assert merged == ["edge-a", "edge-a"]  # the card issued, then revoked
    async with sessions() as s:
        reg = await load_registry(s, "two")
    reg.downlink_keys = SIGNER.public_keys  # as the publisher fills it in
    fresh = compile_edge("two", ids["edge_a"], "edge-a", reg)
    assert fresh.content_hash() == full.hash
    assert [(c.card, c.status) for c in full.credentials] == [("777", "revoked")]


async def test_no_delta_when_more_than_credentials_changed(
    api: tuple[TestClient[Any, Any], PermissionPublisher, dict[str, int]],
    mosquitto: MosquittoServer,
) -> None:
    client, publisher, ids = api
    async with edge_client(mosquitto.host, mosquitto.port, name="edge-b-watch",
                           subscriptions=[(topics.perm_delta("two", "edge-b"), 1)]) as watch:
        await asyncio.sleep(0.3)  # subscribed
        resp = await client.patch(f"/api/v1/doors/{ids['door_b']}", json={"label": "New"})
        assert resp.status == 200
        await publisher.wait_idle()
        await asyncio.sleep(0.5)
        assert watch.messages.empty()
