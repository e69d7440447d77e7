from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import edge.access.cache as cache_module
from edge.access.cache import PermissionCache
from edge.access.errors import AccessError, CacheStorageError, SnapshotRejectedError
from tests.edge.access.snapshots import VALID_FROM, snapshot
from wire import CardCredential, DoorInfo


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "permissions.db"


@pytest.fixture
def cache(path: Path) -> Iterator[PermissionCache]:
    with PermissionCache(path) as cache:
        yield cache


def test_empty_cache(cache: PermissionCache) -> None:
    assert (cache.version, cache.hash, cache.state, cache.timezone) == (0, None, None, None)
    assert cache.lookup_card("A1") is None
    assert cache.door("lobby") is None
    assert dict(cache.doors) == dict(cache.groups) == dict(cache.schedules) == {}


def test_apply_then_read(cache: PermissionCache) -> None:
    snap = snapshot(3)
    cache.apply(snap)
    assert (cache.version, cache.hash) == (3, snap.hash)
    assert str(cache.timezone) == "Asia/Shanghai"
    assert cache.door("roof") == DoorInfo(id="roof", name="Roof", mode="locked_down")
    assert set(cache.doors) == {"lobby", "gym", "storage", "roof"}
    assert set(cache.groups) == {1, 2, 3, 4}
    assert set(cache.schedules) == {"office", "late"}
    cred = cache.lookup_card("F1")
    assert cred is not None
    assert (cred.card, cred.resident_id, cred.status) == ("F1", 204, "active")
    assert (cred.valid_from, cred.valid_until, cred.groups) == (VALID_FROM, None, (1,))
    assert cache.lookup_card("nope") is None


def test_restart_from_the_same_file_keeps_the_snapshot(path: Path) -> None:
    snap = snapshot(7)
    with PermissionCache(path) as first:
        first.apply(snap)
        before = first.state
    with PermissionCache(path) as second:
        after = second.state
        assert after is not None and before is not None
        assert (after.version, after.hash, after.issued_at) == (7, snap.hash, snap.issued_at)
        assert after.timezone == before.timezone
        assert dict(after.doors) == dict(before.doors)
        assert dict(after.groups) == dict(before.groups)
        assert dict(after.schedules) == dict(before.schedules)
        assert dict(after.credentials) == dict(before.credentials)
        assert dict(after.door_groups) == dict(before.door_groups)


def test_file_is_in_wal_mode(cache: PermissionCache, path: Path) -> None:
    cache.apply(snapshot())
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_older_version_is_refused(cache: PermissionCache, path: Path) -> None:
    cache.apply(snapshot(5))
    with pytest.raises(SnapshotRejectedError, match="older") as caught:
        cache.apply(snapshot(4, credentials=[]))
    assert isinstance(caught.value, AccessError)
    assert (caught.value.offered_version, caught.value.held_version) == (4, 5)
    assert cache.version == 5 and cache.lookup_card("A1") is not None
    with PermissionCache(path) as reopened:
        assert reopened.version == 5


def test_same_version_and_hash_is_a_no_op(cache: PermissionCache) -> None:
    cache.apply(snapshot(2))
    state = cache.state
    cache.apply(snapshot(2))
    assert cache.state is state


def test_same_version_with_other_content_is_refused(cache: PermissionCache) -> None:
    cache.apply(snapshot(2))
    with pytest.raises(SnapshotRejectedError, match="different content"):
        cache.apply(snapshot(2, credentials=[]))
    assert cache.lookup_card("A1") is not None


def test_newer_version_replaces_everything(cache: PermissionCache, path: Path) -> None:
    cache.apply(snapshot(1))
    newer = snapshot(
        2,
        timezone="UTC",
        doors=[DoorInfo(id="lobby", name="Lobby")],
        credentials=[CardCredential(card="Z9", resident_id=9, groups=[1])],
    )
    cache.apply(newer)
    with PermissionCache(path) as reopened:
        for reader in (cache, reopened):
            assert reader.version == 2
            assert str(reader.timezone) == "UTC"
            assert set(reader.doors) == {"lobby"}
            assert reader.lookup_card("A1") is None
            assert reader.lookup_card("Z9") is not None


def test_duplicate_cards_are_refused(cache: PermissionCache) -> None:
    cache.apply(snapshot(1))
    dup = [CardCredential(card="D", groups=[1]), CardCredential(card="D", groups=[2])]
    with pytest.raises(SnapshotRejectedError, match="duplicate card numbers \\['D'\\]"):
        cache.apply(snapshot(2, credentials=dup))
    assert cache.version == 1


def test_failing_apply_leaves_the_old_snapshot(
    cache: PermissionCache, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = snapshot(1)
    cache.apply(old)
    real_rows = cache_module._credential_rows
    seen_mid_apply: list[tuple[int, bool, int]] = []

    def rows_then_disk_error(creds: Iterable[CardCredential]) -> Iterator[tuple[object, ...]]:
        yield from list(real_rows(creds))[:2]
        # Half-way through the write: readers, in this process and another, see v1 whole.
        with PermissionCache(path) as other:
            seen_mid_apply.append(
                (cache.version, cache.lookup_card("A1") is not None, other.version)
            )
            assert other.lookup_card("A1") is not None
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(cache_module, "_credential_rows", rows_then_disk_error)
    with pytest.raises(CacheStorageError, match="v2 failed: disk I/O error"):
        cache.apply(snapshot(2, credentials=[CardCredential(card=f"N{i}") for i in range(5)]))
    assert seen_mid_apply == [(1, True, 1)]
    assert (cache.version, cache.hash) == (1, old.hash)
    assert cache.lookup_card("A1") is not None and cache.lookup_card("N0") is None
    monkeypatch.undo()
    with PermissionCache(path) as reopened:
        assert (reopened.version, reopened.hash) == (1, old.hash)
        assert reopened.lookup_card("A1") == cache.lookup_card("A1")
        assert reopened.lookup_card("N0") is None
    cache.apply(snapshot(2))  # and the cache still works
    assert cache.version == 2


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CacheStorageError, match=r"garbage\.db"):
        PermissionCache(bad)


_SCHEMA_V1 = """
CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL,
    hash TEXT NOT NULL, issued_at TEXT NOT NULL, content TEXT NOT NULL);
CREATE TABLE credentials (card TEXT PRIMARY KEY, resident_id INTEGER, status TEXT NOT NULL,
    valid_from TEXT, valid_until TEXT, groups TEXT NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 1;
"""


def test_a_cache_of_schema_1_is_upgraded_and_keeps_its_snapshot(tmp_path: Path) -> None:
    """An edge updated in place keeps deciding from the snapshot it held (with no floors
    until the next one arrives), then holds each credential's floors across restarts."""
    path = tmp_path / "perm.db"
    held = snapshot(1)
    with PermissionCache(path) as c:
        c.apply(held)
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE credentials; DROP TABLE snapshot;" + _SCHEMA_V1)
    db.execute("INSERT INTO snapshot VALUES (1, ?, ?, ?, ?)",
               (held.version, held.hash, held.issued_at.isoformat(),
                held.model_dump_json(include=cache_module._CONTENT_FIELDS)))
    db.execute("INSERT INTO credentials VALUES ('A1', 101, 'active', NULL, NULL, '1,2,4')")
    db.commit()
    db.close()
    with PermissionCache(path) as c:
        state = c.state
        assert state is not None and state.version == 1
        assert state.credentials["A1"].groups == (1, 2, 4) and state.credentials["A1"].floors == ()
        c.apply(snapshot(2, credentials=[CardCredential(card="A1", resident_id=101, groups=[1],
                                                         floors=[12, -1])]))
    with PermissionCache(path) as c:
        assert c.state is not None and c.state.credentials["A1"].floors == (-1, 12)
