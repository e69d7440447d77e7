"""A small asyncio wrapper over paho-mqtt 2 for the hub.

The paho network loop runs in one thread owned by `MqttClient`; received messages are
handed to asyncio with `loop.call_soon_threadsafe`. The session is persistent
(clean_session=False, fixed client id) and acknowledgement is manual, so a QoS 1 message
is acknowledged only when the caller says it is safely stored, and the broker keeps
queueing while the hub is away.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, NamedTuple, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from hub.errors import MqttError, PublishError

log = logging.getLogger(__name__)


class Message(NamedTuple):
    """One received message (a tuple: built once per message on the network thread, where a
    frozen dataclass's __init__ cost four times as much)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    # which connection delivered it: an ack is only valid on that same connection
    generation: int
    received_at: float = 0.0  # time.time() when paho handed it over (0: unknown)


def backoff_delay(attempt: int, low: float, high: float) -> float:
    """Capped exponential backoff with full jitter: uniform in [low, min(high, low*2^n)]."""
    cap = min(high, low * (2 ** min(attempt, 30)))
    return random.uniform(low, max(low, cap))


class MqttClient:
    """`async with MqttClient(...) as client:` connects (retrying in the background).

    `messages` receives every message of the subscriptions; call `ack(message)` once it is
    handled (QoS 1). `publish()` returns once the broker has acknowledged (PUBACK).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        subscriptions: Sequence[tuple[str, int]] = (),
        username: str | None = None,
        password: str | None = None,
        clean_session: bool = False,
        keepalive: int = 30,
        backoff_min_s: float = 0.2,
        backoff_max_s: float = 30.0,
        tls: bool = False,
        ca_file: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        self._username, self._password = username, password
        self._tls = (tls, ca_file)
        self._keepalive = keepalive
        self._backoff = (backoff_min_s, backoff_max_s)
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
            manual_ack=True,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set(ca_certs=ca_file)
        # Outgoing: keep many publishes in flight (snapshots for many edges) and never drop.
        self._client.max_inflight_messages_set(100)
        self._client.max_queued_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        # paho writes a packet from the calling thread unless an outside loop watches the
        # socket. Saying we watch it (paho's public external-loop hook) leaves every write to
        # the network thread, which paho's wake-up socket pair rouses from select().
        self._client.on_socket_register_write = _leave_writes_to_the_network_thread

        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        # Arrivals wait here until the loop takes them: one wake-up per burst, not per message.
        self._arrived: list[Message] = []
        self._arrived_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._network: threading.Thread | None = None
        self._stopping = threading.Event()
        self._reconnect_asked = threading.Event()
        self._generation = 0
        self._connected_once = False
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._sub_mids: set[int] = set()
        self._sub_lock = threading.Lock()  # subscriptions change on the loop, are sent on either
        self._ready = asyncio.Event()  # connected and subscribed
        self._connected = False

    def companion(self, suffix: str, subscriptions: Sequence[tuple[str, int]]) -> MqttClient:
        """Another connection to the same broker as the same user, with a clean session
        (client id `<this id>-<suffix>`): for traffic that must not mix with this one's."""
        return MqttClient(
            host=self.host, port=self.port, client_id=f"{self.client_id}-{suffix}",
            subscriptions=subscriptions, username=self._username, password=self._password,
            clean_session=True, keepalive=self._keepalive,
            backoff_min_s=self._backoff[0], backoff_max_s=self._backoff[1],
            tls=self._tls[0], ca_file=self._tls[1])

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._network = threading.Thread(
            target=self._run, name=f"mqtt-{self.client_id}", daemon=True
        )
        self._network.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Disconnect cleanly; the broker keeps the persistent session and queues for it."""
        self._stopping.set()
        if self._network is not None:
            await asyncio.to_thread(self._network.join, 10)
            self._network = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(PublishError("client closed before the broker acknowledged"))
        self._pending.clear()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def subscribed(self) -> bool:
        """Connected, and the broker acknowledged every subscription on this connection."""
        return self._ready.is_set()

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until connected and every subscription is acknowledged."""
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError as exc:
            raise MqttError(f"broker {self.host}:{self.port} not ready after {timeout}s") from exc

    # -- operations ------------------------------------------------------------------------

    async def publish(
        self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Publish and wait for the broker's acknowledgement (QoS 1/2); paho keeps a
        message that could not be sent yet and sends it after reconnecting."""
        loop = asyncio.get_running_loop()
        # No await between publish() and storing the future: PUBACKs are resolved on this
        # same event loop (see _on_publish), so none can slip in between.
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise PublishError(f"publish to {topic!r} refused: {paho.error_string(info.rc)}")
        if qos == 0:
            return
        fut: asyncio.Future[None] = loop.create_future()
        self._pending[info.mid] = fut
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for drops a cancel that lands as the
            # PUBACK does, and the caller's loop would go on after its part was stopped.
            async with asyncio.timeout(timeout):
                await asyncio.shield(fut)
        except TimeoutError as exc:
            raise PublishError(f"no PUBACK for {topic!r} within {timeout}s") from exc
        finally:
            self._pending.pop(info.mid, None)

    def ack(self, message: Message) -> None:
        """Acknowledge a QoS 1 message. An ack for a message of an earlier connection is
        dropped: the broker redelivers it on the new connection (storage is idempotent)."""
        if message.qos == 0:
            return
        if message.generation != self._generation:
            return
        self._client.ack(message.mid, message.qos)

    def subscribe(self, topic: str, qos: int) -> None:
        """Add a subscription now and on every later connect; `wait_ready()` returns once the
        broker has acknowledged it."""
        with self._sub_lock:
            if (topic, qos) in self.subscriptions:
                return
            self.subscriptions = [*self.subscriptions, (topic, qos)]
            self._ready.clear()
            if not self._connected:
                return  # the next connect subscribes
            rc, mid = self._client.subscribe(topic, qos)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                self._sub_mids.add(mid)

    def unsubscribe(self, topic: str) -> None:
        """Drop a subscription, now and on later connects."""
        with self._sub_lock:
            kept = [(t, q) for t, q in self.subscriptions if t != topic]
            if len(kept) == len(self.subscriptions):
                return
            self.subscriptions = kept
            if self._connected:
                self._client.unsubscribe(topic)

    def reconnect(self) -> None:
        """Drop this connection and open a new one: the broker then sends again every message
        not yet acknowledged (the session persists); acks of the old connection are void."""
        self._reconnect_asked.set()

    # -- the network thread -----------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        client = self._client
        while not self._stopping.is_set():
            try:
                if self._connected_once:
                    client.reconnect()
                else:
                    client.connect(self.host, self.port, self._keepalive)
                    self._connected_once = True
            except (OSError, paho.WebsocketConnectionError) as exc:
                delay = backoff_delay(attempt, *self._backoff)
                attempt += 1
                log.info("mqtt %s:%s unreachable (%s); retry in %.2fs",
                         self.host, self.port, exc, delay)
                self._stopping.wait(delay)
                continue
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            while not self._stopping.is_set() and rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                if self._reconnect_asked.is_set():
                    self._reconnect_asked.clear()
                    log.info("mqtt %s: reconnecting, as asked", self.client_id)
                    client.disconnect()  # clean: the broker keeps the session
                rc = client.loop(timeout=0.2)
            if self._stopping.is_set():
                break
            if self._connected:
                attempt = 0  # it had worked: start the backoff from the bottom again
            self._set_disconnected()
            delay = backoff_delay(attempt, *self._backoff)
            attempt += 1
            log.warning("mqtt connection lost (%s); reconnect in %.2fs",
                        paho.error_string(rc), delay)
            self._stopping.wait(delay)
        # Clean DISCONNECT: the broker keeps the session (and its queue) for next time.
        if self._connected:
            client.disconnect()
            for _ in range(20):
                if client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
        self._set_disconnected()

    def _set_disconnected(self) -> None:
        self._connected = False
        self._call(self._ready.clear)

    def _call(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # loop closed between the check and the call
                pass

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(self, client: paho.Client, _ud: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("mqtt connect refused: %s", reason)
            return
        self._generation += 1
        self._connected = True
        log.info("mqtt connected to %s:%s as %s (session present: %s)",
                 self.host, self.port, self.client_id, flags.session_present)
        with self._sub_lock:
            if not self.subscriptions:
                self._call(self._ready.set)
                return
            # Subscribe on every connect: harmless with a present session, needed without one.
            rc, mid = client.subscribe(self.subscriptions)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                self._sub_mids.add(mid)

    def _on_subscribe(self, _c: paho.Client, _ud: Any, mid: int, codes: Any, _p: Any) -> None:
        failed = [c for c in codes if c.is_failure]
        if failed:
            log.error("mqtt subscription refused: %s", failed)
            return
        with self._sub_lock:
            if mid in self._sub_mids:
                self._sub_mids.discard(mid)
                if not self._sub_mids:
                    self._call(self._ready.set)

    def _on_disconnect(self, _c: paho.Client, _ud: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected = False

    def _on_message(self, _c: paho.Client, _ud: Any, msg: paho.MQTTMessage) -> None:
        # The raw topic bytes: a topic that is not UTF-8 must reach the dead letters, not crash.
        try:
            topic = msg.topic
        except UnicodeDecodeError as exc:  # exc.object: the topic's bytes
            topic = exc.object.decode("utf-8", "replace")
        message = Message(topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid,
                          self._generation, time.time())
        with self._arrived_lock:
            self._arrived.append(message)
            first = len(self._arrived) == 1
        if first:
            self._call(self._take_arrived)

    def _take_arrived(self) -> None:
        with self._arrived_lock:
            arrived, self._arrived = self._arrived, []
        for message in arrived:
            self.messages.put_nowait(message)

    def _on_publish(self, _c: paho.Client, _ud: Any, mid: int, reason: Any, _p: Any) -> None:
        # Called with paho's message lock held: take no lock here, resolve on the loop.
        self._call(self._published, mid)

    def _published(self, mid: int) -> None:
        fut = self._pending.get(mid)
        if fut is not None and not fut.done():
            fut.set_result(None)


def _leave_writes_to_the_network_thread(_c: paho.Client, _ud: Any, _sock: Any) -> None:
    """See MqttClient.__init__: registering is all it takes; the network loop writes."""


__all__ = ["Message", "MqttClient", "backoff_delay"]
