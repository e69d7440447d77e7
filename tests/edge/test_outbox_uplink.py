from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest

from edge.config import parse_config
from edge.errors import ConfigError
from edge.outbox import Outbox
from edge.uplink import Uplink
from tests.support.mqtt import Collector
from tests.support.services import MosquittoServer
from wire import AccessData, EdgeState, parse_event, topics


def grant(n: int) -> AccessData:
    return AccessData(door="B1-main", credential=str(1000 + n), result="granted",
                      reason="granted", decision_us=10)


def test_outbox_numbers_events_and_survives_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", site="demo", edge="e1")
    events = [box.add_event("B1-main", grant(i)) for i in range(5)]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    box.acknowledged([1, 2, 3, 4, 5])
    box.close()
    box = Outbox(tmp_path / "o.db", site="demo", edge="e1")
    assert len(box) == 0
    # sequence numbers never repeat, even after the outbox emptied
    assert box.add_event("B1-main", grant(9)).seq == 6
    stored = box.pending()
    assert parse_event(stored[0].payload).seq == 6
    box.close()


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"doors.0.reader.address: Input should be less than"):
        parse_config({"site": "s", "edge": "e", "data_dir": str(tmp_path), "doors": [
            {"id": "d1", "reader": {"port": "/dev/x", "address": 300, "scbk": "00" * 16}}]})
    with pytest.raises(ConfigError, match="door ids repeated: d1"):
        door = {"id": "d1", "reader": {"port": "/dev/x", "scbk": "00" * 16}}
        parse_config({"site": "s", "edge": "e", "data_dir": str(tmp_path), "doors": [door, door]})


@pytest.mark.integration
async def test_events_wait_in_the_outbox_while_the_broker_is_down(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    config = parse_config({"site": "demo", "edge": "e1", "data_dir": str(tmp_path),
                           "mqtt": {"host": "127.0.0.1", "port": mosquitto.port,
                                    "backoff_min_s": 1, "backoff_max_s": 1,
                                    "wait_for_hub": False}})  # no hub here: a collector
    box = Outbox(tmp_path / "o.db", site="demo", edge="e1")
    collector = Collector("127.0.0.1", mosquitto.port, "lintel/v1/demo/e1/#")
    def state() -> EdgeState:
        return EdgeState(status="online", agent_version="test")

    async with Uplink(config, box, state=state, version="test") as uplink:
        await asyncio.wait_for(uplink.connected.wait(), 5)
        for i in range(50):
            box.add_event("B1-main", grant(i))
        uplink.wake()
        for _ in range(200):
            if len(box) == 0:
                break
            await asyncio.sleep(0.02)
        assert len(box) == 0

        mosquitto.stop()
        await asyncio.sleep(0.3)
        for i in range(50, 250):
            box.add_event("B1-main", grant(i))
        uplink.wake()
        await asyncio.sleep(0.5)
        assert len(box) == 200  # nothing leaves without the broker's acknowledgement

        mosquitto.start()
        collector.close()
        collector = Collector("127.0.0.1", mosquitto.port, "lintel/v1/demo/e1/evt/#",
                              client_id="collector-2")
        for _ in range(400):
            if len(box) == 0:
                break
            await asyncio.sleep(0.05)
        assert len(box) == 0
    received = collector.wait_for(200)
    collector.close()
    seqs = sorted({parse_event(p).seq for t, p, _ in received if "/evt/" in t})
    assert seqs == list(range(51, 251))
    box.close()


async def until_empty(box: Outbox, timeout: float) -> int:
    for _ in range(int(timeout / 0.05)):
        if len(box) == 0:
            break
        await asyncio.sleep(0.05)
    return len(box)


@pytest.mark.integration
async def test_the_outbox_flows_only_once_a_hub_answered_the_connection(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """After every (re)connect the edge says "online" and holds its outbox until a hub
    worker answers on wire.topics.ready; the test plays the hub's part."""
    config = parse_config({"site": "demo", "edge": "e3", "data_dir": str(tmp_path),
                           "mqtt": {"port": mosquitto.port, "backoff_min_s": 1,
                                    "backoff_max_s": 1}})
    box = Outbox(tmp_path / "o.db", site="demo", edge="e3")
    hub = Collector("127.0.0.1", mosquitto.port, "lintel/v1/demo/e3/#")
    def state() -> EdgeState:
        return EdgeState(status="online", agent_version="test")

    try:
        async with Uplink(config, box, state=state, version="test") as uplink:
            await asyncio.wait_for(uplink.connected.wait(), 5)
            for i in range(10):
                box.add_event("B1-main", grant(i))
            uplink.wake()
            await asyncio.sleep(1.0)
            assert len(box) == 10  # connected, but no hub has answered
            seen = {t for t, _, _ in hub.wait_for(1)}
            assert seen == {topics.state("demo", "e3")}  # it said "online", sent no event
            hub.publish(topics.ready("demo", "e3"), b"")
            assert await until_empty(box, 5) == 0

            mosquitto.stop()  # a new connection needs a new answer
            mosquitto.start()
            hub.close()
            hub = Collector("127.0.0.1", mosquitto.port, "lintel/v1/demo/e3/evt/#",
                            client_id="hub-2")
            await asyncio.wait_for(uplink.connected.wait(), 10)
            for i in range(10, 15):
                box.add_event("B1-main", grant(i))
            uplink.wake()
            await asyncio.sleep(1.0)
            assert len(box) == 5
            hub.publish(topics.ready("demo", "e3"), b"")
            assert await until_empty(box, 5) == 0
            assert sorted({parse_event(p).seq for _, p, _ in hub.wait_for(5)}) == [11, 12, 13, 14, 15]
    finally:
        hub.close()
        box.close()


@pytest.mark.integration
async def test_state_is_retained_and_the_will_marks_offline(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    config = parse_config({"site": "demo", "edge": "e2", "data_dir": str(tmp_path),
                           "mqtt": {"port": mosquitto.port}})
    box = Outbox(tmp_path / "o.db", site="demo", edge="e2")
    def state() -> EdgeState:
        return EdgeState(status="online", agent_version="t", perm_version=4)

    async with Uplink(config, box, state=state, version="t") as uplink:
        await asyncio.wait_for(uplink.connected.wait(), 5)
        await asyncio.sleep(0.2)
        watcher = Collector("127.0.0.1", mosquitto.port, topics.state("demo", "e2"))
        first = watcher.wait_for(1)
        assert first and first[0][2] is True  # retained
        assert json.loads(first[0][1])["status"] == "online"
        assert json.loads(first[0][1])["perm_version"] == 4
    last = watcher.wait_for(2)
    assert json.loads(last[-1][1])["status"] == "offline"
    watcher.close()
    box.close()


async def test_a_refused_publish_stops_the_drain_until_reconnected(tmp_path: Path) -> None:
    """paho refuses a publish once its socket is gone, before its disconnect callback has
    reached the event loop; the drain must stop there and yield, not spin (it once did,
    starving the loop so the callback never ran)."""
    config = parse_config({"site": "demo", "edge": "e1", "data_dir": str(tmp_path)})
    box = Outbox(tmp_path / "o.db", site="demo", edge="e1")
    for i in range(5):
        box.add_event("B1-main", grant(i))

    class Disconnected:  # paho's client between losing its socket and telling the loop
        calls = 0

        def publish(self, *args: object, **kwargs: object) -> SimpleNamespace:
            self.calls += 1
            return SimpleNamespace(rc=mqtt.MQTT_ERR_NO_CONN, mid=self.calls)

    uplink = Uplink(config, box, state=lambda: EdgeState(status="online", agent_version="t"),
                    version="test")
    client = Disconnected()
    uplink._client = client  # type: ignore[assignment]
    uplink.connected.set()
    uplink.hub_ready.set()
    drain = asyncio.create_task(uplink._drain())
    try:
        await asyncio.sleep(0.05)  # a spinning drain would never let this return
        assert (client.calls, uplink.connected.is_set(), uplink.reconnects) == (1, False, 1)
        assert len(box) == 5  # nothing acknowledged: all sent again after reconnecting
    finally:
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
        box.close()
