"""MQTT ingest: events, edge state and command acks in; stored once, then acknowledged.

A batch of waiting messages is validated, written in one transaction (events idempotently
by id with INSERT .. ON CONFLICT DO NOTHING, so redeliveries and racing hub workers are
harmless), committed, and only then acknowledged to the broker, in order, and confirmed to
each edge on `stored` (hub.stored): only that lets a message leave the edge's outbox.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import Table, Uuid, any_, bindparam, func, insert, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.bulk import insert_ignore
from hub.cameras.store import alert_row, record_camera_alerts
from hub.commands import record_acks
from hub.credentials.uses import record_pass_uses
from hub.devices import apply_device_events, reading_problem
from hub.door_states import record_door_events
from hub.history.ids import ID_WINDOW, id_time
from hub.homesec.store import record_homesec_events
from hub.installation.publish import ConfigPublisher
from hub.live import LiveBus, LiveItem
from hub.liveness import StateChange, live_items, record_states
from hub.meters.readings import record_meter_readings
from hub.models import AccessEvent as AccessEventRow
from hub.models import Base, DeadLetter, Edge, EventIdOutlier, EventLog, Site, utcnow
from hub.mqtt import Message, MqttClient, backoff_delay
from hub.patrol.cards import record_card_readings
from hub.readers.keys import keyed_rows, record_reader_keys
from hub.rules.engine import RuleEngine
from hub.stored import (
    Committed,
    EdgeKey,
    StoredConfirmer,
    loose_seq,
    outbox_floors,
    record_ranges,
)
from hub.tasks import cancel_and_wait
from hub.telemetry import TelemetrySink
from hub.vehicles.store import record_vehicle_events
from wire import CommandAck, EdgeState, WireError, parse_event, topics
from wire._base import parse_model
from wire.events import AccessEvent, CameraEvent, DeviceEvent, TelemetryEvent
from wire.stored import payload_digest

log = logging.getLogger(__name__)

INT32_MAX = 2**31 - 1
LINGER_BELOW = 64
LINGER_S = 0.003
BEHIND_S = 3.0  # events this old (or older) when stored: this worker is working off a backlog
INT64_MAX = 2**63 - 1



def hub_subscriptions(shared_group: str | None) -> list[tuple[str, int]]:
    """Events through a shared subscription (when the broker has them); state and acks to all."""
    events = topics.shared(topics.HUB_EVENTS, shared_group) if shared_group else topics.HUB_EVENTS
    return [(events, 1), (topics.HUB_STATE, 1), (topics.HUB_CMD_ACK, 1)]


@dataclass
class IngestStats:
    received: int = 0
    events: int = 0  # accepted (including redelivered duplicates, which change nothing)
    states: int = 0
    command_acks: int = 0
    dead_letters: int = 0
    batches: int = 0
    db_retries: int = 0


@dataclass
class _Batch:
    events: list[dict[str, Any]] = field(default_factory=list)
    access: list[dict[str, Any]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    states: list[tuple[Message, topics.TopicParts, EdgeState]] = field(default_factory=list)
    acks: list[tuple[topics.TopicParts, CommandAck]] = field(default_factory=list)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)  # event rows, by event id
    messages: dict[str, Message] = field(default_factory=dict)  # and what carried them
    devices: list[DeviceEvent | TelemetryEvent] = field(default_factory=list)
    camera: list[dict[str, Any]] = field(default_factory=list)
    # every outbox sequence number this batch commits (events, acks, dead letters), per edge,
    # with the digest of the message committed under it
    seqs: dict[EdgeKey, list[Committed]] = field(default_factory=dict)

    def committing(self, site: str, edge: str, seq: int | None, message: Message) -> None:
        if seq is not None:
            self.seqs.setdefault((site, edge), []).append((seq, payload_digest(message.payload)))


class _Rejected(Exception):
    """A message that goes to the dead letters; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Ingest:
    """`async with Ingest(sessions, mqtt):` consumes `mqtt.messages` until exit."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        mqtt: MqttClient,
        *,
        batch_max: int = 1000,
        retry_max_s: float = 10.0,
        telemetry_sink: TelemetrySink | None = None,
        live: LiveBus | None = None,
        rules: RuleEngine | None = None,
        confirmer: StoredConfirmer | None = None,
    ) -> None:
        self._sessions = sessions
        # recompiles the configuration of an edge whose reader took a key of its own, so the
        # retained one carries it (a replacement edge); set once the hub's pusher runs
        self.configs: ConfigPublisher | None = None
        self._confirmer = confirmer  # None: no edge is told (tests of the ingest alone)
        self._live = live
        self._rules = rules  # runs on what is stored now, in the same transaction
        self._mqtt = mqtt
        self._batch_max = batch_max
        self._retry_max_s = retry_max_s
        self._telemetry_sink = telemetry_sink  # None: the SQL table, in the ingest transaction
        self._known_sites: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.stats = IngestStats()
        self._idle = asyncio.Event()
        self._idle.set()
        # how old (by the edges' clocks) the newest event of the latest batch was, and when
        self.behind_s = 0.0
        self._behind_at = 0.0

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="hub-ingest")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Messages taken but not committed are not acked: the broker redelivers them.
        await cancel_and_wait(self._task)
        self._task = None

    def caught_up(self) -> bool:
        """Whether this worker sees the edges' messages as they come. While it works through
        a backlog, state messages wait in the broker's queue behind events, so silence tells
        nothing (hub.liveness does not count edges offline on it); quiet counts as caught up."""
        return self.behind_s < BEHIND_S or time.monotonic() - self._behind_at > BEHIND_S

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Until nothing is waiting in the queue or being written (for tests and shutdown)."""
        async def idle() -> None:
            # two conditions, and an asyncio.Queue offers no event for "empty"
            while not (self._idle.is_set() and self._mqtt.messages.empty()):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        async with asyncio.timeout(timeout):
            await idle()

    async def _run(self) -> None:
        queue = self._mqtt.messages
        while True:
            first = await queue.get()
            self._idle.clear()
            batch = [first]
            while len(batch) < self._batch_max and not queue.empty():
                batch.append(queue.get_nowait())
            if 1 < len(batch) < LINGER_BELOW:
                # More are arriving: a moment's wait makes one commit instead of several.
                await asyncio.sleep(LINGER_S)
                while len(batch) < self._batch_max and not queue.empty():
                    batch.append(queue.get_nowait())
            try:
                await self.handle(batch)
            except Exception:  # a worker outlives any one batch
                # handle() dead-letters what fails; if even that fails, the batch is still
                # in the broker's in-flight window: a new connection has it redelivered.
                log.exception("ingest batch of %d failed; reconnecting for redelivery",
                              len(batch))
                self._mqtt.reconnect()
            finally:
                self._idle.set()

    async def handle(self, messages: Sequence[Message]) -> None:
        """Store a batch, commit, then acknowledge every message in order; a message that
        cannot be stored becomes a dead letter with the reason, and is acknowledged too."""
        self.stats.received += len(messages)
        await self._handle(messages)

    async def _handle(self, messages: Sequence[Message], *, alone: bool = False) -> None:
        try:
            await self._while_db_away(lambda: self._store(messages))
        except (DataError, IntegrityError) as exc:
            refused = f"rejected by the database: {exc.orig}"
        except Exception as exc:  # any other failure: find the message
            # An error that is not the database's (a rule, a sink, a bug) must neither drop
            # the batch nor leave it unacknowledged, which would fill the broker's window.
            if not alone:  # the traceback once, not again for each message of the batch
                log.exception("ingest: a batch of %d failed", len(messages))
            refused = f"the hub failed on it: {type(exc).__name__}: {exc}"
        else:
            self._ack(messages)
            return
        if len(messages) == 1:
            await self._while_db_away(lambda: self._store_dead(messages[0], refused))
            self._ack(messages)
            return
        # One message poisons the batch: store them one by one to find it.
        for message in messages:
            await self._handle([message], alone=True)

    async def _while_db_away(self, write: Callable[[], Awaitable[None]]) -> None:
        """Run a write, retrying while the database is away or busy (the messages stay
        unacknowledged meanwhile)."""
        attempt = 0
        while True:
            try:
                await write()
                return
            except (OperationalError, InterfaceError) as exc:
                self.stats.db_retries += 1
                delay = backoff_delay(attempt, 0.1, self._retry_max_s)
                attempt += 1
                log.warning("ingest: database error (%s); retry in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    def _ack(self, messages: Sequence[Message]) -> None:
        for message in messages:
            self._mqtt.ack(message)
        self.stats.batches += 1

    # -- storing ---------------------------------------------------------------------------

    async def _store(self, messages: Sequence[Message]) -> None:
        batch = _Batch()
        now = utcnow()
        for message in messages:
            try:
                self._classify(message, batch, now)
            except _Rejected as exc:
                batch.dead.append(_dead_row(message, exc.reason, now))
                _commit_dead_seq(batch, message)
        if batch.events:
            newest = max(row["ts"] for row in batch.events)
            self.behind_s = max(0.0, (now - newest).total_seconds())
            self._behind_at = time.monotonic()
        stored: set[str] = set()
        edge_states: list[StateChange] = []
        unknown: list[tuple[Message, topics.TopicParts, EdgeState]] = []
        floors: list[tuple[str, str, int]] = []
        rekeyed: dict[str, set[int]] = {}  # site -> edges whose reader keys changed
        homesec: list[LiveItem] = []
        after = None
        async with self._sessions() as session, session.begin():
            await self._drop_unknown_sites(session, batch, now)
            # Device state changes and rules only for events stored now, not redeliveries.
            keyed = keyed_rows(batch.events)
            stored = await insert_ignore(session, _table(EventLog), batch.events, key="id",
                                         returning=True, conflict=_EVENT_KEY)
            if len(stored) < len(batch.events):  # ids stored before: the same events?
                await _refuse_impostors(session, batch, stored, now)
            if stored and session.get_bind().dialect.name == "postgresql":
                stored = await _refuse_reused_ids(session, batch, stored, now)
            if any(row["kind"] == "door" for row in batch.events):
                # the guard's building panel: where the door events left each door
                await record_door_events(session, [r for r in batch.events if r["id"] in stored])
            if keyed:  # a reader's own key, sealed: kept for the configuration to carry back
                await record_reader_keys(session, [r for r in keyed if r["id"] in stored])
                rekeyed = await _edges_of(session, [r for r in keyed if r["id"] in stored])
            if batch.devices:
                fresh = [e for e in batch.devices if e.id in stored]
                await apply_device_events(session, fresh, self._telemetry_sink)
                # utility meters' register readings, kept per meter for billing
                await record_meter_readings(
                    session, [e for e in fresh if isinstance(e, TelemetryEvent)])
            if batch.access:
                await insert_ignore(session, _table(AccessEventRow), batch.access, key="id",
                                    conflict=_EVENT_KEY)
                await record_pass_uses(session, batch.access)
                # a guard's card at a door in checkpoint mode: a patrol reading
                await record_card_readings(
                    session, [r for r in batch.access if r["id"] in stored], now)
            if batch.states:  # an outbox reset, read before the new state is recorded
                floors = await outbox_floors(session, batch.states, now)
            edge_states, unknown = await record_states(session, batch.states, now)
            batch.dead.extend(_dead_row(message, f"unknown edge {parts.site}/{parts.edge}", now)
                              for message, parts, _state in unknown)
            if batch.camera:
                await record_camera_alerts(session, batch.camera)
            vehicle_rows = [r for r in batch.events if r["kind"] == "vehicle" and r["id"] in stored]
            if vehicle_rows:  # stays (who is inside) and visitor-car pass uses
                await record_vehicle_events(session, vehicle_rows)
            homesec_rows = [r for r in batch.events if r["kind"] == "homesec" and r["id"] in stored]
            if homesec_rows:  # the units' arm state, and what their phone pages are told
                homesec = await record_homesec_events(session, homesec_rows)
            if self._rules is not None:
                after = await self._rules.evaluate(
                    session, [row for row in batch.events if row["id"] in stored], edge_states)
            if batch.acks:
                await record_acks(session, batch.acks, now)
            if batch.dead:
                await session.execute(insert(_table(DeadLetter)), batch.dead)
            logged: dict[tuple[str, str], set[int]] = {}
            for row in batch.events:
                logged.setdefault((row["site_id"], row["edge"]), set()).add(row["seq"])
            await record_ranges(session, batch.seqs, logged)
        if self._confirmer is not None:
            self._confirmer.confirm(batch.seqs)
        try:
            if self._live is not None:
                await self._live.publish(_live_items(batch) + live_items(edge_states) + homesec)
            if after is not None:
                await after()  # the rules' live pushes and edge commands, once committed
            for site_id, edge_ids in rekeyed.items():
                if self.configs is not None:
                    self.configs.edges_changed(site_id, sorted(edge_ids))
            if self._confirmer is not None:
                for site, edge, floor in floors:
                    await self._confirmer.send_floor(site, edge, floor)
        except Exception:  # stored is stored: the batch is acknowledged
            log.exception("ingest: batch committed, but what follows the commit failed")
        self.stats.events += len(batch.events)
        self.stats.states += len(batch.states)
        self.stats.command_acks += len(batch.acks)
        self.stats.dead_letters += len(batch.dead)
        for row in batch.dead:
            log.warning("dead letter on %s: %s", row["topic"], row["reason"])

    async def _store_dead(self, message: Message, reason: str) -> None:
        batch = _Batch()
        _commit_dead_seq(batch, message)
        async with self._sessions() as session, session.begin():
            await session.execute(insert(_table(DeadLetter)), [_dead_row(message, reason, utcnow())])
            await record_ranges(session, batch.seqs, {})
        if self._confirmer is not None:
            self._confirmer.confirm(batch.seqs)
        self.stats.dead_letters += 1
        log.warning("dead letter on %s: %s", message.topic, reason)

    def _classify(self, message: Message, batch: _Batch, now: datetime) -> None:
        try:
            parts = topics.parse(message.topic)
        except WireError as exc:
            raise _Rejected(exc.reason) from exc
        if parts.channel == "evt":
            self._add_event(message, parts, batch, now)
        elif parts.channel == "state":
            if not message.payload:
                return  # a cleared retained state: nothing to record
            try:
                state = parse_model(EdgeState, message.payload)
            except WireError as exc:
                raise _Rejected(exc.reason) from exc
            batch.states.append((message, parts, state))
        elif parts.channel == "cmd/ack":
            try:
                ack = parse_model(CommandAck, message.payload)
            except WireError as exc:
                raise _Rejected(exc.reason) from exc
            batch.acks.append((parts, ack))
            batch.committing(parts.site, parts.edge, ack.seq, message)
        else:
            raise _Rejected(f"the hub does not consume {parts.channel!r} messages")

    def _add_event(self, message: Message, parts: topics.TopicParts, batch: _Batch,
                   now: datetime) -> None:
        try:
            event = parse_event(message.payload, parts)
        except WireError as exc:
            raise _Rejected(exc.reason) from exc
        # Bounds the wire leaves open but the columns do not (PostgreSQL would refuse them).
        if event.seq > INT64_MAX:
            raise _Rejected(f"seq {event.seq} is out of range")
        if isinstance(event, AccessEvent):
            data = event.data
            if data.decision_us > INT32_MAX:
                raise _Rejected(f"data.decision_us {data.decision_us} is out of range")
            if data.resident_id is not None and abs(data.resident_id) > INT32_MAX:
                raise _Rejected(f"data.resident_id {data.resident_id} is out of range")
        if isinstance(event, TelemetryEvent) and (problem := reading_problem(event)):
            raise _Rejected(problem)
        row = {
            "id": event.id, "kind": event.kind, "site_id": event.site, "edge": event.edge,
            "device": event.device, "seq": event.seq, "ts": event.ts, "received_at": now,
            "data": event.data.model_dump(mode="json"),
        }
        first = batch.by_id.get(event.id)
        if first is not None:  # the same id twice in one batch
            if not _same_event(first, row):
                raise _Rejected(_impostor(event.id, first))
            batch.committing(event.site, event.edge, event.seq, message)
            return
        batch.committing(event.site, event.edge, event.seq, message)  # stored now, or before
        batch.by_id[event.id] = row
        batch.messages[event.id] = message
        batch.events.append(row)
        if isinstance(event, DeviceEvent | TelemetryEvent):
            batch.devices.append(event)
        if isinstance(event, CameraEvent):
            batch.camera.append(alert_row(event))
        if isinstance(event, AccessEvent):
            batch.access.append({
                "id": event.id, "site_id": event.site, "edge": event.edge,
                "door": event.data.door, "ts": event.ts,
                "credential_type": event.data.credential_type,
                "credential": event.data.credential, "resident_id": event.data.resident_id,
                "result": event.data.result, "reason": event.data.reason,
                "decision_us": event.data.decision_us, "malformed": event.data.malformed,
            })

    async def _drop_unknown_sites(self, session: AsyncSession, batch: _Batch, now: datetime) -> None:
        """Events of a site the registry does not know become dead letters."""
        claimed = {row["site_id"] for row in batch.events} - self._known_sites
        if claimed:
            found = await session.scalars(select(Site.id).where(Site.id.in_(claimed)))
            self._known_sites.update(found)
        unknown = {row["id"] for row in batch.events if row["site_id"] not in self._known_sites}
        kept = []
        for row in batch.events:
            if row["id"] in unknown:
                batch.dead.append(_dead_row(batch.messages[row["id"]],
                                            f"unknown site {row['site_id']!r}", now))
            else:
                kept.append(row)
        batch.events = kept
        batch.access = [row for row in batch.access if row["id"] not in unknown]
        batch.devices = [e for e in batch.devices if e.id not in unknown]
        batch.camera = [row for row in batch.camera if row["id"] not in unknown]


# Event kinds the consoles watch live, by channel (telemetry is too much for a push).
_LIVE_CHANNELS = {"access": "access", "door": "door", "device": "devices"}
_LIVE_CHANNELS["camera"] = "camera"  # camera alerts (issue 6), with their snapshot ids
_LIVE_CHANNELS["vehicle"] = _LIVE_CHANNELS["lane"] = "vehicles"  # the guard's lane panel


def _live_items(batch: _Batch) -> list[LiveItem]:
    """What the consoles see of a committed batch (a redelivered event may come twice:
    the console keys rows by event id)."""
    items = [
        LiveItem(_LIVE_CHANNELS[row["kind"]], {
            "id": row["id"], "edge": row["edge"], "device": row["device"],
            "ts": row["ts"].isoformat(), **row["data"]}, site_id=row["site_id"])
        for row in batch.events if row["kind"] in _LIVE_CHANNELS
    ]
    return items


_COMPARED = ("kind", "site_id", "edge", "device", "seq", "ts", "data")
# The event tables' unique key: on PostgreSQL they are partitioned by ts, which a unique key
# must hold (a redelivery carries the same ts); an id reused with another ts is caught after.
_EVENT_KEY = ("id", "ts")


def _same_event(stored: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    return all(stored[name] == row[name] for name in _COMPARED)


def _impostor(event_id: str, stored: Mapping[str, Any]) -> str:
    return (f"event id {event_id} is already stored as another event ({stored['site_id']}/"
            f"{stored['edge']} seq {stored['seq']}): not confirmed as that one")


async def _refuse_impostors(session: AsyncSession, batch: _Batch, stored: set[str],
                            now: datetime) -> None:
    """Events whose id was stored before are confirmed only if what is stored is this very
    event; one that differs (an id reused by a forger or a broken edge) is kept as a dead
    letter instead, so its seq is never confirmed on the strength of another event's row."""
    earlier = {row["id"]: row for row in batch.events if row["id"] not in stored}
    table = _table(EventLog)
    found = {row.id: dict(row._mapping) for row in await session.execute(
        select(*(table.c[name] for name in ("id", *_COMPARED))).where(
            table.c.id.in_(sorted(earlier))))}
    refused = {event_id for event_id, row in earlier.items()
               if event_id not in found or not _same_event(found[event_id], row)}
    if not refused:
        return
    for event_id in refused:
        reason = (_impostor(event_id, found[event_id]) if event_id in found
                  else f"event id {event_id} was neither stored now nor found stored")
        batch.dead.append(_dead_row(batch.messages[event_id], reason, now))
    batch.events = [row for row in batch.events if row["id"] not in refused]
    batch.access = [row for row in batch.access if row["id"] not in refused]
    batch.devices = [e for e in batch.devices if e.id not in refused]
    batch.camera = [row for row in batch.camera if row["id"] not in refused]


def _table(model: type[Base]) -> Table:
    # Core statements on the table: plain executemany, no ORM bookkeeping per row.
    return cast(Table, model.__table__)


def _reused_near() -> Any:
    """The rows of the `near` ids within [low, high] when an id has more than one there (the
    row this batch stored and another), and the outliers stored under those ids: nothing at
    all in the usual case, where fetching every id's own new row cost the ingest more than
    the look itself. Built once, the values bound at each batch."""
    table, outliers = _table(EventLog), _table(EventIdOutlier)
    ids = bindparam("near", type_=ARRAY(Uuid(as_uuid=False)))
    window = select(table.c.id, table.c.ts,
                    func.count().over(partition_by=table.c.id).label("copies")).where(
        table.c.id == any_(ids), table.c.ts >= bindparam("low"),
        table.c.ts <= bindparam("high")).subquery()
    return union_all(
        select(window.c.id, window.c.ts).where(window.c.copies > 1),
        select(outliers.c.id, outliers.c.ts).where(outliers.c.id == any_(ids)))


_REUSED_NEAR = _reused_near()
_EVENT_LOG = _table(EventLog)
_REUSED_FAR = select(_EVENT_LOG.c.id, _EVENT_LOG.c.ts).where(
    _EVENT_LOG.c.id == any_(bindparam("far", type_=ARRAY(Uuid(as_uuid=False)))))


async def _refuse_reused_ids(session: AsyncSession, batch: _Batch, stored: set[str],
                             now: datetime) -> set[str]:
    """On PostgreSQL the key is (id, ts): an event reusing a stored id under another ts is
    inserted as its own row. Found here, it is taken out again and kept as a dead letter, as
    SQLite's key on the id alone refuses it. The look costs the same whatever the depth of
    the history: for an id whose ts lies within a day of its UUIDv7 time, only the partitions
    of those days and the table of outliers; an outlier itself is looked for everywhere (rare:
    a forged or broken edge's), and kept among the outliers for the looks after it."""
    table, outliers = _table(EventLog), _table(EventIdOutlier)
    mine = {row["id"]: row for row in batch.events if row["id"] in stored}
    at = {i: id_time(i) for i in mine}  # None: no UUIDv7
    near = sorted(i for i, t in at.items() if t is not None and abs(mine[i]["ts"] - t) <= ID_WINDOW)
    far = sorted(set(mine) - set(near))
    reused: list[Any] = []
    if near:  # one round trip; the bounds as values, so the plan holds only those partitions
        times = [cast(datetime, at[i]) for i in near]
        reused += (await session.execute(_REUSED_NEAR, {
            "near": near, "low": min(times) - ID_WINDOW, "high": max(times) + ID_WINDOW})).all()
    if far:
        reused += (await session.execute(_REUSED_FAR, {"far": far})).all()
    refused = {r.id for r in reused if r.ts != mine[r.id]["ts"]}
    kept = [{"id": i, "ts": mine[i]["ts"]} for i in far if i not in refused]
    if kept:
        await insert_ignore(session, outliers, kept, key="id")
    if not refused:
        return stored
    found = {r.id: r for r in (await session.execute(
        select(*(table.c[name] for name in ("id", *_COMPARED))).where(
            table.c.id.in_(sorted(refused))))).all() if r.ts != mine[r.id]["ts"]}
    for event_id in refused:
        await session.execute(table.delete().where(table.c.id == event_id,
                                                   table.c.ts == mine[event_id]["ts"]))
        batch.dead.append(_dead_row(batch.messages[event_id],
                                    _impostor(event_id, dict(found[event_id]._mapping)), now))
    batch.events = [row for row in batch.events if row["id"] not in refused]
    batch.access = [row for row in batch.access if row["id"] not in refused]
    batch.devices = [e for e in batch.devices if e.id not in refused]
    batch.camera = [row for row in batch.camera if row["id"] not in refused]
    return stored - refused


_ORIGIN = re.compile(rf"^{re.escape(topics.ROOT)}/([^/]{{1,64}})/([^/]{{1,64}})/")


def _commit_dead_seq(batch: _Batch, message: Message) -> None:
    """A dead letter from an edge's outbox is committed too: the edge may let it go."""
    try:
        parts = topics.parse(message.topic)
    except WireError:
        return
    if parts.channel in ("evt", "cmd/ack"):
        batch.committing(parts.site, parts.edge, loose_seq(message.payload), message)


def _dead_row(message: Message, reason: str, now: datetime) -> dict[str, Any]:
    """Kept with the reason, and with the edge its topic names (counted in the edge's
    status) even when the rest of the topic is wrong."""
    origin = _ORIGIN.match(message.topic)
    site, edge = origin.groups() if origin else (None, None)
    return {"received_at": now, "topic": message.topic, "payload": message.payload,
            "reason": reason[:2000], "site_id": site, "edge": edge}



async def _edges_of(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, set[int]]:
    """The edges (ids, per site) the event rows came from."""
    found: dict[str, set[int]] = {}
    for site_id, edge in {(r["site_id"], r["edge"]) for r in rows}:
        edge_id = await session.scalar(
            select(Edge.id).where(Edge.site_id == site_id, Edge.name == edge))
        if edge_id is not None:
            found.setdefault(site_id, set()).add(edge_id)
    return found

__all__ = ["Ingest", "IngestStats", "hub_subscriptions"]
