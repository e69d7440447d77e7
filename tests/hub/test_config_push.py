"""Issue 15: every installation change made through the API recompiles the edge's
configuration and publishes it (retained, signed, versioned) on a real Mosquitto, on SQLite
and PostgreSQL; a removal is published too; at start-up the hub publishes what its edges
lack, and only that."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from harness.downlink import SIGNER, opened
from hub.api import create_app, create_user
from hub.edgeconfig import ConfigPublished, EdgeConfigPublisher
from hub.installation import SYSTEM, Installer, create_edge, create_line
from hub.installation.push import ConfigPusher
from hub.installation.specs import EdgeSpec, LineSpec
from hub.models import Edge, Site
from hub.mqtt import Message, MqttClient
from tests.hub.support import edge_client
from tests.support.services import MosquittoServer
from wire import ConfigSnapshot, topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
Client = TestClient[Any, Any]
PASSWORD = "installer password"


class NoPermissions:
    def registry_changed(self, *_: Any, **__: Any) -> None:
        pass


@pytest.fixture
async def pusher(mosquitto: MosquittoServer, sessions: async_sessionmaker[AsyncSession]
                 ) -> AsyncIterator[ConfigPusher]:
    async with sessions() as session, session.begin():
        session.add(Site(id="sunrise", name="Sunrise"))
        await session.flush()
        await create_user(session, "installer", PASSWORD, "admin")
    async with MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1") as mqtt:
        await mqtt.wait_ready(10)
        async with ConfigPusher(sessions, EdgeConfigPublisher(mqtt, SIGNER),
                                debounce_s=0.05) as running:
            yield running


async def retained(mosquitto: MosquittoServer, edge: str) -> ConfigSnapshot:
    topic = topics.config("sunrise", edge)
    async with edge_client(mosquitto.host, mosquitto.port, name=f"reader-{edge}",
                           subscriptions=[(topic, 1)]) as client:
        message: Message = await asyncio.wait_for(client.messages.get(), 10)
        client.ack(message)
    assert message.retain
    return ConfigSnapshot.model_validate_json(opened(message.topic, message.payload))


async def test_each_change_reaches_the_edges_retained_configuration(
        mosquitto: MosquittoServer, sessions: async_sessionmaker[AsyncSession],
        pusher: ConfigPusher) -> None:
    app = create_app(sessions=sessions, publisher=NoPermissions(), config_publisher=pusher)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/api/v1/auth/login",
                                 json={"username": "installer", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {(await resp.json())['token']}"}

        async def make(path: str, body: dict[str, Any]) -> int:
            resp = await client.post("/api/v1" + path, json=body, headers=auth)
            assert resp.status == 201, await resp.text()
            return int((await resp.json())["id"])

        edge = await make("/edges", {"site_id": "sunrise", "name": "edge-b7"})
        await pusher.wait_idle()
        assert (await retained(mosquitto, "edge-b7")).doors == []  # an empty installation
        line = await make("/lines", {"edge_id": edge, "name": "bus", "port": "/dev/ttyUSB3",
                                     "protocol": "osdp", "baudrate": 115200})
        door = await make("/doors", {"edge_id": edge, "name": "B7-main", "line_id": line,
                                     "reader_address": 4, "unlock_s": 3})
        await make("/doors", {"edge_id": edge, "name": "B7-side", "line_id": line,
                              "reader_address": 5})
        await pusher.wait_idle()
        snapshot = await retained(mosquitto, "edge-b7")
        assert [(d.id, d.reader.line, d.reader.address) for d in snapshot.doors] == [
            ("B7-main", "bus", 4), ("B7-side", "bus", 5)]
        assert [(x.id, x.port, x.baudrate) for x in snapshot.lines] == [
            ("bus", "/dev/ttyUSB3", 115200)]
        # one version per burst the pusher saw (three changes: one to three, by the timing)
        assert 2 <= snapshot.version <= 4
        resp = await client.delete(f"/api/v1/doors/{door}", headers=auth)
        assert resp.status == 204
        await pusher.wait_idle()
        after = await retained(mosquitto, "edge-b7")
        assert ([d.id for d in after.doors], after.version) == (["B7-side"], snapshot.version + 1)


class Counting(EdgeConfigPublisher):
    """Records what was really sent."""

    sent: list[tuple[str, int]]

    async def publish(self, *args: Any, **kwargs: Any) -> ConfigPublished:
        done = await super().publish(*args, **kwargs)
        if done.published:
            self.sent.append((done.edge, done.version))
        return done


async def test_at_start_up_only_what_the_edges_lack_is_published(
        mosquitto: MosquittoServer, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        session.add(Site(id="sunrise", name="Sunrise"))
        await session.flush()
        inst = Installer(session, SYSTEM)
        ids = {name: (await create_edge(inst, EdgeSpec(site_id="sunrise", name=name))).id
               for name in ("new", "changed", "held", "lost")}
    async with MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1") as mqtt:
        await mqtt.wait_ready(10)
        publisher = Counting(mqtt, SIGNER)
        publisher.sent = []
        async with ConfigPusher(sessions, publisher, sweep_on_start=False) as before:
            for name in ("changed", "held", "lost"):  # the hub that ran before
                await before.push(ids[name])
        async with sessions() as session, session.begin():
            # the edges said which they run; a change committed whose publish never happened
            await session.execute(update(Edge).where(Edge.id.in_([ids["changed"], ids["held"]]))
                                  .values(config_version_held=1))
            await create_line(Installer(session, SYSTEM), LineSpec(
                edge_id=ids["changed"], name="bus", port="/dev/ttyUSB0", protocol="osdp"))
        publisher.sent = []
        async with ConfigPusher(sessions, publisher, debounce_s=0.01, sweep_batch=2) as pusher:
            await pusher.wait_swept()
        # never published: v1; changed meanwhile: v2; lost by the broker: v1 again; held: nothing
        assert sorted(publisher.sent) == [("changed", 2), ("lost", 1), ("new", 1)]
        assert [x.id for x in (await retained(mosquitto, "changed")).lines] == ["bus"]
