"""Least privilege at the broker: each edge's account is confined to its own topic prefix."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from edge.config import load_config
from lintel.provision import DYNSEC_FILE, Identity, ProvisionError, provision_edge, provision_hub
from tests.support.services import MosquittoServer
from wire import topics

pytestmark = pytest.mark.integration


def connect(port: int, username: str, password: str) -> tuple[mqtt.Client, list]:
    received: list = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{username}")
    client.username_pw_set(username, password)
    client.on_message = lambda c, u, m: received.append((m.topic, bytes(m.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, received


def test_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="site 'a/b'"):
        provision_edge(tmp_path, "a/b", "B1")
    with pytest.raises(ProvisionError, match="edge"):
        provision_edge(tmp_path, "demo", "B1#")


def test_an_edge_publishes_only_under_its_own_prefix(tmp_path: Path) -> None:
    hub = provision_hub(tmp_path)
    b1 = provision_edge(tmp_path, "demo", "B1")
    b2 = provision_edge(tmp_path, "demo", "B2")
    again = provision_edge(tmp_path, "demo", "B2")  # rotating a password keeps one entry
    assert again.password != b2.password
    accounts = (tmp_path / "mosquitto" / DYNSEC_FILE).read_text()
    assert accounts.count('"username": "demo.b2-edge"') == 1
    config = load_config(b1.config)  # the written config is a valid edge config
    assert (config.site, config.edge, config.mqtt.username) == ("demo", "b1-edge", "demo.b1-edge")
    assert yaml.safe_load(b1.config.read_text())["mqtt"]["password"] == b1.password

    broker = MosquittoServer(accounts=tmp_path / "mosquitto" / DYNSEC_FILE)
    broker.start()
    try:
        hub_client, hub_got = connect(broker.port, hub.username, hub.password)
        hub_client.subscribe(topics.shared(topics.HUB_EVENTS), qos=1)
        hub_client.subscribe(f"{topics.ROOT}/+/+/state", qos=1)
        b1_client, b1_got = connect(broker.port, b1.username, b1.password)
        b1_client.subscribe(topics.perm("demo", "b2-edge"), qos=1)  # not its own: refused
        b1_client.subscribe(topics.perm("demo", "b1-edge"), qos=1)
        time.sleep(0.5)
        b1_client.publish(topics.event("demo", "b1-edge", "access"), b"mine", qos=1).wait_for_publish(5)
        b1_client.publish(topics.event("demo", "b2-edge", "access"), b"forged", qos=1).wait_for_publish(5)
        b1_client.publish(topics.state("demo", "b2-edge"), b"forged-state", qos=1).wait_for_publish(5)
        b1_client.publish(topics.perm("demo", "b1-edge"), b"self-granted", qos=1).wait_for_publish(5)
        hub_client.publish(topics.perm("demo", "b2-edge"), b"for-b2", qos=1).wait_for_publish(5)
        hub_client.publish(topics.perm("demo", "b1-edge"), b"for-b1", qos=1).wait_for_publish(5)
        time.sleep(1.0)
        assert [p for _, p in hub_got] == [b"mine"]
        assert [p for _, p in b1_got] == [b"for-b1"]

        # a wrong password and an anonymous client are refused at connect
        for user, password in (("demo.b1-edge", "guess"), (None, None)):
            refused = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="intruder")
            if user:
                refused.username_pw_set(user, password)
            result: list = []
            refused.on_connect = lambda c, u, f, rc, p=None, result=result: result.append(rc)
            refused.connect("127.0.0.1", broker.port)
            refused.loop_start()
            deadline = time.monotonic() + 20
            while not result and time.monotonic() < deadline:
                time.sleep(0.05)
            refused.loop_stop()
            assert result and result[0].is_failure
        for client in (hub_client, b1_client):
            client.disconnect()
            client.loop_stop()
    finally:
        broker.cleanup()


def test_another_sites_building_of_the_same_name_is_a_separate_account(tmp_path: Path) -> None:
    """Every compound has a building B1: edge `b1-edge` of site `demo` and of site `park` are
    two accounts, each confined to its own site's prefix, for publishing and subscribing."""
    hub = provision_hub(tmp_path)
    demo = provision_edge(tmp_path, "demo", "B1")
    park = provision_edge(tmp_path, "park", "B1")
    assert demo.username != park.username
    broker = MosquittoServer(accounts=tmp_path / "mosquitto" / DYNSEC_FILE)
    broker.start()
    try:
        hub_client, hub_got = connect(broker.port, hub.username, hub.password)
        hub_client.subscribe(f"{topics.ROOT}/#", qos=1)
        demo_client, demo_got = connect(broker.port, demo.username, demo.password)
        park_client, _ = connect(broker.port, park.username, park.password)
        # the other site's perm, its delta and a wildcard over everything: nothing arrives
        demo_client.subscribe([(topics.perm("park", "b1-edge"), 1),
                               (topics.perm_delta("park", "b1-edge"), 1),
                               (f"{topics.ROOT}/#", 1), (topics.perm_delta("demo", "b1-edge"), 1)])
        time.sleep(0.5)
        park_client.publish(topics.event("demo", "b1-edge", "access"), b"park-as-demo",
                            qos=1).wait_for_publish(5)
        park_client.publish(topics.event("park", "b1-edge", "access"), b"park",
                            qos=1).wait_for_publish(5)
        demo_client.publish(topics.cmd_ack("park", "b1-edge"), b"demo-acks-park",
                            qos=1).wait_for_publish(5)
        hub_client.publish(topics.perm_delta("park", "b1-edge"), b"delta-park", qos=1).wait_for_publish(5)
        hub_client.publish(topics.perm("park", "b1-edge"), b"perm-park", qos=1).wait_for_publish(5)
        hub_client.publish(topics.perm_delta("demo", "b1-edge"), b"delta-demo", qos=1).wait_for_publish(5)
        time.sleep(1.0)
        edge_traffic = [p for t, p in hub_got if "/evt/" in t or t.endswith("/cmd/ack")]
        assert edge_traffic == [b"park"]
        assert [p for _, p in demo_got] == [b"delta-demo"]  # its own delta, nothing of park's
        for client in (hub_client, demo_client, park_client):
            client.disconnect()
            client.loop_stop()
    finally:
        broker.cleanup()


def subscribe_codes(client: mqtt.Client, filters: list[str]) -> dict[str, int]:
    """Each filter subscribed alone; the SUBACK's reason code for it."""
    codes: dict[str, int] = {}
    acks: list[list[int]] = []
    client.on_subscribe = lambda c, u, mid, rcs, props: acks.append([rc.value for rc in rcs])
    for topic_filter in filters:
        before = len(acks)
        client.subscribe(topic_filter, qos=1)
        deadline = time.monotonic() + 20
        while len(acks) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(acks) > before, f"no SUBACK for {topic_filter}"
        codes[topic_filter] = acks[-1][0]
    return codes


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["mqtt311", "mqtt5"])
def test_an_edge_may_not_join_the_hubs_share_group_and_nothing_is_lost(
        tmp_path: Path, protocol: int) -> None:
    """Mosquitto 2.0.11's acl_file granted an edge `$share/hub/...` and then dealt it, and
    lost, half of another edge's events; the provisioned accounts refuse the SUBACK."""
    hub = provision_hub(tmp_path)
    b1 = provision_edge(tmp_path, "demo", "B1")
    b2 = provision_edge(tmp_path, "demo", "B2")
    refused = 0x87 if protocol == mqtt.MQTTv5 else 0x80
    broker = MosquittoServer(accounts=tmp_path / "mosquitto" / DYNSEC_FILE)
    broker.start()
    clients = []
    try:
        def join(identity: Identity, name: str) -> tuple[mqtt.Client, list]:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=protocol)
            client.username_pw_set(identity.username, identity.password)
            got: list = []
            client.on_message = lambda c, u, m: got.append((m.topic, bytes(m.payload)))
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            clients.append(client)
            return client, got

        hub_client, hub_got = join(hub, "hub-1")
        b1_client, b1_got = join(b1, "b1")
        b2_client, _ = join(b2, "b2")
        assert subscribe_codes(hub_client, [topics.shared(topics.HUB_EVENTS)]) == {
            topics.shared(topics.HUB_EVENTS): 1}
        own = [topics.perm("demo", "b1-edge"), topics.perm_delta("demo", "b1-edge"),
               topics.cmd("demo", "b1-edge"), topics.stored("demo", "b1-edge"),
               f"{topics.prefix('demo', 'b1-edge')}/config"]
        foreign = [topics.shared(topics.HUB_EVENTS), topics.shared(topics.HUB_STATE),
                   topics.shared(topics.perm("demo", "b1-edge"), "b1"),  # even of its own
                   topics.HUB_EVENTS, f"{topics.ROOT}/#", "#",
                   topics.perm("demo", "b2-edge"), f"{topics.prefix('demo', 'b1-edge')}/#",
                   f"{topics.prefix('demo', 'b1-edge')}/evt/+"]
        codes = subscribe_codes(b1_client, foreign + own)
        assert {t: codes[t] for t in foreign} == dict.fromkeys(foreign, refused)
        assert {t: codes[t] for t in own} == dict.fromkeys(own, 1)

        for i in range(20):
            b2_client.publish(topics.event("demo", "b2-edge", "access"), f"e{i}".encode(),
                              qos=1).wait_for_publish(5)
        for topic in own:
            hub_client.publish(topic, b"for-b1", qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 20
        while (len(hub_got) < 20 or len(b1_got) < len(own)) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # anything more would arrive now
        assert [p for _, p in hub_got] == [f"e{i}".encode() for i in range(20)]
        assert sorted(t for t, _ in b1_got) == sorted(own)
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        broker.cleanup()


def test_the_edges_file_trusts_the_key_the_hubs_env_file_signs_with(tmp_path: Path) -> None:
    """Principle 8: the edge's own file is its trust anchor, written beside the hub's key."""
    from hub.credentials.downlink import DownlinkSigner
    from hub.credentials.keys import key_from_seed

    out = tmp_path / "deploy"
    edge = provision_edge(out, "demo", "B1")  # before the hub: the key is made on demand
    hub = provision_hub(out)
    assert edge.config is not None and hub.config is not None
    env = dict(line.split("=", 1) for line in hub.config.read_text().splitlines())
    signer = DownlinkSigner(key_from_seed(env["LINTEL_HUB_SIGNING_KEY"], "env"))
    assert load_config(edge.config).hub_keys == signer.public_keys
    # provisioning again (a password rotation) keeps the key, and adds none twice
    provision_hub(out)
    provision_edge(out, "demo", "B1")
    assert load_config(edge.config).hub_keys == signer.public_keys
    assert (out / "hub" / "hub-signing-key").stat().st_mode & 0o777 == 0o600
