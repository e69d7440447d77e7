"""The common part of the edge's SQLite stores (outbox, permission cache, anti-passback log,
credential ledger, camera spool): one file in WAL mode with the durability its data needs, one
connection shared by the loop and worker threads behind a lock, closed with the store."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

# FULL: a write survives power loss (events, permissions, counted uses); NORMAL: it survives a
# crash of the process, and a power cut may lose the last moments (anti-passback, spooled media).
Durability = Literal["FULL", "NORMAL"]


class SqliteStore:
    """Opens `path`, creates `schema` (if given) and keeps the connection in `_db`; every use of
    `_db` holds `_lock`. Raises sqlite3.Error, and then holds nothing open: each store turns it
    into its own error naming the file."""

    def __init__(self, path: Path | str, *, durability: Durability, schema: str = "") -> None:
        self._path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            if self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
                raise sqlite3.OperationalError(f"{self._path}: could not switch the journal to WAL")
            self._db.execute(f"PRAGMA synchronous = {durability}")
            if schema:
                self._db.executescript(schema)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
