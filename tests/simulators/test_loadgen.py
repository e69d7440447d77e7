"""The load generator through a real Mosquitto: wire-valid events from many edges, each on
its own connection and credentials, rate-controlled, every publish acknowledged."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lintel.provision import DYNSEC_FILE, provision_edge, provision_hub
from simulators.loadgen import LoadProfile, run_load
from tests.support.mqtt import Collector
from tests.support.services import MosquittoServer
from wire import parse_event, topics


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_many_edges_publish_wire_valid_traffic_every_publish_acked() -> None:
    broker = MosquittoServer()
    broker.start()
    try:
        collector = Collector("127.0.0.1", broker.port, f"{topics.ROOT}/+/+/evt/#")
        profile = LoadProfile(port=broker.port, site="lg", edges=30, doors_per_edge=2,
                              devices_per_edge=3, swipes_per_edge_s=2, rush_every_s=1, rush_s=0.5,
                              rush_factor=3, telemetry_every_s=0.5, fault_probability=0.2,
                              duration_s=2.0, threads=2)
        out = io.StringIO()
        summary = run_load(profile, progress=out, progress_every_s=0.5, seed=7)
        received = collector.wait_for(int(summary["acked"]), timeout=10)
        collector.close()
    finally:
        broker.cleanup()
    assert summary["edges_connected"] == 30 and summary["errors"] == 0
    assert summary["sent"] == summary["acked"] == len(received) > 100
    assert set(summary["by_kind"]) == {"access", "telemetry", "device"}  # type: ignore[arg-type]
    assert "connected 30/30" in out.getvalue()
    seqs: dict[str, list[int]] = defaultdict(list)
    for topic, payload, _ in received:
        event = parse_event(payload)  # the hub's own parser accepts every one
        assert topic == topics.event("lg", event.edge, event.kind)
        seqs[event.edge].append(event.seq)
    assert len(seqs) == 30
    for edge, numbers in seqs.items():  # one connection per edge: its order is kept
        assert numbers == list(range(1, len(numbers) + 1)), edge


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_each_edge_uses_its_own_credentials_and_a_rate_cap_holds(tmp_path: Path) -> None:
    passwords = {}
    for building in ("B0", "B1", "B2", "B3", "B4"):
        identity = provision_edge(tmp_path, "lg", building)
        passwords[identity.username] = identity.password
    hub = provision_hub(tmp_path)
    broker = MosquittoServer(accounts=tmp_path / "mosquitto" / DYNSEC_FILE)
    broker.start()
    try:
        profile = LoadProfile(port=broker.port, site="lg", edges=5, swipes_per_edge_s=200,
                              duration_s=2.0, max_rate=100, threads=1, devices_per_edge=0)
        with pytest.raises(ValueError, match="passwords for only 4"):
            run_load(profile, passwords=dict(list(passwords.items())[:4]), progress=None)
        collector = Collector("127.0.0.1", broker.port, f"{topics.ROOT}/+/+/evt/#",
                              client_id=hub.username, password=hub.password)
        summary = run_load(profile, passwords=passwords, progress=None)
        received = collector.wait_for(int(summary["acked"]), timeout=10)
        collector.close()
    finally:
        broker.cleanup()
    # each edge published as its provisioned account, under its own prefix (the ACL allows
    # nothing else); the cap of 100 events/s held over the 2 s
    assert summary["edges_connected"] == 5 and summary["errors"] == 0
    assert {f"lg.{parse_event(p).edge}" for _, p, _ in received} == set(passwords)
    assert 120 <= summary["acked"] == len(received) <= 230


def test_bad_profiles_are_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="edges"):
        LoadProfile(edges=0)
    with pytest.raises(ValidationError, match="rush_s is longer"):
        LoadProfile(rush_s=100, rush_every_s=10)
    with pytest.raises(ValidationError, match="site"):
        LoadProfile(site="a/b")
    with pytest.raises(ValidationError, match="typo"):
        LoadProfile.model_validate({"typo": 1})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(LoadProfile.model_fields)),
                       st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True),
                                 st.text(max_size=20), st.none(), st.booleans())))
def test_any_profile_is_accepted_whole_or_refused_with_a_validation_error(raw: dict) -> None:
    try:
        profile = LoadProfile.model_validate(raw)
    except ValidationError:
        return
    names = profile.edge_names()
    assert len(names) == len(set(names)) == profile.edges
    assert profile.expected_rate() >= 0 and profile.rush_s <= profile.rush_every_s


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_edges_reconnect_after_a_broker_restart_and_send_their_backlog() -> None:
    """The broker goes away mid-run: every edge keeps producing into its backlog, comes back
    after its jittered delay, is handed its retained configuration again by the broker, and
    every event it produced is acknowledged (none dropped while it was offline)."""
    import threading
    import time

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    broker = MosquittoServer()
    broker.start()
    try:
        seed = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="seed")
        seed.connect("127.0.0.1", broker.port)
        seed.loop_start()
        infos = [seed.publish(topics.config("lg", f"rc-{i}"), b"cfg", qos=1, retain=True)
                 for i in range(10)]
        for info in infos:
            info.wait_for_publish(5)
        seed.disconnect()
        seed.loop_stop()
        profile = LoadProfile(port=broker.port, site="lg", edges=10, edge_prefix="rc",
                              devices_per_edge=0, swipes_per_edge_s=5, rush_factor=1,
                              duration_s=5.0, threads=2, reconnect_jitter_s=1.0, downlink=True)

        def restart() -> None:
            time.sleep(1.5)
            broker.stop()  # SIGTERM: retained messages kept in the persistence file
            time.sleep(0.5)  # edges publish into their backlog meanwhile
            broker.start()

        restarter = threading.Thread(target=restart)
        restarter.start()
        summary = run_load(profile, progress=None, seed=3)
        restarter.join()
    finally:
        broker.cleanup()
    assert summary["disconnects"] == 10 and summary["reconnects"] == 10
    assert summary["edges_connected"] == 10
    assert summary["retained"] == 20  # the configuration on the first connect and after
    assert summary["fresh_downlink"] == 0
    assert int(summary["sent"]) > 100  # type: ignore[call-overload]
    assert summary["acked"] == summary["sent"]  # the backlog too
