"""The durable outbox: every message the edge sends is written here first (SQLite, WAL)
and leaves only when the broker has acknowledged it (principle 2, nothing is lost)."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from wire import topics
from wire.events import (
    AccessData,
    AccessEvent,
    AgentData,
    AgentEvent,
    CameraData,
    CameraEvent,
    DeviceData,
    DeviceEvent,
    DoorData,
    DoorEvent,
    Event,
    TelemetryData,
    TelemetryEvent,
    new_event_id,
)

from edge.errors import OutboxError

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

_ENVELOPES: dict[type[BaseModel], type[BaseModel]] = {
    AccessData: AccessEvent,
    DoorData: DoorEvent,
    AgentData: AgentEvent,
    DeviceData: DeviceEvent,
    TelemetryData: TelemetryEvent,
    CameraData: CameraEvent,
}


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    seq: int
    topic: str
    qos: int
    retain: bool
    payload: bytes


class Outbox:
    """Thread-safe; one writer connection. `synchronous=FULL` so an acknowledged write
    survives a power cut as well as a crash."""

    def __init__(self, path: Path | str, *, site: str, edge: str) -> None:
        self.site = site
        self.edge = edge
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM counters WHERE name='seq'").fetchone()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc
        last_row = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] or 0
        # The counter survives rows leaving the outbox, so sequence numbers never repeat.
        self._seq = max(row[0] if row else 0, last_row)

    def add_event(
        self, device: str, data: AccessData | DoorData | AgentData | DeviceData | TelemetryData | CameraData, *, ts: datetime | None = None
    ) -> Event:
        """Wrap `data` in an envelope with a new id and the next sequence number, and store it."""
        envelope_type = _ENVELOPES[type(data)]
        with self._lock:
            seq = self._seq + 1
            event = envelope_type(
                id=new_event_id(), ts=ts or datetime.now(timezone.utc), site=self.site, edge=self.edge,
                device=device, seq=seq, data=data,
            )
            topic = topics.event(self.site, self.edge, event.kind)  # type: ignore[attr-defined]
            self._insert(seq, topic, event.model_dump_json().encode(), qos=1, retain=False)
        return event  # type: ignore[return-value]

    def add_message(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        """Queue a non-event message (a command acknowledgement) in the same order."""
        with self._lock:
            seq = self._seq + 1
            self._insert(seq, topic, payload, qos=qos, retain=retain)
        return seq

    def _insert(self, seq: int, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO outbox (seq, topic, qos, retain, payload) VALUES (?, ?, ?, ?, ?)",
                (seq, topic, qos, int(retain), payload),
            )
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES ('seq', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (seq,),
            )
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise OutboxError(f"cannot store message {seq} for {topic}: {exc}") from exc
        self._seq = seq

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """Messages still waiting for the broker, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, qos, retain, payload FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxMessage(r[0], r[1], r[2], bool(r[3]), bytes(r[4])) for r in rows]

    def acknowledged(self, seqs: list[int]) -> None:
        """The broker has these messages: they may leave the outbox."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
