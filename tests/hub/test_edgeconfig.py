"""hub.edgeconfig on SQLite and PostgreSQL with a real Mosquitto: versions grow per edge and
only with a change, the retained message verifies as the edge checks it, a failed publish
bumps nothing, and what the edge reports running or refused reaches the edge's detail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from harness.downlink import SIGNER, opened
from hub.api.registry.edges import config_of
from hub.edgeconfig import EdgeConfigPublisher
from hub.errors import NotFound, PublishError
from hub.liveness import record_states
from hub.models import Edge, EdgeConfigVersion
from hub.mqtt import Message, MqttClient
from hub.seed import seed_demo
from tests.hub.support import edge_client
from tests.support.services import MosquittoServer
from wire import ConfigContent, ConfigSnapshot, EdgeState, topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
SITE, EDGE = "demo", "b1-edge"
KEY = "ab" * 16


def content(unlock_s: float = 5.0) -> ConfigContent:
    return ConfigContent.model_validate({
        "site": SITE, "edge": EDGE,
        "lines": [{"id": "bus-a", "port": "/dev/ttyUSB0", "protocol": "osdp"}],
        "doors": [{"id": "B1-main", "unlock_s": unlock_s,
                   "reader": {"line": "bus-a", "address": 1, "scbk": KEY}}]})


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await seed_demo(sessions)
    return sessions


@pytest.fixture
async def hub_mqtt(mosquitto: MosquittoServer) -> AsyncIterator[MqttClient]:
    async with MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1") as mqtt:
        await mqtt.wait_ready(10)
        yield mqtt


async def retained(mosquitto: MosquittoServer) -> ConfigSnapshot:
    topic = topics.config(SITE, EDGE)
    async with edge_client(mosquitto.host, mosquitto.port, name="config-reader",
                           subscriptions=[(topic, 1)]) as client:
        message: Message = await asyncio.wait_for(client.messages.get(), 10)
        client.ack(message)
    assert message.retain
    return ConfigSnapshot.model_validate_json(opened(message.topic, message.payload))


async def test_versions_grow_only_with_a_change_and_the_retained_one_verifies(
        mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession],
        hub_mqtt: MqttClient) -> None:
    publisher = EdgeConfigPublisher(hub_mqtt, SIGNER)

    async def publish(config: ConfigContent, force: bool = False) -> tuple[int, bool]:
        async with seeded() as session, session.begin():
            done = await publisher.publish(session, SITE, EDGE, config, force=force)
        return done.version, done.published

    assert await publish(content()) == (1, True)
    assert await publish(content()) == (1, False)  # unchanged: nothing sent
    assert await publish(content(), force=True) == (1, True)
    assert await publish(content(7.0)) == (2, True)
    snapshot = await retained(mosquitto)
    assert (snapshot.version, snapshot.doors[0].unlock_s) == (2, 7.0)
    assert snapshot.hash == content(7.0).content_hash()

    with pytest.raises(NotFound):
        async with seeded() as session, session.begin():
            await publisher.publish(session, SITE, "b9-edge", content().model_copy(
                update={"edge": "b9-edge"}))
    with pytest.raises(ValueError, match="names demo/b1-edge, not demo/b2-edge"):
        async with seeded() as session, session.begin():
            await publisher.publish(session, SITE, "b2-edge", content())


async def test_a_failed_publish_bumps_no_version(
        mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession]) -> None:
    async with MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-2") as mqtt:
        await mqtt.wait_ready(10)
        publisher = EdgeConfigPublisher(mqtt, SIGNER, timeout_s=1.0)
        mosquitto.stop()
        with pytest.raises(PublishError):
            async with seeded() as session, session.begin():
                await publisher.publish(session, SITE, EDGE, content())
    async with seeded() as session:
        assert await session.scalar(select(EdgeConfigVersion.version)) is None


async def test_what_the_edge_runs_and_refused_reaches_its_detail(
        seeded: async_sessionmaker[AsyncSession]) -> None:
    def state(running: int, refused: int | None, why: str | None) -> EdgeState:
        return EdgeState(status="online", agent_version="t", config_version=running,
                         config_refused_version=refused, config_refused=why,
                         ts=datetime.now(UTC))

    async def report(s: EdgeState) -> Edge:
        message = Message(topics.state(SITE, EDGE), s.model_dump_json().encode(), 1, False, 1, 0)
        async with seeded() as session, session.begin():
            await record_states(session, [(message, topics.parse(message.topic), s)],
                                datetime.now(UTC))
        async with seeded() as session:
            edge = await session.scalar(select(Edge).where(Edge.name == EDGE))
            assert edge is not None
            return edge

    edge = await report(state(3, 4, "serial_port_missing: door X: serial port /dev/x ..."))
    out = config_of(edge, 4)
    assert (out.version, out.running_version, out.refused_version) == (4, 3, 4)
    assert out.refused is not None and out.refused.startswith("serial_port_missing")
    edge = await report(state(5, 4, "serial_port_missing: old news"))  # v5 runs: over
    out = config_of(edge, 5)
    assert (out.running_version, out.refused, out.refused_version) == (5, None, None)
