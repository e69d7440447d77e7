"""The hub's account of an edge's uplink, end to end: a real outbox and uplink, the hub on a
real broker, the edge's page in the API: held back at the edge, stored up to, gaps."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from edge.config import parse_config
from edge.outbox import Outbox
from edge.uplink import Uplink
from harness.stored import RecordingGate
from hub.models import Edge
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from tests.support.mqtt import Collector
from tests.support.services import MosquittoServer, free_port
from tests.support.waiting import until
from wire import AccessData, AccessEvent, EdgeState, new_event_id, topics
from wire._base import utcnow

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def swipe(n: int) -> AccessData:
    return AccessData(door="B1-main", credential=str(1000 + n), result="denied",
                      reason="unknown_card", decision_us=5)


async def test_the_edge_page_shows_held_back_stored_up_to_and_gaps(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    settings = HubSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db", mqtt_host="127.0.0.1",
        mqtt_port=mosquitto.port, mqtt_client_id="hub-stored", http_host="127.0.0.1",
        http_port=free_port(), admin_password="stored-admin", data_dir=tmp_path / "hub")
    async with Hub(settings) as hub:
        await seed_demo(hub.sessions)
        async with hub.sessions() as session, session.begin():
            session.add(Edge(site_id="demo", name="e9"))
        async with hub.sessions() as session:
            edge_id = await session.scalar(select(Edge.id).where(Edge.name == "e9"))
        assert hub.downlink is not None
        keys = hub.downlink.public_keys
        box = Outbox(tmp_path / "outbox.db", site="demo", edge="e9")
        config = parse_config({"site": "demo", "edge": "e9", "data_dir": str(tmp_path),
                               "hub_keys": keys, "mqtt": {"port": mosquitto.port}})
        gate = RecordingGate("demo", "e9", keys)

        def state() -> EdgeState:
            return EdgeState(status="online", agent_version="test")

        async with (Uplink(config, box, state=state, version="test", gate=gate) as uplink,
                    aiohttp.ClientSession(f"{hub.url}/api/v1/") as http):
            async with http.post("auth/login", json={"username": "admin",
                                                      "password": "stored-admin"}) as r:
                http.headers["Authorization"] = f"Bearer {(await r.json())['token']}"

            async def page() -> dict[str, Any]:
                async with http.get(f"edges/{edge_id}") as r:
                    assert r.status == 200
                    return dict((await r.json())["uplink"])

            box.add_events([("B1-main", swipe(i)) for i in range(500)])
            uplink.wake()
            await until(lambda: asyncio.sleep(0, len(box) == 0), "the outbox confirmed", timeout=20)
            assert gate.refused == []
            uplink.publish_state()  # as the heartbeat does: what waits here now

            async def settled() -> dict[str, Any] | None:
                now = await page()
                return now if now["last_seq"] == 500 and now["stored_through"] == 500 else None

            now = await until(settled, "the edge page caught up", timeout=10)
            assert now == {"held_back": 0, "last_seq": 500, "stored_through": 500,
                           "highest_stored": 500, "gaps": [], "missing": 0}

            # seq 510 arrives while 501..509 never did: a gap until they come
            late = AccessEvent(id=new_event_id(), ts=utcnow(), site="demo", edge="e9",
                               device="B1-main", seq=510, data=swipe(510))
            sender = Collector("127.0.0.1", mosquitto.port, topics.stored("demo", "e9"),
                               client_id="e9-aside")
            sender.publish(topics.event("demo", "e9", "access"), late.model_dump_json().encode())
            sender.close()

            async def gap() -> dict[str, Any] | None:
                now = await page()
                return now if now["highest_stored"] == 510 else None

            now = await until(gap, "the late event stored", timeout=10)
            assert (now["stored_through"], now["gaps"], now["missing"]) == (
                500, [{"first": 501, "last": 509}], 9)
        box.close()
