"""A stand-in for the hub's confirmations, for tests and benchmarks of the edge alone: it
collects what edges send and confirms each message's `seq` on `stored`, signed, as a hub
worker would once committed; and the edge's downlink gate for an uplink without an agent."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.trust import DownlinkRefused, DownlinkVerifier
from hub.credentials.downlink import DownlinkSigner
from wire import StoredRanges, topics
from wire.signed import unseal
from wire.stored import payload_digest, stored_bodies


class RecordingGate:
    """The agent's downlink gate for an uplink alone: verifies with the hub keys given and keeps
    every refusal as (topic, reason)."""

    def __init__(self, site: str, edge: str, hub_keys: list[str]) -> None:
        self.verifier = DownlinkVerifier(hub_keys, site=site, edge=edge)
        self.refused: list[tuple[str, str]] = []

    def open(self, topic: str, payload: bytes) -> bytes | None:
        try:
            return self.verifier.verify(topic, payload)
        except DownlinkRefused as refused:
            self.refuse(topic, refused)
            return None

    def refuse(self, topic: str, refused: DownlinkRefused) -> None:
        self.refused.append((topic, refused.reason))


class ConfirmingHub:
    """Subscribes to the edges' events and command acks under `site` (all sites: "+");
    `confirm=False` only collects (a hub that stores nothing, or whose confirmations are lost)."""

    def __init__(self, host: str, port: int, signer: DownlinkSigner, *, site: str = "+",
                 client_id: str = "test-hub", confirm: bool = True,
                 interval_s: float = 0.1) -> None:
        self.signer = signer
        self.messages: list[tuple[str, bytes]] = []
        self.confirm = confirm
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, str], list[int]] = {}
        self._digests: dict[tuple[str, str, int], set[str]] = {}  # of every message received
        self._subscribed = threading.Event()
        self._stop = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set(client_id, "test")
        filters = [(f"{topics.ROOT}/{site}/+/evt/+", 1), (f"{topics.ROOT}/{site}/+/cmd/ack", 1)]
        self.client.on_connect = lambda c, *_: c.subscribe(filters)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("the stand-in hub could not subscribe")
        self._thread = threading.Thread(target=self._confirming, args=(interval_s,), daemon=True)
        self._thread.start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        parts = topics.parse(msg.topic)
        seq = json.loads(msg.payload).get("seq")
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))
            if seq is not None:
                self._digests.setdefault((parts.site, parts.edge, seq), set()).add(
                    payload_digest(bytes(msg.payload)))
            if self.confirm and seq is not None:
                self._waiting.setdefault((parts.site, parts.edge), []).append(seq)

    def _confirming(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            with self._lock:
                waiting, self._waiting = self._waiting, {}
            for (site, edge), seqs in waiting.items():
                self.send(site, edge, seqs)

    def send(self, site: str, edge: str, seqs: list[int]) -> None:
        """Confirm `seqs` to that edge now, each with the digest of every message received
        under it (as a hub confirms what it committed)."""
        topic = topics.stored(site, edge)
        with self._lock:
            confirmed = [(seq, digest) for seq in seqs
                         for digest in self._digests.get((site, edge, seq), ())]
        for body in stored_bodies(site, edge, datetime.now(UTC), confirmed):
            self.client.publish(topic, self.signer.sign(topic, body.model_dump_json().encode()),
                                qos=1)

    def seqs(self, edge: str) -> list[int]:
        """The sequence numbers received from `edge`, in arrival order (repeats included)."""
        with self._lock:
            return [json.loads(p)["seq"] for t, p in self.messages
                    if topics.parse(t).edge == edge and "/evt/" in t]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    break
            time.sleep(0.02)
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.disconnect()
        self.client.loop_stop()


class ConfirmationWatch:
    """Listens to every edge's `stored` under `site` as an edge would (without verifying):
    which sequence numbers the hub workers confirmed, per edge."""

    def __init__(self, host: str, port: int, site: str, *,
                 client_id: str = "confirmation-watch") -> None:
        self.count = 0
        self._seqs: dict[str, set[int]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        stored = topics.stored(site, "+")
        self.client.on_connect = lambda c, *_: c.subscribe(stored, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("the confirmation watch could not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        body = StoredRanges.model_validate_json(unseal(bytes(msg.payload)).body)
        with self._lock:
            self.count += 1
            seqs = self._seqs.setdefault(body.edge, set())
            for first, last in body.ranges:
                seqs.update(range(first, last + 1))

    def confirmed(self) -> int:
        """Distinct (edge, seq) confirmed so far."""
        with self._lock:
            return sum(map(len, self._seqs.values()))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
