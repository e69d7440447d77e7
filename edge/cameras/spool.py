"""The snapshot spool: JPEGs and clips wait here (SQLite, WAL) until the hub has them.

Survives restarts; when it grows past its size limit the oldest items go first (a camera
that alerts all night while the hub is away must not fill the disk).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.store import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id TEXT PRIMARY KEY, camera TEXT NOT NULL, kind TEXT NOT NULL, content_type TEXT NOT NULL,
    ts TEXT NOT NULL, data BLOB NOT NULL, size INTEGER NOT NULL, attempts INTEGER DEFAULT 0
);
"""


class SpoolError(EdgeError):
    """The snapshot spool could not store or read an item."""


@dataclass(frozen=True, slots=True)
class SpoolItem:
    id: str
    camera: str
    kind: str  # snapshot / clip
    content_type: str
    ts: str  # ISO 8601, UTC
    data: bytes
    attempts: int


class SnapshotSpool(SqliteStore):
    def __init__(self, path: Path | str, max_bytes: int) -> None:
        self._max = max_bytes
        self.evicted = 0
        try:
            super().__init__(path, durability="NORMAL", schema=_SCHEMA)
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open snapshot spool {path}: {exc}") from exc

    def add(self, item_id: str, camera: str, kind: str, content_type: str, ts: str,
            data: bytes) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT OR IGNORE INTO spool (id, camera, kind, content_type, ts, data, size)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (item_id, camera, kind, content_type, ts, data, len(data)))
                total = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM spool").fetchone()[0]
                while total > self._max:
                    row = self._db.execute(
                        "SELECT rowid, size FROM spool ORDER BY rowid LIMIT 1").fetchone()
                    self._db.execute("DELETE FROM spool WHERE rowid = ?", (row[0],))
                    total -= row[1]
                    self.evicted += 1
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise SpoolError(f"cannot spool {kind} {item_id}: {exc}") from exc

    def oldest(self, limit: int = 10) -> list[SpoolItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, camera, kind, content_type, ts, data, attempts FROM spool "
                "ORDER BY rowid LIMIT ?", (limit,)).fetchall()
        return [SpoolItem(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6]) for r in rows]

    def done(self, item_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE id = ?", (item_id,))

    def failed(self, item_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE spool SET attempts = attempts + 1 WHERE id = ?", (item_id,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])
