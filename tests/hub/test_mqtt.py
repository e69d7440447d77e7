from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

import hub.mqtt
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


def test_uses_only_pahos_public_api() -> None:
    """No private attribute of another object (paho's client, its messages) in hub/mqtt.py:
    a paho upgrade may rename them without notice."""
    tree = ast.parse(Path(hub.mqtt.__file__).read_text())
    private = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    ]
    assert private == []


@pytest.mark.integration
@pytest.mark.timeout(30)
async def test_reconnect_has_the_broker_send_unacknowledged_messages_again(
    mosquitto: MosquittoServer,
) -> None:
    hub = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1",
                     subscriptions=[("$share/hub/t/+", 1)], backoff_min_s=0.05)
    async with hub, MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="pub",
                               clean_session=True) as pub:
        await asyncio.gather(hub.wait_ready(10), pub.wait_ready(10))
        await pub.publish("t/x", b"m", qos=1, timeout=10)
        first = await asyncio.wait_for(hub.messages.get(), 10)  # taken, not acknowledged
        hub.reconnect()
        again = await asyncio.wait_for(hub.messages.get(), 10)
        hub.ack(again)
        hub.ack(first)  # of the old connection: void, and harmless
        await pub.publish("t/x", b"next", qos=1, timeout=10)
        following = await asyncio.wait_for(hub.messages.get(), 10)
        hub.ack(following)
    assert (first.payload, again.payload, following.payload) == (b"m", b"m", b"next")
    assert again.generation == first.generation + 1


async def test_a_stop_landing_with_the_puback_cancels_the_publisher() -> None:
    """A part's loop awaiting publish() when its hub stops: the PUBACK and the cancel come in
    one turn of the event loop. The caller must see the cancel (Python 3.11's wait_for
    returned normally then, the loop went on, and the hub's shutdown waited on it forever)."""
    client = MqttClient(host="127.0.0.1", port=1, client_id="t")  # never connects
    client._loop = asyncio.get_running_loop()
    sent: list[str] = []

    async def publisher() -> None:
        await client.publish("lintel/v1/s/e/cmd", b"{}", qos=1, timeout=30)
        sent.append("went on")

    task = asyncio.create_task(publisher())
    await asyncio.sleep(0)
    (mid,) = client._pending
    client._published(mid)  # what paho's on_publish hands the loop for the PUBACK
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent == []
