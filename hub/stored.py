"""Stored confirmations: what a hub worker committed for each edge, told to the edge on
`stored` (signed) and kept per edge in the database.

Once a batch is committed the ingest hands its sequence numbers, each with the digest of the
message it committed (wire.stored.payload_digest), to the `StoredConfirmer`, which sends each
edge its ranges every `interval_s` or sooner when many wait: the edge lets a message go only
when its own bytes have that digest, so a message that merely carries its seq (forged, or from
a wiped outbox's earlier life) confirms nothing of it. What the hub has
stored is read back from the database, so any worker can tell: an event's seq is in event_log
(its index on site, edge, seq), and the few other things an outbox sends (command acks, and
messages kept as dead letters) get ranges of their own in uplink_ranges, in the batch's
transaction. `UplinkFolder` advances each edge's `stored_through` (every number up to it is
stored) now and then; above it, the holes are the gaps the edge page shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Select, and_, delete, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.credentials.downlink import DownlinkSigner
from hub.history.ddl import EDGE_CLOCK_MARGIN
from hub.liveness import received_at
from hub.models import Edge, EdgeUplink, EventLog, UplinkRange, utcnow
from hub.mqtt import Message, MqttClient
from hub.tasks import Periodic, cancel_and_wait
from wire import EdgeState, StoredRanges, topics
from wire.stored import SEQ_MAX, SeqRange, merge_ranges, stored_bodies, to_ranges

log = logging.getLogger(__name__)

EdgeKey = tuple[str, str]  # (site, edge name)
Committed = tuple[int, str]  # (seq, payload_digest of the message committed under it)
GAPS_SHOWN = 100


def loose_seq(payload: bytes) -> int | None:
    """The `seq` of a message that failed the contract, if it has one: the edge sent it from
    its outbox and waits for its confirmation, though the message is kept as a dead letter."""
    try:
        seq = json.loads(payload).get("seq")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return seq if type(seq) is int and 0 <= seq <= SEQ_MAX else None


async def record_ranges(session: AsyncSession, seqs: Mapping[EdgeKey, Iterable[Committed]],
                        logged: Mapping[EdgeKey, set[int]]) -> None:
    """This batch's sequence numbers not `logged` (in event_log) are recorded in
    uplink_ranges, in the caller's transaction."""
    rows = []
    for (site, edge), found in seqs.items():
        kept = logged.get((site, edge), set())
        rows += [{"site_id": site, "edge": edge, "first_seq": first, "last_seq": last}
                 for first, last in to_ranges(s for s, _ in found if s not in kept)]
    if rows:
        await session.execute(insert(UplinkRange), rows)


class StoredConfirmer:
    """`async with StoredConfirmer(mqtt, signer):` then `confirm(ranges)` after each commit."""

    def __init__(self, mqtt: MqttClient, signer: DownlinkSigner, *, interval_s: float = 0.25,
                 batch_max: int = 5000, publish_timeout_s: float = 10.0) -> None:
        self._mqtt = mqtt
        self._signer = signer
        self._interval_s = interval_s
        self._batch_max = batch_max
        self._publish_timeout_s = publish_timeout_s
        self._waiting: dict[EdgeKey, list[Committed]] = {}
        self._touched: set[EdgeKey] = set()  # edges confirmed to since take_touched()
        self._count = 0
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # confirmations published

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="stored-confirmer")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        # What was committed is told before the worker goes (if the broker takes it soon).
        self._publish_timeout_s = min(self._publish_timeout_s, 2.0)
        try:
            await self.flush()
        except Exception:  # the edges send those again
            log.exception("last stored confirmations failed")

    def confirm(self, committed: Mapping[EdgeKey, Sequence[Committed]]) -> None:
        """These are committed: tell their edges soon."""
        self._touched.update(committed)
        for key, found in committed.items():
            self._waiting.setdefault(key, []).extend(found)
            self._count += len(found)
        if self._count >= self._batch_max:
            self._full.set()

    def take_touched(self) -> set[EdgeKey]:
        touched, self._touched = self._touched, set()
        return touched

    async def send_floor(self, site: str, edge: str, floor: int) -> None:
        """Tell an edge numbering below what it used before to continue after `floor`."""
        topic = topics.stored(site, edge)
        body = StoredRanges(site=site, edge=edge, ts=utcnow(), ranges=[], digests="",
                            seq_floor=floor)
        await self._mqtt.publish(topic, self._signer.sign(topic, body.model_dump_json().encode()),
                                 qos=1, timeout=self._publish_timeout_s)

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._interval_s):
                    await self._full.wait()
            except TimeoutError:
                pass
            try:
                await self.flush()
            except Exception:  # a lost confirmation only means a resend; never stop
                log.exception("stored confirmations failed")

    async def flush(self) -> None:
        waiting, self._waiting, self._count = self._waiting, {}, 0
        self._full.clear()
        if not waiting:
            return
        publishes = []
        for (site, edge), found in waiting.items():
            topic = topics.stored(site, edge)
            for body in stored_bodies(site, edge, utcnow(), found):
                payload = self._signer.sign(topic, body.model_dump_json().encode())
                publishes.append(self._mqtt.publish(topic, payload, qos=1,
                                                    timeout=self._publish_timeout_s))
        results = await asyncio.gather(*publishes, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        self.sent += len(results) - len(failed)
        if failed:  # the edges send those again; storage is idempotent
            log.warning("%d stored confirmations not acknowledged by the broker: %s",
                        len(failed), failed[0])


async def outbox_floors(session: AsyncSession,
                        states: Sequence[tuple[Message, topics.TopicParts, EdgeState]],
                        now: datetime) -> list[tuple[str, str, int]]:
    """Edges whose state says they now write below the numbers the hub knows they used
    (their outbox was wiped, or restored from an old copy), each with the number to continue
    after: the highest it reported or the hub stored. Read before hub.liveness records the
    new state; an older word that a lagging worker reads late is no reset."""
    reports: dict[EdgeKey, tuple[datetime, int]] = {}
    for message, parts, state in states:
        if state.status == "online" and not message.retain and state.outbox_last_seq is not None:
            reports[(parts.site, parts.edge)] = (received_at(message, now), state.outbox_last_seq)
    if not reports:
        return []
    rows = await session.execute(
        select(Edge.site_id, Edge.name, Edge.last_seen, Edge.outbox_last_seq,
               EdgeUplink.stored_through)
        .outerjoin(EdgeUplink, and_(EdgeUplink.site_id == Edge.site_id,
                                    EdgeUplink.edge == Edge.name))
        .where(tuple_(Edge.site_id, Edge.name).in_(sorted(reports))))
    floors = []
    for site, edge, last_seen, last_seq, through in rows.all():
        heard, reported = reports[(site, edge)]
        known = max(last_seq or 0, through or 0)
        if reported >= known or (last_seen is not None and heard < last_seen):
            continue
        floor = max(known, (await progress(session, site, edge)).highest_stored)
        log.warning("edge %s/%s writes at seq %d, below the %d it used: its outbox was reset "
                    "(what it held unconfirmed is lost and shows as a gap); told to continue "
                    "after %d", site, edge, reported, known, floor)
        floors.append((site, edge, floor))
    return floors


@dataclass(frozen=True, slots=True)
class UplinkProgress:
    stored_through: int  # every sequence number up to this one is committed
    gaps: list[SeqRange]  # missing between stored ones (the first GAPS_SHOWN)
    missing: int  # sequence numbers in all gaps (as far as SCAN_MAX above stored_through)
    highest_stored: int


SCAN_MAX = 200_000  # event seqs read above stored_through at once (the folder keeps it close)


@dataclass(frozen=True, slots=True)
class _Above:
    ranges: list[SeqRange]  # merged: event_log's seqs and uplink_ranges
    range_ids: list[int]  # the uplink_ranges rows read
    events: Sequence[tuple[int, datetime]]  # event_log's (seq, ts) read, by seq


async def _stored_above(session: AsyncSession, site: str, edge: str, through: int,
                        through_ts: datetime | None) -> _Above:
    """What is stored above `through`. An edge stamps its events in the order it numbers them,
    so those above `through` carry a ts no earlier than `through_ts` (the one at `through`),
    less a clock set back by up to EDGE_CLOCK_MARGIN: that bound lets PostgreSQL read only
    the event log's recent months. Should the bounded read leave a gap (an edge whose clock
    went back further), it is read again without the bound, so a gap shown is a real one."""
    rows = (await session.execute(
        select(UplinkRange.id, UplinkRange.first_seq, UplinkRange.last_seq).where(
            UplinkRange.site_id == site, UplinkRange.edge == edge))).all()
    uplink = [(a, b) for _, a, b in rows]

    async def read(bound: datetime | None) -> tuple[list[SeqRange],
                                                     Sequence[tuple[int, datetime]]]:
        stmt = events_above(site, edge, through, bound)
        events = [(seq, ts) for seq, ts in (await session.execute(stmt)).all()]
        return merge_ranges([*to_ranges(seq for seq, _ in events), *uplink]), events

    ranges, events = await read(through_ts)
    if through_ts is not None and _fold(through, ranges)[1]:
        ranges, events = await read(None)
    return _Above(ranges, [row[0] for row in rows], events)


def events_above(site: str, edge: str, through: int, through_ts: datetime | None
                 ) -> Select[int, datetime]:
    """The edge's event seqs (with their ts) above `through`, by seq; bounded by ts when the
    edge's time at `through` is known."""
    stmt = select(EventLog.seq, EventLog.ts).where(
        EventLog.site_id == site, EventLog.edge == edge, EventLog.seq > through)
    if through_ts is not None:
        stmt = stmt.where(EventLog.ts >= through_ts - EDGE_CLOCK_MARGIN)
    return stmt.order_by(EventLog.seq).limit(SCAN_MAX)


async def progress(session: AsyncSession, site: str, edge: str) -> UplinkProgress:
    """The edge's committed sequence numbers as they stand now (folded or not yet)."""
    row = (await session.execute(select(EdgeUplink.stored_through, EdgeUplink.through_ts).where(
        EdgeUplink.site_id == site, EdgeUplink.edge == edge))).one_or_none()
    through, through_ts = (row[0], row[1]) if row is not None else (0, None)
    through, above = _fold(through, (await _stored_above(session, site, edge, through,
                                                         through_ts)).ranges)
    gaps: list[SeqRange] = []
    previous = through
    for first, last in above:
        gaps.append((previous + 1, first - 1))
        previous = last
    return UplinkProgress(stored_through=through, gaps=gaps[:GAPS_SHOWN],
                          missing=sum(b - a + 1 for a, b in gaps), highest_stored=previous)


def _fold(through: int, ranges: list[SeqRange]) -> tuple[int, list[SeqRange]]:
    """Advance `through` over the ranges that join it; the rest, merged, lie above it."""
    above = []
    for first, last in merge_ranges(ranges):
        if first <= through + 1:
            through = max(through, last)
        else:
            above.append((first, last))
    return through, above


async def fold_edge(session: AsyncSession, site: str, edge: str) -> None:
    """Advance one edge's stored_through, in the caller's transaction; uplink_ranges rows it
    passes go, the rest are merged. The row lock (PostgreSQL) keeps two workers folding the
    same edge one after the other."""
    dialect_insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
                      else sqlite.insert)
    await session.execute(dialect_insert(EdgeUplink).values(
        site_id=site, edge=edge, stored_through=0).on_conflict_do_nothing())
    through, through_ts = (await session.execute(
        select(EdgeUplink.stored_through, EdgeUplink.through_ts).where(
            EdgeUplink.site_id == site, EdgeUplink.edge == edge).with_for_update())).one()
    found = await _stored_above(session, site, edge, through, through_ts)
    new_through, _ = _fold(through, found.ranges)
    now = utcnow()
    # the edge's time at the new stored_through (no later than the hub's: an edge clock
    # running ahead, then set right, must not hide its next events)
    passed = [ts for seq, ts in found.events if seq <= new_through]
    new_ts = min(passed[-1], now) if passed else through_ts
    ids = found.range_ids
    if ids:
        rows = (await session.execute(
            select(UplinkRange.first_seq, UplinkRange.last_seq).where(
                UplinkRange.id.in_(ids)))).all()
        kept = [(a, b) for a, b in merge_ranges([(a, b) for a, b in rows]) if b > new_through]
        if len(kept) != len(ids):
            await session.execute(delete(UplinkRange).where(UplinkRange.id.in_(ids)))
            if kept:
                await session.execute(insert(UplinkRange), [
                    {"site_id": site, "edge": edge, "first_seq": max(a, new_through + 1),
                     "last_seq": b} for a, b in kept])
    if new_through != through or new_ts != through_ts:
        await session.execute(update(EdgeUplink).where(
            EdgeUplink.site_id == site, EdgeUplink.edge == edge).values(
            stored_through=new_through, through_ts=new_ts, folded_at=now))


class UplinkFolder(Periodic):
    """Every `interval_s`: stored_through advanced for each edge this worker confirmed to
    since the last round (`confirmer.touched`), and for each with uplink_ranges rows. Not
    often: the edge page reads what lies above it live, this only keeps that short."""

    task_name = "uplink-fold"

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 confirmer: StoredConfirmer | None = None, interval_s: float = 30.0) -> None:
        super().__init__(interval_s)
        self._sessions = sessions
        self._confirmer = confirmer

    async def run_once(self) -> None:
        touched = self._confirmer.take_touched() if self._confirmer is not None else set()
        async with self._sessions() as session:
            edges = {(site, edge) for site, edge in (await session.execute(
                select(UplinkRange.site_id, UplinkRange.edge).distinct())).all()}
        for site, edge in sorted(edges | touched):
            async with self._sessions() as session, session.begin():
                await fold_edge(session, site, edge)


__all__ = ["Committed", "StoredConfirmer", "UplinkFolder", "UplinkProgress", "events_above",
           "fold_edge", "loose_seq", "outbox_floors", "progress", "record_ranges"]
