"""The uplink: drains the outbox to the broker and hands the hub's messages to the agent.

A message leaves the outbox only on the broker's PUBACK. When the connection drops,
everything not yet acknowledged is sent again after reconnecting; the hub stores by
event id, so a repeat is harmless. After each (re)connect the outbox waits until a hub
worker answers this edge's "online" state (wire.topics.ready): only then is the hub's
subscription known to stand, and a PUBACK worth deleting an event for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt

from wire import EdgeState, topics
from wire.state import heartbeat_s

from edge.config import EdgeConfig
from edge.outbox import Outbox

log = logging.getLogger(__name__)

ASK_FIRST_S = 5.0  # no answer from the hub yet: say "online" again after this, doubling
ASK_MAX_S = 120.0


class Uplink:
    def __init__(
        self,
        config: EdgeConfig,
        outbox: Outbox,
        *,
        state: Callable[[], EdgeState],
        version: str,
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._state = state
        self._version = version
        self.incoming: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.hub_ready = asyncio.Event()  # a hub worker answered on this connection
        self._ready_topic = topics.ready(config.site, config.edge)
        self._wake = asyncio.Event()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq
        self._acked: list[int] = []
        self._cursor = 0  # highest seq handed to the client since the last (re)connect
        self._client: mqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.reconnects = 0

    @property
    def _site_edge(self) -> tuple[str, str]:
        return self._config.site, self._config.edge

    def _state_payload(self, status: str) -> bytes:
        current = self._state()
        return current.model_copy(
            update={"status": status, "ts": datetime.now(timezone.utc),
                    "keepalive_s": self._config.mqtt.keepalive_s}
        ).model_dump_json().encode()

    async def __aenter__(self) -> "Uplink":
        self._loop = asyncio.get_running_loop()
        cfg = self._config.mqtt
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
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
        self._task = asyncio.create_task(self._drain(), name="uplink-drain")
        self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="uplink-heartbeat")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in (self._task, self._heartbeat_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        client = self._client
        if client is None:
            return
        if self.connected.is_set():
            # A clean stop says so itself; the will covers the unclean ones.
            info = client.publish(
                topics.state(*self._site_edge), self._state_payload("offline"), qos=1, retain=True
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(info.wait_for_publish, 2.0), 3.0)
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
        # Subscribed before "online" is published: the hub's answer cannot come too early.
        client.subscribe([(topics.perm(site, edge), 1), (topics.cmd(site, edge), 1),
                          (topics.perm_delta(site, edge), 1), (self._ready_topic, 0)])
        client.publish(topics.state(site, edge), self._state_payload("online"), qos=1, retain=True)
        self._call(self._connected)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        self._call(self._disconnected)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any = None) -> None:
        self._call(self._published, mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._ready_topic:
            self._call(self.hub_ready.set)
            return
        self._call(self.incoming.put_nowait, (message.topic, bytes(message.payload)))

    def _connected(self) -> None:
        log.info("uplink connected to %s:%s", self._config.mqtt.host, self._config.mqtt.port)
        self.hub_ready.clear()  # an answer counts for the connection it came on
        self.connected.set()
        self._wake.set()

    def _disconnected(self) -> None:
        if self._client is None:
            return  # the uplink has stopped (the outbox may be closed already)
        if self.connected.is_set():
            self.reconnects += 1
            log.warning("uplink lost the broker; %d messages wait in the outbox", len(self._outbox))
        self.connected.clear()
        self.hub_ready.clear()
        # Whatever was not acknowledged is sent again after reconnecting.
        self._inflight.clear()
        self._cursor = 0

    def _published(self, mid: int) -> None:
        seq = self._inflight.pop(mid, None)
        if seq is not None:
            self._acked.append(seq)
            self._wake.set()

    async def _sendable(self) -> None:
        """Until connected and, unless configured otherwise, answered by the hub."""
        ask_every = ASK_FIRST_S
        while True:
            await self.connected.wait()
            if self.hub_ready.is_set() or not self._config.mqtt.wait_for_hub:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ask_every):
                    await self.hub_ready.wait()
            if not self.hub_ready.is_set() and self.connected.is_set():
                log.info("no hub has answered yet; %d messages wait in the outbox",
                         len(self._outbox))
                self.publish_state()  # a hub worker answers every edge that says "online"
                ask_every = min(ask_every * 2, ASK_MAX_S)

    async def _drain(self) -> None:
        window = self._config.mqtt.inflight
        while True:
            await self._sendable()
            self._wake.clear()
            if self._acked:
                acked, self._acked = self._acked, []
                self._outbox.acknowledged(acked)
            room = window - len(self._inflight)
            batch = self._outbox.pending(after_seq=self._cursor, limit=room) if room > 0 else []
            for message in batch:
                assert self._client is not None
                info = self._client.publish(
                    message.topic, message.payload, qos=message.qos, retain=message.retain
                )
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    # Disconnected before paho's callback reached the loop: stop now, or this
                    # loop would spin without yielding and the callback would never run.
                    self._disconnected()
                    break
                self._inflight[info.mid] = message.seq
                self._cursor = message.seq
            if not batch or room <= 0:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                # that lands as the wait completes, and the agent would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()
