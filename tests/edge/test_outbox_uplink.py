from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.config import EdgeConfig, parse_config
from edge.errors import ConfigError
from edge.outbox import Outbox
from edge.uplink import Uplink
from harness.stored import ConfirmingHub, RecordingGate
from hub.credentials.downlink import DownlinkSigner
from tests.support.downlink import HUB_KEYS, SIGNER
from tests.support.mqtt import Collector
from tests.support.services import MosquittoServer
from wire import AccessData, EdgeState, StoredRanges, parse_event, topics
from wire.stored import payload_digest


def grant(n: int) -> AccessData:
    return AccessData(door="B1-main", credential=str(1000 + n), result="granted",
                      reason="granted", decision_us=10)


def test_outbox_numbers_events_and_survives_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", site="demo", edge="e1")
    events = [box.add_event("B1-main", grant(i)) for i in range(5)]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    box.confirmed([(m.seq, payload_digest(m.payload)) for m in box.pending()])
    box.close()
    box = Outbox(tmp_path / "o.db", site="demo", edge="e1")
    assert len(box) == 0
    # sequence numbers never repeat, even after the outbox emptied
    assert box.add_event("B1-main", grant(9)).seq == 6
    stored = box.pending()
    assert parse_event(stored[0].payload).seq == 6
    box.close()


def test_a_confirmation_for_another_message_under_the_seq_deletes_nothing(tmp_path: Path) -> None:
    """A hub confirms (seq, digest of the message it committed): a message that only carried
    this edge's seq (forged, or an earlier life's) lets nothing of this outbox go."""
    box = Outbox(tmp_path / "o.db", site="demo", edge="e1")
    for i in range(3):
        box.add_event("B1-main", grant(i))
    mine = {m.seq: payload_digest(m.payload) for m in box.pending()}
    forged = payload_digest(b'{"seq": 2, "forged": true}')
    kept = box.confirmed([(1, mine[1]), (2, forged), (3, mine[3])])
    assert kept == {2}
    assert [m.seq for m in box.pending()] == [2]  # the real seq 2 waits to be sent again
    assert box.confirmed([(2, forged), (2, mine[2])]) == set()  # its own digest: it goes
    assert len(box) == 0
    box.close()


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"doors.0.reader.address: Input should be less than"):
        parse_config({"site": "s", "edge": "e", "data_dir": str(tmp_path), "doors": [
            {"id": "d1", "reader": {"port": "/dev/x", "address": 300, "scbk": "00" * 16}}]})
    with pytest.raises(ConfigError, match="door ids repeated: d1"):
        door = {"id": "d1", "reader": {"port": "/dev/x", "scbk": "00" * 16}}
        parse_config({"site": "s", "edge": "e", "data_dir": str(tmp_path), "doors": [door, door]})


def uplink_for(config: EdgeConfig, box: Outbox, gate: RecordingGate | None = None) -> Uplink:
    def state() -> EdgeState:
        return EdgeState(status="online", agent_version="test")

    return Uplink(config, box, state=state, version="test",
                  gate=gate or RecordingGate(config.site, config.edge, HUB_KEYS))


async def until_len(box: Outbox, expected: int, timeout: float) -> int:
    for _ in range(int(timeout / 0.05)):
        if len(box) == expected:
            break
        await asyncio.sleep(0.05)
    return len(box)


@pytest.mark.integration
async def test_events_wait_in_the_outbox_while_the_broker_is_down(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    config = parse_config({"site": "demo", "edge": "e1", "data_dir": str(tmp_path),
                           "mqtt": {"host": "127.0.0.1", "port": mosquitto.port,
                                    "backoff_min_s": 1, "backoff_max_s": 1}})
    box = Outbox(tmp_path / "o.db", site="demo", edge="e1")
    hub = ConfirmingHub("127.0.0.1", mosquitto.port, SIGNER, site="demo")
    async with uplink_for(config, box) as uplink:
        await asyncio.wait_for(uplink.connected.wait(), 5)
        for i in range(50):
            box.add_event("B1-main", grant(i))
        uplink.wake()
        assert await until_len(box, 0, 5) == 0

        mosquitto.stop()
        await asyncio.sleep(0.3)
        for i in range(50, 250):
            box.add_event("B1-main", grant(i))
        uplink.wake()
        await asyncio.sleep(0.5)
        assert len(box) == 200  # nothing leaves without the hub's confirmation

        mosquitto.start()
        hub.close()
        hub = ConfirmingHub("127.0.0.1", mosquitto.port, SIGNER, site="demo", client_id="hub-2")
        assert await until_len(box, 0, 20) == 0
    assert sorted(set(hub.seqs("e1"))) == list(range(51, 251))
    hub.close()
    box.close()


@pytest.mark.integration
async def test_only_a_signed_confirmation_lets_events_leave_and_the_rest_are_sent_again(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """The broker's PUBACK deletes nothing; a forged or unsigned `stored` changes nothing and
    is counted; a signed one deletes exactly its ranges; what stays unconfirmed is sent again
    once `resend_after_s` has passed."""
    config = parse_config({"site": "demo", "edge": "e3", "data_dir": str(tmp_path),
                           "mqtt": {"port": mosquitto.port, "resend_after_s": 1.5}})
    box = Outbox(tmp_path / "o.db", site="demo", edge="e3")
    hub = ConfirmingHub("127.0.0.1", mosquitto.port, SIGNER, site="demo", confirm=False)
    gate = RecordingGate("demo", "e3", HUB_KEYS)
    stored = topics.stored("demo", "e3")

    def body(*ranges: tuple[int, int], edge: str = "e3") -> bytes:
        digests = "0" * 16 * sum(last - first + 1 for first, last in ranges)
        return StoredRanges(site="demo", edge=edge, ts=datetime.now(UTC), ranges=list(ranges),
                            digests=digests).model_dump_json().encode()

    forger = Ed25519PrivateKey.generate()
    try:
        async with uplink_for(config, box, gate) as uplink:
            await asyncio.wait_for(uplink.connected.wait(), 5)
            for i in range(10):
                box.add_event("B1-main", grant(i))
            uplink.wake()
            hub.wait_for(10)
            await asyncio.sleep(0.3)
            assert len(box) == 10  # the broker has them all: nothing is deleted for that

            hub.client.publish(stored, body((1, 10)), qos=1).wait_for_publish(5)  # unsigned
            hub.client.publish(stored, DownlinkSigner(forger).sign(stored, body((1, 10))),
                               qos=1).wait_for_publish(5)  # signed by a key the edge does not know
            other = topics.stored("demo", "e4")  # genuine, for another edge
            hub.client.publish(stored, SIGNER.sign(other, body((1, 10), edge="e4")),
                               qos=1).wait_for_publish(5)
            await asyncio.sleep(0.5)
            assert len(box) == 10 and uplink.refusals == 3
            assert gate.refused == [(stored, "unsigned"), (stored, "unknown_key"),
                                    (stored, "wrong_target")]

            hub.send("demo", "e3", [1, 2, 3, 5])
            assert await until_len(box, 6, 5) == 6
            assert [m.seq for m in box.pending()] == [4, 6, 7, 8, 9, 10]

            # no confirmation for the rest: sent again after resend_after_s, then confirmed
            assert await asyncio.to_thread(lambda: len(hub.wait_for(16, timeout=15))) >= 16
            assert sorted(hub.seqs("e3")[10:16]) == [4, 6, 7, 8, 9, 10]
            assert uplink.resent >= 6
            hub.send("demo", "e3", [4, 6, 7, 8, 9, 10])
            assert await until_len(box, 0, 5) == 0
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

    async with Uplink(config, box, state=state, version="t",
                      gate=RecordingGate("demo", "e2", HUB_KEYS)) as uplink:
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

    uplink = uplink_for(config, box)
    client = Disconnected()
    uplink._client = client  # type: ignore[assignment]
    uplink.connected.set()
    drain = asyncio.create_task(uplink._drain())
    try:
        await asyncio.sleep(0.05)  # a spinning drain would never let this return
        assert (client.calls, uplink.connected.is_set(), uplink.reconnects) == (1, False, 1)
        assert len(box) == 5  # nothing confirmed: all sent again after reconnecting
        assert (list(uplink._due), uplink._cursor) == ([], 0)  # all go again by the cursor
    finally:
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
        box.close()


@pytest.mark.integration
async def test_a_restarted_edge_sends_what_was_never_confirmed_and_numbers_on(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    config = parse_config({"site": "demo", "edge": "e5", "data_dir": str(tmp_path),
                           "mqtt": {"port": mosquitto.port}})
    deaf = ConfirmingHub("127.0.0.1", mosquitto.port, SIGNER, site="demo", confirm=False)
    box = Outbox(tmp_path / "o.db", site="demo", edge="e5")
    async with uplink_for(config, box) as uplink:
        await asyncio.wait_for(uplink.connected.wait(), 5)
        box.add_events([("B1-main", grant(i)) for i in range(10)])
        uplink.wake()
        await asyncio.to_thread(deaf.wait_for, 10)
    box.close()  # the edge stops with all ten sent, none confirmed
    deaf.close()

    hub = ConfirmingHub("127.0.0.1", mosquitto.port, SIGNER, site="demo", client_id="hub-5")
    box = Outbox(tmp_path / "o.db", site="demo", edge="e5")
    try:
        assert len(box) == 10
        async with uplink_for(config, box) as uplink:
            assert await until_len(box, 0, 10) == 0
            assert box.add_event("B1-main", grant(10)).seq == 11  # the numbering carries on
            uplink.wake()
            assert await until_len(box, 0, 10) == 0
        assert sorted(hub.seqs("e5")) == list(range(1, 12))
    finally:
        hub.close()
        box.close()
