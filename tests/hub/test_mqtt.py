from __future__ import annotations

import asyncio

import pytest

from hub.mqtt import MqttClient, backoff_delay
from tests.support.services import MosquittoServer


def test_backoff_is_capped_and_jittered() -> None:
    delays = [backoff_delay(attempt, 0.1, 2.0) for attempt in range(50)]
    assert all(0.1 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 40  # jitter: not a fixed ladder


@pytest.mark.integration
@pytest.mark.timeout(60)
async def test_reconnects_after_broker_restart_and_keeps_its_session(
    mosquitto: MosquittoServer,
) -> None:
    hub = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1",
                     subscriptions=[("$share/hub/t/+", 1)], backoff_min_s=0.05, backoff_max_s=0.5)
    async with hub:
        await hub.wait_ready(10)
        mosquitto.stop()
        await asyncio.sleep(0.3)
        assert not hub.connected
        mosquitto.start()  # same port; persistence keeps the hub's session
        await hub.wait_ready(15)
        async with MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="pub",
                              clean_session=True) as pub:
            await pub.wait_ready(10)
            await pub.publish("t/x", b"after restart", qos=1, timeout=10)
        message = await asyncio.wait_for(hub.messages.get(), 10)
        hub.ack(message)
    assert (message.topic, message.payload) == ("t/x", b"after restart")


@pytest.mark.integration
@pytest.mark.timeout(30)
async def test_unacked_message_is_redelivered_after_restart(mosquitto: MosquittoServer) -> None:
    def hub() -> MqttClient:
        return MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1",
                          subscriptions=[("$share/hub/t/+", 1)])

    async with hub() as first:
        await first.wait_ready(10)
        async with MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="pub",
                              clean_session=True) as pub:
            await pub.wait_ready(10)
            await pub.publish("t/x", b"m", qos=1, timeout=10)
        await asyncio.wait_for(first.messages.get(), 10)  # taken, never acknowledged
    async with hub() as second:
        again = await asyncio.wait_for(second.messages.get(), 10)
        second.ack(again)
    assert again.payload == b"m"
