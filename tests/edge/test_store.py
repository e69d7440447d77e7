"""The edge's SQLite stores share one base: each opens its file in WAL with the durability its
data needs, and a file that cannot be opened is refused with the store's own error."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.access.cache import PermissionCache
from edge.access.errors import CacheStorageError
from edge.access.passback import PassbackLog
from edge.access.tokens import CredentialLedger
from edge.cameras.spool import SnapshotSpool, SpoolError
from edge.errors import OutboxError
from edge.outbox import Outbox
from edge.store import SqliteStore

FULL, NORMAL = 2, 1  # PRAGMA synchronous


def stores(folder: Path) -> list[tuple[SqliteStore, int]]:
    return [
        (Outbox(folder / "outbox.db", site="s", edge="e"), FULL),
        (PermissionCache(folder / "permissions.db"), FULL),
        (CredentialLedger(folder / "credentials.db"), FULL),
        (PassbackLog(folder / "passback.db"), NORMAL),
        (SnapshotSpool(folder / "spool.db", 1_000_000), NORMAL),
    ]


def test_every_store_opens_in_wal_with_its_durability_and_closes(tmp_path: Path) -> None:
    for store, synchronous in stores(tmp_path):
        with store:
            assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert store._db.execute("PRAGMA synchronous").fetchone()[0] == synchronous, store
        with pytest.raises(Exception, match="closed"):
            store._db.execute("SELECT 1")


@pytest.mark.parametrize(("open_store", "error"), [
    (lambda p: Outbox(p, site="s", edge="e"), OutboxError),
    (PermissionCache, CacheStorageError),
    (CredentialLedger, CacheStorageError),
    (PassbackLog, CacheStorageError),
    (lambda p: SnapshotSpool(p, 1_000), SpoolError),
])
def test_a_file_that_cannot_be_opened_gets_the_stores_own_error(
        tmp_path: Path, open_store: type, error: type[Exception]) -> None:
    with pytest.raises(error, match="no-such-folder"):
        open_store(tmp_path / "no-such-folder" / "store.db")
