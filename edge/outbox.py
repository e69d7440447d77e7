"""The durable outbox: every message the edge sends is written here first (SQLite, WAL)
and leaves only when a hub worker confirms it committed it (`stored`, principle 2: nothing is
lost; a broker's PUBACK is not storage)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.errors import OutboxError
from edge.store import SqliteStore
from wire import CommandAck, topics
from wire.devices import DeviceData, TelemetryData
from wire.events import (
    AccessData,
    AccessEvent,
    AgentData,
    AgentEvent,
    CameraData,
    CameraEvent,
    DeviceEvent,
    DoorData,
    DoorEvent,
    Event,
    HomeSecurityEvent,
    LaneEvent,
    TelemetryEvent,
    VehicleEvent,
    new_event_id,
)
from wire.homesec import HomeSecurityData
from wire.stored import payload_digest, to_ranges
from wire.vehicles import LaneData, VehicleData

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,          -- per-edge monotonic sequence number
    topic TEXT NOT NULL,
    qos INTEGER NOT NULL DEFAULT 1,
    retain INTEGER NOT NULL DEFAULT 0,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

EventData = (AccessData | DoorData | AgentData | DeviceData | TelemetryData | CameraData
             | VehicleData | LaneData | HomeSecurityData)


def _envelope(data: EventData, **envelope: Any) -> Event:
    """The event of `data`'s kind around it (id, time, site, edge, device, seq in `envelope`)."""
    match data:
        case AccessData():
            return AccessEvent(data=data, **envelope)
        case DoorData():
            return DoorEvent(data=data, **envelope)
        case AgentData():
            return AgentEvent(data=data, **envelope)
        case DeviceData():
            return DeviceEvent(data=data, **envelope)
        case TelemetryData():
            return TelemetryEvent(data=data, **envelope)
        case CameraData():
            return CameraEvent(data=data, **envelope)
        case VehicleData():
            return VehicleEvent(data=data, **envelope)
        case LaneData():
            return LaneEvent(data=data, **envelope)
        case HomeSecurityData():
            return HomeSecurityEvent(data=data, **envelope)


# (seq, topic, payload, qos, retain)
_Row = tuple[int, str, bytes, int, bool]
# events kept in memory while the disk refuses writes (about 400 bytes each)
HELD_MAX = 20_000


def _disk_refused(exc: sqlite3.Error) -> bool:
    """A full disk (SQLITE_FULL) or a write the disk refused (SQLITE_IOERR and its kinds)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    seq: int
    topic: str
    qos: int
    retain: bool
    payload: bytes


class Outbox(SqliteStore):
    """Thread-safe; one writer connection. `synchronous=FULL` so an acknowledged write
    survives a power cut as well as a crash."""

    def __init__(self, path: Path | str, *, site: str, edge: str,
                 held_max: int = HELD_MAX) -> None:
        self.site = site
        self.edge = edge
        self._held: deque[_Row] = deque()
        self._leaving: list[int] = []  # confirmed, not yet deleted (the disk refused)
        self.held_max = held_max
        self.lost = 0  # events dropped because the disk was full and memory bound reached
        self._lost_before_holding = 0
        try:
            super().__init__(path, durability="FULL", schema=_SCHEMA)
            row = self._db.execute("SELECT value FROM counters WHERE name='seq'").fetchone()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc
        last_row = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] or 0
        # The counter survives rows leaving the outbox, so sequence numbers never repeat.
        self._seq = max(row[0] if row else 0, last_row)
        self._count = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def add_event(self, device: str, data: EventData, *, ts: datetime | None = None) -> Event:
        """Wrap `data` in an envelope with a new id and the next sequence number, and store it."""
        with self._lock:
            seq = self._seq + 1
            event = _envelope(data, id=new_event_id(), ts=ts or datetime.now(UTC), site=self.site,
                              edge=self.edge, device=device, seq=seq)
            topic = topics.event(self.site, self.edge, event.kind)
            self._insert(seq, topic, event.model_dump_json().encode(), qos=1, retain=False)
        return event

    def add_events(
        self, items: Sequence[tuple[str, EventData]],
    ) -> list[Event]:
        """Store many (device, data) events in one transaction (one disk sync), in order."""
        with self._lock:
            events: list[Event] = []
            rows: list[_Row] = []
            now = datetime.now(UTC)
            for seq, (device, data) in enumerate(items, start=self._seq + 1):
                event = _envelope(data, id=new_event_id(), ts=now, site=self.site,
                                  edge=self.edge, device=device, seq=seq)
                topic = topics.event(self.site, self.edge, event.kind)
                rows.append((seq, topic, event.model_dump_json().encode(), 1, False))
                events.append(event)
            self._insert_many(rows)
        return events

    def add_command_ack(self, ack: CommandAck) -> int:
        """Queue a command acknowledgement in the same order, under its own sequence number
        (carried inside, so the hub can confirm it like an event)."""
        with self._lock:
            seq = self._seq + 1
            payload = ack.model_copy(update={"seq": seq}).model_dump_json().encode()
            self._insert(seq, topics.cmd_ack(self.site, self.edge), payload, qos=1, retain=False)
        return seq

    def _insert(self, seq: int, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        self._insert_many([(seq, topic, payload, qos, retain)])

    def _insert_many(self, rows: list[_Row]) -> None:
        """Store `rows` after any held ones; a full disk holds them all in memory instead."""
        if not rows:
            return
        self._seq = rows[-1][0]  # numbers handed out are never handed out again
        if self._held:
            self._held.extend(rows)
            self._write_held()
            return
        try:
            self._write(rows)
        except sqlite3.Error as exc:
            if not _disk_refused(exc):
                raise OutboxError(f"cannot store message {rows[-1][0]}: {exc}") from exc
            self._hold(rows, exc)

    def _write(self, rows: Sequence[_Row]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO outbox (seq, topic, qos, retain, payload) VALUES (?, ?, ?, ?, ?)",
                [(seq, t, qos, int(retain), payload) for seq, t, payload, qos, retain in rows],
            )
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES ('seq', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (rows[-1][0],),
            )
            self._db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise
        self._count += len(rows)

    # -- a full disk: the door keeps deciding, its events wait in memory ----------------------

    def _hold(self, rows: list[_Row], exc: sqlite3.Error) -> None:
        if not self._held:
            log.error("outbox %s cannot write (%s): events held in memory, up to %d",
                      self._path, exc, self.held_max)
            self._lost_before_holding = self.lost
        self._held.extend(rows)
        overflow = len(self._held) - self.held_max
        if overflow > 0:
            # keep the newest: they tell what is happening now
            for _ in range(overflow):
                self._held.popleft()
            if self.lost == self._lost_before_holding:
                log.error("outbox %s: memory bound reached, the oldest held events are lost",
                          self._path)
            self.lost += overflow

    def _write_held(self) -> None:
        try:
            self._write(self._held)
        except sqlite3.Error as exc:
            if not _disk_refused(exc):
                raise OutboxError(f"cannot store held messages: {exc}") from exc
            self._hold([], exc)
            return
        log.warning("outbox %s writes again: %d held events stored, %d lost", self._path,
                    len(self._held), self.lost - self._lost_before_holding)
        self._held.clear()

    def retry_held(self) -> bool:
        """Try to store the events held in memory; True when none are held any more."""
        with self._lock:
            if self._held:
                self._write_held()
            return not self._held

    def continue_after(self, floor: int) -> bool:
        """Number the next message after `floor` (the hub's word that this edge used numbers up
        to it: this outbox was wiped or restored from an old copy). True if that moved the
        numbering; the numbers already handed out stay as they are."""
        with self._lock:
            if floor <= self._seq:
                return False
            self._seq = floor
            try:
                self._db.execute(
                    "INSERT INTO counters (name, value) VALUES ('seq', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)", (floor,))
            except sqlite3.Error as exc:  # the next message stored writes the counter too
                log.error("outbox %s cannot keep its new numbering yet: %s", self._path, exc)
            return True

    @property
    def held(self) -> int:
        """Events waiting in memory because the disk refused them."""
        return len(self._held)

    @property
    def last_seq(self) -> int:
        """The last sequence number handed out (0 before the first)."""
        return self._seq

    def pending(self, after_seq: int = 0, limit: int = 100,
                upto: int | None = None) -> list[OutboxMessage]:
        """Messages still waiting for the hub's confirmation, oldest first: those after
        `after_seq` and, when given, up to `upto`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, qos, retain, payload FROM outbox WHERE seq > ? AND seq <= ? "
                "ORDER BY seq LIMIT ?",
                (after_seq, upto if upto is not None else 2**63 - 1, limit),
            ).fetchall()
        return [OutboxMessage(r[0], r[1], r[2], bool(r[3]), bytes(r[4])) for r in rows]

    def confirmed(self, stored: Iterable[tuple[int, str]]) -> set[int]:
        """A hub worker committed these (seq, payload digest): each message whose own bytes
        have the digest confirmed for its seq leaves the outbox. Returns the seqs kept because
        their digest was another (the hub committed some other message under that number:
        this one is sent again). On a full disk they stay until a later call manages it (at
        worst they are sent again: the hub stores by event id, so that is harmless)."""
        wanted: dict[int, set[str]] = {}
        for seq, digest in stored:
            wanted.setdefault(seq, set()).add(digest)
        mismatched: set[int] = set()
        with self._lock:
            for first, last in to_ranges(wanted):
                for seq, payload in self._db.execute(
                        "SELECT seq, payload FROM outbox WHERE seq BETWEEN ? AND ?", (first, last)):
                    if payload_digest(bytes(payload)) in wanted[seq]:
                        self._leaving.append(seq)
                    else:
                        mismatched.add(seq)
            if mismatched:
                log.warning("outbox %s: %d confirmed sequence numbers name other messages than "
                            "the ones kept here (kept, to be sent again): %s", self._path,
                            len(mismatched), sorted(mismatched)[:10])
            # No disk sync for a removal (the next stored event's sync covers it): a power cut
            # could only bring back messages already stored, and the hub stores those once.
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                gone = self._db.executemany("DELETE FROM outbox WHERE seq BETWEEN ? AND ?",
                                            to_ranges(self._leaving)).rowcount
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                if not _disk_refused(exc):
                    raise OutboxError(f"cannot remove confirmed messages: {exc}") from exc
                return mismatched
            finally:
                self._db.execute("PRAGMA synchronous=FULL")
            self._count -= max(gone, 0)
            self._leaving.clear()
        return mismatched

    def __len__(self) -> int:
        """Messages on disk waiting for the hub's confirmation (kept count: no table scan)."""
        return self._count
