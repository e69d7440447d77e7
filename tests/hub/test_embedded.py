"""The demo path: the hub on SQLite behind the embedded amqtt broker (no shared subscriptions)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.models import AccessEvent, EventLog
from hub.mqtt import MqttClient
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from lintel.broker import EmbeddedBroker
from tests.hub.support import access_event, count, dumps, event_topic
from tests.support.services import free_port
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


async def test_ingest_through_amqtt_with_stop_and_restart(tmp_path: Path) -> None:
    port = free_port()
    settings = HubSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db", mqtt_port=port,
        mqtt_shared_group=None, mqtt_username="hub", mqtt_password="demo",  # type: ignore[arg-type]
        http_port=0, data_dir=tmp_path, admin_password="pw",  # type: ignore[arg-type]
    )
    async with EmbeddedBroker(port=port):
        edge = MqttClient(host="127.0.0.1", port=port, client_id="b1-edge", clean_session=True,
                          username="b1-edge", password="demo")
        async with edge:
            await edge.wait_ready(10)
            async with Hub(settings) as hub:
                await seed_demo(hub.sessions)
                await hub.mqtt.wait_ready(10)
                live = [access_event(i) for i in range(20)]
                for event in live + live[:5]:  # five duplicates
                    await edge.publish(event_topic(event), dumps(event), qos=1, timeout=15)
                await until(lambda: _stored(hub, 20))
                await hub.ingest.wait_idle()
            # The hub is down: amqtt queues for its persistent session (it has a username).
            queued = [access_event(100 + i) for i in range(200)]
            await asyncio.gather(*(edge.publish(event_topic(e), dumps(e), qos=1, timeout=15)
                                   for e in queued))
            async with Hub(settings) as hub:
                await until(lambda: _stored(hub, 220), timeout=30)
                await asyncio.sleep(0.3)
                assert await count(hub.sessions, EventLog) == 220
                assert await count(hub.sessions, AccessEvent) == 220


async def _stored(hub: Hub, n: int) -> bool:
    return await count(hub.sessions, EventLog) >= n
