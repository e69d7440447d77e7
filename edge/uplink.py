"""The uplink: drains the outbox to the broker and hands the hub's messages to the agent.

A message leaves the outbox only when a hub worker confirms it committed it: signed
sequence ranges on `stored` (wire.stored). A broker's PUBACK is not storage: Mosquitto
killed before its autosave forgets what it acknowledged, and a client in the hub's `$share`
group that the broker may not deliver to takes its share and loses it. So the uplink keeps
what it sent but nobody confirmed and sends it again once it has waited `resend_after_s`
(or three times as long as the hub takes to confirm lately, when it is busy with a backlog;
doubling while nothing is confirmed at all, up to `resend_max_s`); the hub stores by event
id, so a repeat is harmless.

No `ready` handshake any more: it held the outbox until a hub worker's subscription stood,
so that a PUBACK could be trusted. With confirmations nothing is trusted to the PUBACK; what
the broker drops in that gap is sent again, and at most `unconfirmed_max` messages are out
unconfirmed at once, so sending into the void costs one window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import EdgeConfig
from edge.outbox import Outbox, OutboxMessage
from edge.tasks import Tasks
from edge.trust import DownlinkRefused
from wire import EdgeState, StoredRanges, WireError, topics
from wire._base import parse_model
from wire.state import heartbeat_s

log = logging.getLogger(__name__)


class Gate(Protocol):
    """What the uplink needs of the agent's downlink gate (edge.trust): the verified body or
    None (the gate has counted and reported the refusal), and a way to refuse a body."""

    def open(self, topic: str, payload: bytes) -> bytes | None: ...

    def refuse(self, topic: str, refused: DownlinkRefused) -> None: ...


class Uplink:
    def __init__(
        self,
        config: EdgeConfig,
        outbox: Outbox,
        *,
        state: Callable[[], EdgeState],
        version: str,
        gate: Gate,
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._state = state
        self._version = version
        self._gate = gate  # every `stored` message is verified there first
        self.incoming: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self._stored_topic = topics.stored(config.site, config.edge)
        self._wake = asyncio.Event()
        self._inflight: dict[int, int] = {}  # paho mid -> seq, until the broker's PUBACK
        self._unconfirmed: dict[int, float] = {}  # seq -> when last sent; oldest first
        self._due: deque[int] = deque()  # seqs to send again before anything new
        # verified (seq, payload digest), not yet applied to the outbox
        self._confirmations: list[tuple[int, str]] = []
        self._cursor = 0  # highest seq sent in order since start
        self._resend_after = config.mqtt.resend_after_s
        self._confirmed_since_resend = True
        # how long the hub takes to confirm lately (seconds, the slowest, decaying): a hub
        # busy with a backlog is slow, not deaf, and is not sent the same events again
        self._latency = 0.0
        self._client: mqtt.Client | None = None
        self._tasks = Tasks()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.reconnects = 0
        self.resent = 0  # messages sent again because no confirmation came in time
        self.refusals = 0  # `stored` messages refused (signature, target or body)

    @property
    def _site_edge(self) -> tuple[str, str]:
        return self._config.site, self._config.edge

    def _state_payload(self, status: str) -> bytes:
        return self._state().model_copy(update={
            "status": status, "ts": datetime.now(UTC),
            "keepalive_s": self._config.mqtt.keepalive_s,
            # what waits here for the hub's confirmation (the edge's page shows it)
            "outbox_waiting": len(self._outbox), "outbox_last_seq": self._outbox.last_seq,
        }).model_dump_json().encode()

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        cfg = self._config.mqtt
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"edge.{self._config.site}.{self._config.edge}",
            clean_session=True,
        )
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password)
        if cfg.tls:
            client.tls_set(ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
                           certfile=str(cfg.cert_file) if cfg.cert_file else None,
                           keyfile=str(cfg.key_file) if cfg.key_file else None)
        client.will_set(
            topics.state(*self._site_edge), self._state_payload("offline"), qos=1, retain=True
        )
        client.reconnect_delay_set(min_delay=cfg.backoff_min_s, max_delay=cfg.backoff_max_s)
        client.max_inflight_messages_set(cfg.inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        client.loop_start()
        self._tasks.spawn(self._drain(), "uplink-drain")
        self._tasks.spawn(self._heartbeat(), "uplink-heartbeat")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._tasks.cancel()
        client = self._client
        if client is None:
            return
        if self.connected.is_set():
            # A clean stop says so itself; the will covers the unclean ones.
            info = client.publish(
                topics.state(*self._site_edge), self._state_payload("offline"), qos=1, retain=True
            )
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3.0):
                    await asyncio.to_thread(info.wait_for_publish, 2.0)
        client.disconnect()
        client.loop_stop()
        self._client = None

    def wake(self) -> None:
        """New messages are in the outbox."""
        self._wake.set()

    def publish_state(self) -> None:
        """Publish the current state (retained) now, e.g. after a new permission snapshot."""
        if self._client is not None and self.connected.is_set():
            self._client.publish(
                topics.state(*self._site_edge), self._state_payload("online"), qos=1, retain=True
            )

    @property
    def unconfirmed(self) -> int:
        """Messages sent and not yet confirmed stored by the hub."""
        return len(self._unconfirmed) + len(self._due)

    async def _heartbeat(self) -> None:
        """Say "online" again every half keepalive while connected: the hub counts an edge it
        has not heard from for 1.25 keepalives offline (wire.state), which also covers a
        broker that died and so never sends the will."""
        every = heartbeat_s(self._config.mqtt.keepalive_s)
        while True:
            await self.connected.wait()
            await asyncio.sleep(every)
            self.publish_state()

    # paho callbacks run on paho's network thread: hand everything to the loop.
    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        if rc.is_failure:
            log.warning("broker refused the connection: %s", rc)
            return
        site, edge = self._site_edge
        client.subscribe([(topics.perm(site, edge), 1), (topics.cmd(site, edge), 1),
                          (topics.config(site, edge), 1),
                          (topics.perm_delta(site, edge), 1), (self._stored_topic, 1)])
        client.publish(topics.state(site, edge), self._state_payload("online"), qos=1, retain=True)
        self._call(self._connected)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        self._call(self._disconnected)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any = None) -> None:
        self._call(self._published, mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._stored_topic:
            self._call(self._stored, bytes(message.payload))
            return
        self._call(self.incoming.put_nowait, (message.topic, bytes(message.payload)))

    def _connected(self) -> None:
        log.info("uplink connected to %s:%s", self._config.mqtt.host, self._config.mqtt.port)
        self.connected.set()
        self._wake.set()

    def _disconnected(self) -> None:
        if self._client is None:
            return  # the uplink has stopped (the outbox may be closed already)
        if self.connected.is_set():
            self.reconnects += 1
            log.warning("uplink lost the broker; %d messages wait in the outbox", len(self._outbox))
        self.connected.clear()
        # What the broker never acknowledged is sent again first after reconnecting; what it
        # did acknowledge waits for its confirmation (or its resend time) as before.
        for seq in sorted(self._inflight.values()):
            self._unconfirmed.pop(seq, None)
            self._due.append(seq)
        self._inflight.clear()

    def _published(self, mid: int) -> None:
        if self._inflight.pop(mid, None) is not None:
            self._wake.set()

    def _stored(self, payload: bytes) -> None:
        """A hub worker's confirmation: verified here, applied to the outbox by the drain."""
        body = self._gate.open(self._stored_topic, payload)
        if body is None:
            self.refusals += 1
            return
        try:
            confirmed = parse_model(StoredRanges, body)
        except WireError as exc:
            self.refusals += 1
            self._gate.refuse(self._stored_topic, DownlinkRefused("invalid", exc.reason))
            return
        if (confirmed.site, confirmed.edge) != self._site_edge:
            # signed for this topic yet naming another edge: the hub never does that
            self.refusals += 1
            self._gate.refuse(self._stored_topic, DownlinkRefused(
                "wrong_target", f"confirmation for {confirmed.site}/{confirmed.edge}"))
            return
        if confirmed.seq_floor is not None and self._outbox.continue_after(confirmed.seq_floor):
            log.warning("the hub knows this edge used sequence numbers up to %d, above this "
                        "outbox's: it was wiped or restored from an old copy; numbering "
                        "continues after %d", confirmed.seq_floor, confirmed.seq_floor)
            self.publish_state()
        self._confirmations.extend(confirmed.confirmed())
        self._wake.set()

    def _apply_confirmations(self, now: float) -> None:
        confirmations, self._confirmations = self._confirmations, []
        kept = self._outbox.confirmed(confirmations)  # another message under that seq: not ours
        tracked = self._unconfirmed
        oldest = now
        for seq, _digest in confirmations:
            if seq in kept:
                continue
            sent = tracked.pop(seq, None)
            if sent is not None and sent < oldest:
                oldest = sent
        self._latency = max(now - oldest, self._latency * 0.98)
        self._confirmed_since_resend = True
        self._resend_after = self._config.mqtt.resend_after_s

    def _take_overdue(self, now: float) -> None:
        """Unconfirmed past their time go to `_due`; the wait doubles while the hub confirms
        nothing at all (it is away, or its broker), and starts again at the first confirmation."""
        cutoff = now - max(self._resend_after, 3 * self._latency)
        overdue = []
        for seq, sent in self._unconfirmed.items():
            if sent > cutoff:
                break
            overdue.append(seq)
        if not overdue:
            return
        for seq in overdue:
            del self._unconfirmed[seq]
        self._due.extend(sorted(overdue))
        log.info("%d messages not confirmed within %.0f s: sending them again",
                 len(overdue), now - cutoff)
        if not self._confirmed_since_resend:
            self._resend_after = min(self._resend_after * 2, self._config.mqtt.resend_max_s)
        self._confirmed_since_resend = False

    def _next_batch(self, room: int) -> list[OutboxMessage]:
        """Up to `room` messages: overdue ones first (in seq order), then new ones in order."""
        batch: list[OutboxMessage] = []
        while self._due and len(batch) < room:
            first = last = self._due.popleft()
            while self._due and self._due[0] == last + 1 and last - first + 1 < room - len(batch):
                last = self._due.popleft()
            found = self._outbox.pending(after_seq=first - 1, upto=last, limit=last - first + 1)
            self.resent += len(found)
            batch.extend(found)  # missing ones were confirmed meanwhile
        fresh = min(room - len(batch), self._config.mqtt.unconfirmed_max - self.unconfirmed)
        if fresh > 0:
            batch.extend(self._outbox.pending(after_seq=self._cursor, limit=fresh))
        return batch

    async def _drain(self) -> None:
        window = self._config.mqtt.inflight
        while True:
            await self.connected.wait()
            self._wake.clear()
            now = time.monotonic()
            if self._confirmations:
                self._apply_confirmations(now)
            self._take_overdue(now)
            room = window - len(self._inflight)
            batch = self._next_batch(room) if room > 0 else []
            for n, message in enumerate(batch):
                assert self._client is not None
                info = self._client.publish(
                    message.topic, message.payload, qos=message.qos, retain=message.retain
                )
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    # Disconnected before paho's callback reached the loop: stop now, or this
                    # loop would spin without yielding and the callback would never run.
                    # The resends not sent yet stay due; new ones follow the cursor anyway.
                    unsent = [m.seq for m in batch[n:] if m.seq <= self._cursor]
                    self._disconnected()
                    self._due = deque(sorted({*self._due, *unsent}))
                    break
                self._inflight[info.mid] = message.seq
                self._unconfirmed.pop(message.seq, None)
                self._unconfirmed[message.seq] = now
                self._cursor = max(self._cursor, message.seq)
            if not batch or room <= 0:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                # that lands as the wait completes, and the agent would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await self._wake.wait()
