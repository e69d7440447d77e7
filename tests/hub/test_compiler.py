from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from harness.downlink import SIGNER, opened
from hub.compiler import PermissionPublisher
from hub.db import create_engine, create_sessionmaker
from hub.models import (
    AccessGroup,
    CardCredential,
    Edge,
    PermissionVersion,
    Resident,
    resident_groups,
)
from hub.mqtt import Message, MqttClient
from hub.seed import seed_demo
from tests.hub.support import edge_client
from tests.support.services import MosquittoServer
from wire import PermissionSnapshot, topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
PERM = topics.perm("demo", "b1-edge")


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await seed_demo(sessions)
    return sessions


@pytest.fixture
async def hub_mqtt(mosquitto: MosquittoServer) -> AsyncIterator[MqttClient]:
    async with MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1") as mqtt:
        await mqtt.wait_ready(10)
        yield mqtt


async def retained_snapshot(mosquitto: MosquittoServer, topic: str = PERM) -> PermissionSnapshot:
    async with edge_client(mosquitto.host, mosquitto.port, name="perm-reader",
                           subscriptions=[(topic, 1)]) as client:
        message: Message = await asyncio.wait_for(client.messages.get(), 10)
        client.ack(message)
    assert message.retain
    return PermissionSnapshot.model_validate_json(opened(message.topic, message.payload))


async def test_publishes_a_valid_snapshot_skips_unchanged_bumps_on_change(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], hub_mqtt: MqttClient
) -> None:
    publisher = PermissionPublisher(seeded, hub_mqtt, publish_all_on_start=False,
                                    downlink=SIGNER)
    [first] = await publisher.publish_site("demo")
    assert (first.edge, first.version, first.published) == ("b1-edge", 1, True)
    snap = await retained_snapshot(mosquitto)
    assert (snap.site, snap.edge, snap.version, snap.timezone) == ("demo", "b1-edge", 1,
                                                                   "Asia/Shanghai")
    assert [d.id for d in snap.doors] == ["B1-garage", "B1-main"]
    assert [d.name for d in snap.doors] == ["1号楼 车库门", "1号楼 正门"]
    assert [(g.doors, g.schedule) for g in snap.groups] == [(["B1-main"], "always")]
    assert [s.id for s in snap.schedules] == ["always"]
    assert [(c.card, c.status, c.groups) for c in snap.credentials] == [
        ("1001", "active", [snap.groups[0].id])]

    [again] = await publisher.publish_site("demo")
    assert (again.version, again.published) == (1, False)

    async with seeded() as session, session.begin():
        await session.execute(update(CardCredential).where(CardCredential.card_number == "1001")
                              .values(status="lost"))
    [changed] = await publisher.publish_site("demo")
    assert (changed.version, changed.published) == (2, True)
    snap = await retained_snapshot(mosquitto)
    assert snap.version == 2 and snap.credentials[0].status == "lost"


async def test_registry_changed_coalesces_a_burst(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], hub_mqtt: MqttClient
) -> None:
    async with PermissionPublisher(seeded, hub_mqtt, debounce_s=0.1,
                                   downlink=SIGNER) as publisher:
        await publisher.wait_idle()  # the start-up publish
        async with seeded() as session, session.begin():
            li = (await session.execute(select(Resident).where(Resident.name == "李娜"))).scalar_one()
            group = (await session.execute(select(AccessGroup))).scalar_one()
            await session.execute(insert(resident_groups).values(resident_id=li.id,
                                                                 group_id=group.id))
        for _ in range(20):
            publisher.registry_changed("demo")
        await publisher.wait_idle()
    async with seeded() as session:
        version = (await session.execute(select(PermissionVersion.version))).scalar_one()
    assert version == 2  # one bump for the burst
    snap = await retained_snapshot(mosquitto)
    assert sorted(c.card for c in snap.credentials) == ["1001", "1002"]


async def test_two_publishers_never_reuse_a_version(
    mosquitto: MosquittoServer, db_url: str, seeded: async_sessionmaker[AsyncSession]
) -> None:
    """Two hub workers on one database publish while the registry keeps changing."""
    seen: dict[int, str] = {}

    async with edge_client(mosquitto.host, mosquitto.port, name="watcher",
                           subscriptions=[(PERM, 1)]) as watcher:
        await watcher.wait_ready(10)
        engine_b = create_engine(db_url)
        try:
            sessions_b = create_sessionmaker(engine_b)
            async with MqttClient(host=mosquitto.host, port=mosquitto.port,
                                  client_id="hub-a") as mqtt_a, \
                    MqttClient(host=mosquitto.host, port=mosquitto.port,
                               client_id="hub-b") as mqtt_b:
                a = PermissionPublisher(seeded, mqtt_a, publish_all_on_start=False,
                                        downlink=SIGNER)
                b = PermissionPublisher(sessions_b, mqtt_b, publish_all_on_start=False,
                                        downlink=SIGNER)
                for step in range(8):
                    async with seeded() as session, session.begin():
                        await session.execute(
                            update(CardCredential).where(CardCredential.card_number == "1001")
                            .values(status="suspended" if step % 2 else "active",
                                    facility_code=step))
                    results = await asyncio.gather(a.publish_site("demo"), b.publish_site("demo"))
                    published = [r[0] for r in results if r[0].published]
                    assert len(published) >= 1
                    for r in published:
                        assert seen.setdefault(r.version, r.hash) == r.hash
        finally:
            await engine_b.dispose()

        versions: list[int] = []
        while not versions or versions[-1] < 8:
            message = await asyncio.wait_for(watcher.messages.get(), 10)
            watcher.ack(message)
            body = opened(message.topic, message.payload)
            versions.append(PermissionSnapshot.model_validate_json(body).version)
    # status alternates, so every step changes the content: one new version per step
    assert sorted(seen) == list(range(1, 9))
    assert versions == sorted(versions)  # the broker saw them in version order


async def _bulk_site(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    async with sessions() as session, session.begin():
        group_id = (await session.execute(select(AccessGroup.id))).scalar_one()
        residents = [{"id": 1000 + i, "site_id": "demo", "name": f"住户{i}"} for i in range(n)]
        await session.execute(insert(Resident), residents)
        await session.execute(insert(resident_groups),
                              [{"resident_id": r["id"], "group_id": group_id} for r in residents])
        await session.execute(insert(CardCredential), [
            {"site_id": "demo", "resident_id": r["id"], "card_number": f"C{r['id']:08d}",
             "status": "active"} for r in residents])


@pytest.mark.slow
async def test_compile_100k_credentials(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], hub_mqtt: MqttClient,
    db_url: str,
) -> None:
    n = 100_000
    await _bulk_site(seeded, n)
    publisher = PermissionPublisher(seeded, hub_mqtt, publish_all_on_start=False,
                                    downlink=SIGNER)
    started = time.perf_counter()
    [result] = await publisher.publish_site("demo")
    elapsed = time.perf_counter() - started
    print(f"\ncompile+publish {result.credentials} credentials on {db_url.split(':')[0]}: "
          f"{elapsed:.2f}s")
    assert result.credentials == n + 1  # its time is bench/permission_compile.py's to measure
    snap = await retained_snapshot(mosquitto)
    assert len(snap.credentials) == n + 1
    async with seeded() as session:
        assert (await session.execute(select(Edge.name))).scalar_one() == "b1-edge"
