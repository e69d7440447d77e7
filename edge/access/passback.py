"""Anti-passback: each card's last direction through an entry/exit door pair, kept in SQLite.

The decision asks `violates` before granting and calls `record` once it has granted, so a
card that entered must leave through the pair's exit before it may enter again. A direction
older than the pair's `reset_s` no longer counts (the card is treated as unknown, and unknown
passes either way). Records survive a restart of the agent: the file is the edge's own.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Literal

from edge.access.errors import CacheStorageError
from edge.store import SqliteStore
from wire import AntiPassbackRule

log = logging.getLogger(__name__)

Direction = Literal["in", "out"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS passback (
    pair INTEGER NOT NULL,
    card TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    at REAL NOT NULL,  -- Unix seconds of the decision
    PRIMARY KEY (pair, card)
) WITHOUT ROWID
"""


def direction_at(pair: AntiPassbackRule, door: str) -> Direction:
    return "in" if door == pair.entry else "out"


class PassbackLog(SqliteStore):
    """Last direction per (pair, card), in memory for the decision and written through."""

    def __init__(self, path: Path | str) -> None:
        try:
            super().__init__(path, durability="NORMAL", schema=_SCHEMA)
            rows = self._db.execute("SELECT pair, card, direction, at FROM passback").fetchall()
        except sqlite3.Error as exc:
            raise CacheStorageError(str(path), f"cannot open the anti-passback log: {exc}") from exc
        self._last: dict[tuple[int, str], tuple[Direction, float]] = {
            (pair, card): (direction, at) for pair, card, direction, at in rows
        }

    def last(self, pair: AntiPassbackRule, card: str, now: datetime) -> Direction | None:
        """The card's last direction through `pair`, or None if unknown or reset by time."""
        found = self._last.get((pair.id, card))
        if found is None:
            return None
        direction, at = found
        if pair.reset_s is not None and now.timestamp() - at >= pair.reset_s:
            return None
        return direction

    def violates(self, pair: AntiPassbackRule, door: str, card: str, now: datetime) -> bool:
        """Would passing `door` now repeat the card's last direction through the pair?"""
        return self.last(pair, card, now) == direction_at(pair, door)

    def record(self, pair: AntiPassbackRule, door: str, card: str, now: datetime) -> None:
        direction = direction_at(pair, door)
        at = now.timestamp()
        with self._lock:
            self._last[(pair.id, card)] = (direction, at)
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO passback VALUES (?, ?, ?, ?)",
                    (pair.id, card, direction, at),
                )
            except sqlite3.Error as exc:
                # The door has decided: a full disk must not undo that. The direction is
                # kept in memory; only a restart before the next good write forgets it.
                log.error("anti-passback log %s: recording a passage failed: %s", self._path, exc)

    def reset(self, card: str | None = None) -> None:
        """Forget every card's direction (a guard's amnesty), or one card's."""
        with self._lock:
            if card is None:
                self._last.clear()
                self._db.execute("DELETE FROM passback")
            else:
                self._last = {k: v for k, v in self._last.items() if k[1] != card}
                self._db.execute("DELETE FROM passback WHERE card = ?", (card,))

