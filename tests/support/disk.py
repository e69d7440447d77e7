"""A full disk under the edge's outbox, without root: a page limit and filler rows use up the
room, so the next write fails as on a full disk (SQLITE_FULL, 'database or disk is full')."""

from __future__ import annotations

import sqlite3

# filler rows in the outbox itself take the room left in its own pages (rows sent and
# deleted leave some); negative numbers are never sent (the uplink reads seq > its cursor)
_FILLERS = ("INSERT INTO disk_filler VALUES (zeroblob(?))",
            ("INSERT INTO outbox (seq, topic, payload) VALUES "
             "((SELECT MIN(COALESCE(MIN(seq), 0), 0) - 1 FROM outbox), 'filler', zeroblob(?))"))


def fill(db: sqlite3.Connection) -> None:
    """Use up every free byte of the outbox database `db`."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 4}")
    db.execute("CREATE TABLE IF NOT EXISTS disk_filler (x BLOB)")
    for statement in _FILLERS:
        for size in (4000, 1000, 200, 20, 1):
            try:
                for _ in range(100_000):
                    db.execute(statement, (size,))
            except sqlite3.OperationalError as exc:
                assert exc.sqlite_errorcode == sqlite3.SQLITE_FULL, exc
            else:
                raise AssertionError("the page limit never filled the store")


def free(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA max_page_count = 1073741823")
    db.execute("DELETE FROM outbox WHERE seq < 0")
