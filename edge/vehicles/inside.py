"""Who is inside, as the edge's lanes counted: each plate let in (when, for which household,
whether it takes one of the household's parking spaces) and the visitor-car pass uses counted
here. In memory for the decision and written through to SQLite, so a restart of the agent
(with or without the hub) still knows who is inside, and a one-use pass stays used."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.store import SqliteStore

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inside (
    plate TEXT PRIMARY KEY,
    entered_at REAL NOT NULL,          -- Unix seconds
    household_id INTEGER,
    takes_space INTEGER NOT NULL       -- 1: a resident car on one of its household's spaces
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pass_uses (pass_id INTEGER PRIMARY KEY, uses INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Stay:
    entered_at: datetime
    household_id: int | None
    takes_space: bool


class _Db(SqliteStore):
    def __init__(self, path: Path) -> None:
        # FULL: a counted pass use must survive a power cut (a one-use pass stays used)
        super().__init__(path, durability="FULL", schema=_SCHEMA)

    def rows(self) -> tuple[list[tuple[str, float, int | None, int]], list[tuple[int, int]]]:
        with self._lock:
            return (self._db.execute("SELECT plate, entered_at, household_id, takes_space "
                                     "FROM inside").fetchall(),
                    self._db.execute("SELECT pass_id, uses FROM pass_uses").fetchall())

    def write(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock:
            self._db.execute(sql, args)


class InsideLog:
    """`path` None: memory only (tests, benchmarks)."""

    def __init__(self, path: Path | None = None) -> None:
        self.stays: dict[str, Stay] = {}
        self.uses: dict[int, int] = {}
        self.spaces_taken: Counter[int] = Counter()  # household -> resident cars inside
        self._db = _Db(path) if path is not None else None
        if self._db is None:
            return
        stays, uses = self._db.rows()
        for plate, at, household, takes in stays:
            self._remember(plate, Stay(datetime.fromtimestamp(at, UTC), household, bool(takes)))
        self.uses = dict(uses)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def __contains__(self, plate: str) -> bool:
        return plate in self.stays

    def entered(self, plate: str, at: datetime, household_id: int | None = None,
                takes_space: bool = False) -> None:
        self._forget(plate)
        self._remember(plate, Stay(at, household_id, takes_space))
        self._write("INSERT OR REPLACE INTO inside VALUES (?, ?, ?, ?)",
                    (plate, at.timestamp(), household_id, int(takes_space)))

    def left(self, *plates: str) -> None:
        for plate in plates:
            if plate in self.stays:
                self._forget(plate)
                self._write("DELETE FROM inside WHERE plate = ?", (plate,))

    def count_use(self, pass_id: int, uses: int) -> None:
        self.uses[pass_id] = uses
        self._write("INSERT OR REPLACE INTO pass_uses VALUES (?, ?)", (pass_id, uses))

    def _remember(self, plate: str, stay: Stay) -> None:
        self.stays[plate] = stay
        if stay.takes_space and stay.household_id is not None:
            self.spaces_taken[stay.household_id] += 1

    def _forget(self, plate: str) -> None:
        stay = self.stays.pop(plate, None)
        if stay is not None and stay.takes_space and stay.household_id is not None:
            self.spaces_taken[stay.household_id] -= 1

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        if self._db is None:
            return
        try:
            self._db.write(sql, args)
        except sqlite3.Error as exc:
            # the lane has decided: a full disk must not undo that; only a restart before the
            # next good write forgets it
            log.error("vehicle inside log: a write failed: %s", exc)


__all__ = ["InsideLog", "Stay"]
