"""Load generator: many simulated edges publishing realistic, wire-valid traffic through a
real broker (`lintel sim load`).

Each simulated edge is its own MQTT client (client id `load.<site>.<edge>`, its own credentials
when given), with its doors and devices: card swipes at a base rate with rush-hour bursts,
telemetry from each device every `telemetry_every_s`, and now and then a device fault raised
and cleared. Events are QoS 1 with a per-edge sequence; an event's `ts` is the moment it is
published, so a consumer can measure publish-to-stored latency.

Connections are spread over a few threads, each driving its clients with one selector (paho's
external-loop API: `loop_read` / `loop_write` / `loop_misc`), so a thousand connections fit in
one process on two cores.

With `reconnect_jitter_s` an edge whose connection drops (a broker restart) keeps producing
events into its client's queue (its backlog) and connects again after a random delay up to
that many seconds, as a fleet would after an outage; with `downlink` each edge subscribes to
its retained permissions and configuration on every connect and counts what the broker hands
it, so a benchmark can see the broker, not the hub, redeliver them.
"""

from __future__ import annotations

import heapq
import math
import random
import selectors
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO, TypedDict

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field, model_validator

from wire import (
    AccessData,
    AccessEvent,
    DeviceData,
    DeviceEvent,
    Reading,
    TelemetryData,
    TelemetryEvent,
    new_event_id,
    topics,
)
from wire.devices import DeviceType, Severity

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class LoadProfile(BaseModel):
    """What the simulated edges send; strict, so a typo in a profile file is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    site: str = Field(default="load", min_length=1, max_length=64, pattern=_NAME)
    edges: int = Field(default=10, ge=1, le=20_000)
    edge_prefix: str = Field(default="load", min_length=1, max_length=40, pattern=_NAME)
    doors_per_edge: int = Field(default=2, ge=1, le=64)
    devices_per_edge: int = Field(default=1, ge=0, le=64)
    swipes_per_edge_s: float = Field(default=0.2, ge=0, le=1000, description="outside rush hour")
    rush_factor: float = Field(default=5.0, ge=1, le=100, description="swipe rate multiplier in a rush")
    rush_every_s: float = Field(default=60, gt=0, description="a rush hour starts this often")
    rush_s: float = Field(default=10, ge=0, description="and lasts this long")
    telemetry_every_s: float = Field(default=30, gt=0, le=86_400)
    fault_probability: float = Field(default=0.01, ge=0, le=1,
                                     description="chance a telemetry tick raises a fault")
    max_rate: float | None = Field(default=None, gt=0, description="cap on events/s, all edges")
    duration_s: float = Field(default=30, gt=0, le=7 * 86_400)
    threads: int = Field(default=4, ge=1, le=64)
    connect_rate: float = Field(default=500, gt=0, description="new connections per second")
    inflight: int = Field(default=20, ge=1, le=65_535, description="unacknowledged per edge")
    keepalive_s: int = Field(default=60, ge=5, le=3600)
    reconnect_jitter_s: float = Field(default=0, ge=0, le=3600, description=(
        "0: a dropped edge stays off; else it reconnects after uniform(0, this) seconds, "
        "publishing into its backlog meanwhile"))
    downlink: bool = Field(default=False, description="subscribe to the edge's retained "
                           "permissions and configuration on every connect")

    @model_validator(mode="after")
    def _rush_fits(self) -> LoadProfile:
        if self.rush_s > self.rush_every_s:
            raise ValueError("rush_s is longer than rush_every_s")
        return self

    def edge_names(self) -> list[str]:
        width = len(str(self.edges - 1))
        return [f"{self.edge_prefix}-{i:0{width}d}" for i in range(self.edges)]

    def swipe_rate(self, elapsed: float) -> float:
        """Swipes/s of one edge `elapsed` seconds into the run (rush hours first)."""
        in_rush = elapsed % self.rush_every_s < self.rush_s
        return self.swipes_per_edge_s * (self.rush_factor if in_rush else 1.0)

    def expected_rate(self) -> float:
        """Mean events/s of the whole load (swipes + telemetry + faults raised and cleared)."""
        rush = self.rush_s / self.rush_every_s
        swipes = self.swipes_per_edge_s * (1 - rush + rush * self.rush_factor)
        telemetry = self.devices_per_edge / self.telemetry_every_s * (1 + 2 * self.fault_probability)
        return self.edges * (swipes + telemetry)


@dataclass
class LoadStats:
    """Counters shared by the threads (int += under the GIL is not atomic: one lock)."""

    connected: int = 0
    connected_max: int = 0
    sent: int = 0
    acked: int = 0
    errors: int = 0
    disconnects: int = 0
    reconnects: int = 0
    retained: int = 0  # retained downlink messages the broker handed the edges
    fresh_downlink: int = 0  # downlink messages published while the edge was subscribed
    by_kind: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)
            self.connected_max = max(self.connected_max, self.connected)

    def count_kind(self, kind: str) -> None:
        with self.lock:
            self.sent += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def line(self, total_edges: int) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (f"{elapsed:6.1f}s connected {self.connected}/{total_edges} sent {self.sent} "
                f"acked {self.acked} ({self.acked / elapsed:,.0f}/s) errors {self.errors}")

    def summary(self, elapsed: float) -> dict[str, object]:
        return {"edges_connected": self.connected_max, "sent": self.sent, "acked": self.acked,
                "unacked": self.sent - self.acked, "errors": self.errors,
                "disconnects": self.disconnects, "reconnects": self.reconnects,
                "retained": self.retained, "fresh_downlink": self.fresh_downlink,
                "seconds": round(elapsed, 2),
                "rate_acked_per_s": round(self.acked / elapsed, 1) if elapsed else 0.0,
                "by_kind": dict(sorted(self.by_kind.items()))}


_DEVICE_KINDS: tuple[tuple[DeviceType, str], ...] = (
    ("elevator", "elevator-vvvf-a"), ("fire_panel", "fire-panel-8z"),
    ("pressure_sensor", "pressure-sprinkler-pt"))
_FAULTS: dict[DeviceType, tuple[str, str, str, Severity, str]] = {
           "elevator": ("Err41", "door lock circuit open", "电梯门锁回路断开", "major", "elevator"),
           "fire_panel": ("Z-FAULT", "zone wiring fault", "防区线路故障", "minor", "fire"),
           "pressure_sensor": ("LOW", "pressure below range", "压力低于下限", "major", "plumbing")}


class _Envelope(TypedDict):
    """What every event carries besides its kind and data."""

    id: str
    ts: datetime
    site: str
    edge: str
    device: str
    seq: int


class SimEdge:
    """One simulated edge: its MQTT client, doors, devices and sequence."""

    def __init__(self, profile: LoadProfile, name: str, password: str | None,
                 stats: LoadStats, rng: random.Random, username: str | None = None) -> None:
        self.profile, self.name, self.stats, self.rng = profile, name, stats, rng
        self.seq = 0
        self.doors = [f"{name}-d{i}" for i in range(profile.doors_per_edge)]
        self.devices = [(f"{name}-dev{i}", *_DEVICE_KINDS[i % len(_DEVICE_KINDS)])
                        for i in range(profile.devices_per_edge)]
        self.faulted: set[str] = set()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"load.{profile.site}.{name}", clean_session=True)
        if password is not None:
            self.client.username_pw_set(username or name, password)
        self.client.max_inflight_messages_set(profile.inflight)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_publish = lambda *_: stats.add(acked=1)
        self.client.on_message = self._on_message
        self.online = False
        self.fd = -1  # the socket registered with the worker's selector
        self.connects = 0
        self.reconnect_at = math.inf  # when a dropped edge tries again (monotonic)

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode,
                    _p: object = None) -> None:
        if reason.is_failure:
            self.stats.add(errors=1)
            return
        self.online = True
        self.connects += 1
        self.stats.add(connected=1, reconnects=int(self.connects > 1))
        if self.profile.downlink:
            site = self.profile.site
            self.client.subscribe([(topics.perm(site, self.name), 1),
                                   (topics.config(site, self.name), 1)])

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.stats.add(**{"retained" if msg.retain else "fresh_downlink": 1})

    def _envelope(self, device: str) -> _Envelope:
        self.seq += 1
        return {"id": new_event_id(), "ts": datetime.now(UTC), "site": self.profile.site,
                "edge": self.name, "device": device, "seq": self.seq}

    def _publish(self, kind: str, payload: bytes) -> None:
        info = self.client.publish(topics.event(self.profile.site, self.name, kind), payload, qos=1)
        # NO_CONN: paho keeps the message and sends it after reconnecting (the backlog)
        if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE,
                       MQTTErrorCode.MQTT_ERR_NO_CONN):
            self.stats.count_kind(kind)
        else:
            self.stats.add(errors=1)

    def swipe(self) -> None:
        door = self.rng.choice(self.doors)
        card = str(self.rng.randrange(1000, 100_000))
        granted = self.rng.random() < 0.93
        event = AccessEvent(**self._envelope(door), data=AccessData(
            door=door, credential=card, result="granted" if granted else "denied",
            reason="granted" if granted else self.rng.choice(("unknown_card", "outside_schedule",
                                                               "not_permitted", "expired")),
            decision_us=self.rng.randrange(200, 3000)))
        self._publish("access", event.model_dump_json().encode())

    def telemetry(self, index: int) -> None:
        device, device_type, model = self.devices[index]
        readings = {
            "elevator": [Reading(name="floor", value=self.rng.randrange(-2, 33)),
                         Reading(name="speed", value=round(self.rng.uniform(0, 2.5), 2), unit="m/s")],
            "fire_panel": [Reading(name="zones_in_alarm", value=0),
                           Reading(name="mains_ok", value=True)],
            "pressure_sensor": [Reading(name="pressure", value=round(self.rng.uniform(0.25, 0.6), 3),
                                        unit="MPa")],
        }[device_type]
        event = TelemetryEvent(**self._envelope(device), data=TelemetryData(
            device_type=device_type, model=model, readings=readings))
        self._publish("telemetry", event.model_dump_json().encode())
        if device in self.faulted or self.rng.random() < self.profile.fault_probability:
            self._fault(device, device_type, model)

    def _fault(self, device: str, device_type: DeviceType, model: str) -> None:
        code, text, text_zh, severity, skill = _FAULTS[device_type]
        raised = device not in self.faulted
        (self.faulted.add if raised else self.faulted.discard)(device)
        event = DeviceEvent(**self._envelope(device), data=DeviceData(
            device_type=device_type, model=model,
            event="fault_raised" if raised else "fault_cleared", code=code, text=text,
            text_zh=text_zh, severity=severity, skill=skill))
        self._publish("device", event.model_dump_json().encode())


class _Worker(threading.Thread):
    """Drives its share of the edges: connects them, schedules their traffic, runs paho's
    network I/O for all of them with one selector."""

    def __init__(self, edges: list[SimEdge], profile: LoadProfile, stats: LoadStats,
                 stop: threading.Event, rng: random.Random) -> None:
        super().__init__(name=f"loadgen-{len(edges)}", daemon=True)
        self.edges, self.profile, self.stats, self.stop, self.rng = edges, profile, stats, stop, rng
        self.selector = selectors.DefaultSelector()
        self.rate_share = (profile.max_rate / profile.threads) if profile.max_rate else None
        self.retry: list[SimEdge] = []  # dropped edges waiting for their reconnect time
        self.closing = False

    def _connect(self, edge: SimEdge) -> None:
        try:
            edge.client.connect(self.profile.host, self.profile.port, self.profile.keepalive_s)
        except OSError:
            self.stats.add(errors=1)
            return
        self._register(edge)

    def _register(self, edge: SimEdge) -> None:
        sock = edge.client.socket()
        if sock is not None:
            fd = sock.fileno()
            try:  # a number still held by an edge whose socket paho closed unseen
                stale: SimEdge | None = self.selector.get_key(fd).data
            except KeyError:
                stale = None
            if stale is not None:
                self._drop(stale)
            edge.fd = fd
            self.selector.register(fd, selectors.EVENT_READ, edge)

    def _drop(self, edge: SimEdge) -> None:
        # by the number kept at registration: paho may have closed the socket already
        if edge.fd >= 0:
            try:
                self.selector.unregister(edge.fd)
            except (KeyError, ValueError):
                pass
            edge.fd = -1
        if edge.online:
            edge.online = False
            self.stats.add(connected=-1, disconnects=1)
        if self.profile.reconnect_jitter_s > 0 and not (self.stop.is_set() or self.closing):
            edge.reconnect_at = time.monotonic() + self.rng.uniform(0, self.profile.reconnect_jitter_s)
            self.retry.append(edge)

    def _reconnect_due(self) -> None:
        """Dropped edges whose jittered delay is over try again (refused: a new delay)."""
        now = time.monotonic()
        waiting, self.retry = self.retry, []
        for edge in waiting:
            if edge.reconnect_at > now:
                self.retry.append(edge)
                continue
            try:
                edge.client.reconnect()
            except OSError:
                edge.reconnect_at = now + self.rng.uniform(0.5, max(1.0, self.profile.reconnect_jitter_s))
                self.retry.append(edge)
                continue
            self._register(edge)

    def run(self) -> None:
        p = self.profile
        start = time.monotonic()
        end = start + p.duration_s
        # (due time, order, edge index, what): what = -1 swipe, >= 0 telemetry of that device
        agenda: list[tuple[float, int, int, int]] = []
        order = 0
        per_thread_connect = p.connect_rate / p.threads
        for i, edge in enumerate(self.edges):
            self._connect(edge)
            connected_at = start + i / per_thread_connect
            agenda.append((connected_at + self.rng.expovariate(max(p.swipe_rate(0), 1e-9)),
                           order, i, -1))
            order += 1
            for d in range(len(edge.devices)):
                agenda.append((connected_at + self.rng.uniform(0, p.telemetry_every_s), order, i, d))
                order += 1
            self._pump(0)
            wait = connected_at - time.monotonic()
            if wait > 0:
                self._pump(wait)
        heapq.heapify(agenda)
        tokens, last = 0.0, time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= end:
                break
            if self.rate_share is not None:
                tokens = min(self.rate_share, tokens + (now - last) * self.rate_share)
                last = now
            while agenda and agenda[0][0] <= now:
                if self.rate_share is not None:
                    if tokens < 1:
                        break
                    tokens -= 1
                due, _, index, what = heapq.heappop(agenda)
                edge = self.edges[index]
                if edge.online or (p.reconnect_jitter_s > 0 and edge.connects):
                    edge.swipe() if what < 0 else edge.telemetry(what)
                if what < 0:
                    rate = p.swipe_rate(now - start)
                    # from now when late (a slow connect ramp): no burst of overdue swipes
                    nxt = max(due, now - 1.0) + (self.rng.expovariate(rate) if rate > 0
                                                 else math.inf)
                else:
                    nxt = due + p.telemetry_every_s
                order += 1
                heapq.heappush(agenda, (nxt, order, index, what))
            timeout = min(0.05, max(0.0, agenda[0][0] - time.monotonic())) if agenda else 0.05
            self._pump(timeout)
            if self.retry:
                self._reconnect_due()
        # a backlog after an outage needs the reconnect jitter on top
        self._drain(deadline=time.monotonic() + 10 + 2 * p.reconnect_jitter_s)
        self.closing = True
        for edge in self.edges:
            if edge.online:
                edge.client.disconnect()
                edge.client.loop_write()
                edge.online = False
                self.stats.add(connected=-1)
            self._drop(edge)

    def _pump(self, timeout: float) -> None:
        """One round of network I/O: reads, pending writes, keepalives."""
        for key, _ in self.selector.select(timeout):
            edge: SimEdge = key.data
            if edge.client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._drop(edge)
        for edge in self.edges:
            if edge.client.socket() is None:
                continue
            if edge.client.want_write() and edge.client.loop_write() not in (
                    MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                self._drop(edge)
        now = time.monotonic()
        if now - getattr(self, "_misc_at", 0.0) > 1.0:
            self._misc_at = now
            for edge in self.edges:
                if edge.client.socket() is not None:
                    edge.client.loop_misc()
                if edge.fd >= 0 and edge.client.socket() is None:
                    self._drop(edge)  # paho closed it (keepalive): reconnect, free the number

    def _drain(self, deadline: float) -> None:
        """Let in-flight publishes be acknowledged before disconnecting."""
        while time.monotonic() < deadline:
            if self.retry:
                self._reconnect_due()
            with self.stats.lock:
                if self.stats.acked >= self.stats.sent:
                    return
            self._pump(0.05)


def run_load(profile: LoadProfile, *, passwords: dict[str, str] | None = None,
             progress: TextIO | None = sys.stderr, progress_every_s: float = 1.0,
             stop: threading.Event | None = None,
             on_progress: Callable[[LoadStats], None] | None = None,
             seed: int | None = None) -> dict[str, object]:
    """Run the load until `duration_s` (or `stop`); returns the summary. `passwords` maps
    provisioned edges' usernames (`<site>.<edge>`) to their passwords: the first `edges` of
    them (sorted) are the simulated edges, under those names, instead of `<edge_prefix>-<n>`."""
    names = profile.edge_names()
    accounts = {name: name for name in names}
    if passwords is not None:  # the provisioned accounts are the edges
        if len(passwords) < profile.edges:
            raise ValueError(f"{profile.edges} edges but passwords for only {len(passwords)}")
        # `lintel provision` names an edge's account <site>.<edge>
        accounts = {user.removeprefix(f"{profile.site}."): user
                    for user in sorted(passwords)[:profile.edges]}
        names = list(accounts)
    stats = LoadStats()
    stop = stop or threading.Event()
    rng = random.Random(seed)
    edges = [SimEdge(profile, name, passwords[accounts[name]] if passwords else None, stats,
                     random.Random(rng.random()), username=accounts[name]) for name in names]
    threads = min(profile.threads, len(edges))
    workers = [_Worker(edges[i::threads], profile, stats, stop, random.Random(rng.random()))
               for i in range(threads)]
    started = time.monotonic()
    stats.started = started
    for worker in workers:
        worker.start()
    while any(w.is_alive() for w in workers):
        for worker in workers:
            worker.join(progress_every_s / len(workers))
        if progress is not None:
            progress.write("\r" + stats.line(len(edges)))
            progress.flush()
        if on_progress is not None:
            on_progress(stats)
    if progress is not None:
        progress.write("\n")
    return stats.summary(time.monotonic() - started)


__all__ = ["LoadProfile", "LoadStats", "SimEdge", "run_load"]
