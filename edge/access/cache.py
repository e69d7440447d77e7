"""The permission snapshot held at the edge, so doors decide after a restart with no network.

On disk: one SQLite file (WAL). A snapshot is replaced in a single transaction, so a crash or a
failed apply leaves the previous one whole. In memory: one immutable `CachedSnapshot` (doors,
groups, schedules and a dict of credentials), swapped by a single assignment after the commit,
so a reader that takes `cache.state` once never sees half of one snapshot and half of another.
Credentials live in a dict rather than being read per card from SQLite: 100,000 of them cost
tens of MB and make a lookup a hash probe (see bench/edge_decision.py for the figures).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from edge.access.errors import CacheStorageError, SnapshotRejectedError
from edge.access.schedule import WeeklySchedule
from edge.store import SqliteStore
from wire import (
    AccessGroupRule,
    AntiPassbackRule,
    CardCredential,
    CardFormatRule,
    DoorInfo,
    PermissionDelta,
    PermissionSnapshot,
    ResidentPin,
    SnapshotContent,
)
from wire.permissions import PhoneKeyGrant, VisitorPassLimit

CredentialStatus = Literal["active", "revoked", "lost", "suspended"]

_SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    content TEXT NOT NULL  -- SnapshotContent JSON without its credentials
);
CREATE TABLE credentials (
    card TEXT PRIMARY KEY,
    resident_id INTEGER,
    status TEXT NOT NULL,
    valid_from TEXT,
    valid_until TEXT,
    groups TEXT NOT NULL,  -- comma-separated group ids
    floors TEXT NOT NULL DEFAULT ''  -- comma-separated floors, the holder's own
) WITHOUT ROWID;
"""
# what each older schema version needs to reach this one (held data stays valid)
_UPGRADES = {1: ["ALTER TABLE credentials ADD COLUMN floors TEXT NOT NULL DEFAULT ''"]}
# Everything in the snapshot except the credentials, which get their own table.
_CONTENT_FIELDS = set(SnapshotContent.model_fields) - {"credentials"}


@dataclass(frozen=True, slots=True)
class CachedCredential:
    card: str
    resident_id: int | None
    status: CredentialStatus
    valid_from: datetime | None
    valid_until: datetime | None
    groups: tuple[int, ...]
    floors: tuple[int, ...] = ()  # the holder's own floors (a resident's unit)


@dataclass(frozen=True, slots=True)
class CachedSnapshot:
    """One permission snapshot, immutable, with the indexes the decision needs."""

    version: int
    hash: str
    issued_at: datetime
    site: str
    edge: str
    timezone: ZoneInfo
    doors: Mapping[str, DoorInfo]
    groups: Mapping[int, AccessGroupRule]
    schedules: Mapping[str, WeeklySchedule]
    credentials: Mapping[str, CachedCredential]
    door_groups: Mapping[str, frozenset[int]]  # door id -> ids of the groups that include it
    holidays: frozenset[date] = frozenset()
    # door id -> the anti-passback pairs it belongs to
    door_passback: Mapping[str, tuple[AntiPassbackRule, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # signed credentials: the hub's public key, phone keys by id, visitor pass limits by id
    hub_public_key: str | None = None
    phone_keys: Mapping[int, PhoneKeyGrant] = field(default_factory=lambda: MappingProxyType({}))
    pass_limits: Mapping[int, VisitorPassLimit] = field(
        default_factory=lambda: MappingProxyType({})
    )
    card_format: CardFormatRule = field(default_factory=CardFormatRule)
    pins: Mapping[int, ResidentPin] = field(default_factory=lambda: MappingProxyType({}))


class PermissionCache(SqliteStore):
    """The edge's permission snapshot, persisted in SQLite and served from memory.

    `apply` may run in a worker thread while the door loop reads: readers only touch the
    immutable `state`, and writers are serialised by a lock.
    """

    def __init__(self, path: Path | str) -> None:
        try:
            # FULL: an applied snapshot survives power loss; applies are rare, so it is cheap.
            super().__init__(path, durability="FULL")
        except sqlite3.Error as exc:
            raise CacheStorageError(str(path), f"cannot open: {exc}") from exc
        try:
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._ensure_schema()
            self._state = self._load()
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.Error):
                raise CacheStorageError(self._path, f"cannot open: {exc}") from exc
            raise

    # -- reading ---------------------------------------------------------------------------

    @property
    def state(self) -> CachedSnapshot | None:
        """The snapshot held, or None before the first apply. Take it once per decision."""
        return self._state

    @property
    def version(self) -> int:
        """Version of the snapshot held; 0 when none is held yet."""
        state = self._state
        return 0 if state is None else state.version

    @property
    def hash(self) -> str | None:
        state = self._state
        return None if state is None else state.hash

    @property
    def timezone(self) -> ZoneInfo | None:
        state = self._state
        return None if state is None else state.timezone

    @property
    def doors(self) -> Mapping[str, DoorInfo]:
        state = self._state
        return MappingProxyType({}) if state is None else state.doors

    @property
    def groups(self) -> Mapping[int, AccessGroupRule]:
        state = self._state
        return MappingProxyType({}) if state is None else state.groups

    @property
    def schedules(self) -> Mapping[str, WeeklySchedule]:
        state = self._state
        return MappingProxyType({}) if state is None else state.schedules

    def door(self, door_id: str) -> DoorInfo | None:
        return self.doors.get(door_id)

    def lookup_card(self, card: str) -> CachedCredential | None:
        state = self._state
        return None if state is None else state.credentials.get(card)

    # -- writing ---------------------------------------------------------------------------

    def apply(self, snapshot: PermissionSnapshot, *, reset: bool = False) -> None:
        """Replace the held snapshot with `snapshot`, all or nothing.

        The same version and hash again is a no-op. An older version, the same version with
        other content, or duplicate card numbers raise SnapshotRejectedError; a storage failure
        raises CacheStorageError. In every failure the previous snapshot stays in force.
        `reset` (only on the hub's signed reset_permissions) lets an older version in.
        """
        with self._lock:
            held = self._state
            held_version = 0 if held is None else held.version
            if held is not None and not reset:
                if snapshot.version < held.version:
                    raise SnapshotRejectedError(
                        "older than the snapshot held",
                        offered_version=snapshot.version,
                        held_version=held_version,
                    )
                if snapshot.version == held.version:
                    if snapshot.hash == held.hash:
                        return
                    raise SnapshotRejectedError(
                        "same version as the snapshot held but different content",
                        offered_version=snapshot.version,
                        held_version=held_version,
                    )
            fresh = _build_state(snapshot, held_version)
            try:
                self._write(snapshot)
            except sqlite3.Error as exc:
                raise CacheStorageError(
                    self._path, f"applying snapshot v{snapshot.version} failed: {exc}"
                ) from exc
            self._state = fresh

    def apply_delta(self, delta: PermissionDelta) -> None:
        """Move from the held snapshot to `delta.version` by changing only its credentials.

        Refused (SnapshotRejectedError, nothing changes) unless the held snapshot is exactly
        the delta's base, and when an upserted credential names a group the snapshot lacks."""
        with self._lock:
            held = self._state
            if held is None or (held.version, held.hash) != (delta.base_version, delta.base_hash):
                raise SnapshotRejectedError(
                    f"delta from v{delta.base_version} does not apply to the snapshot held",
                    offered_version=delta.version,
                    held_version=0 if held is None else held.version,
                )
            for cred in delta.upsert:
                unknown = [g for g in cred.groups if g not in held.groups]
                if unknown:
                    raise SnapshotRejectedError(
                        f"credential {cred.card} names unknown groups {unknown}",
                        offered_version=delta.version, held_version=held.version,
                    )
            credentials = dict(held.credentials)
            for card in delta.remove:
                credentials.pop(card, None)
            for cred in delta.upsert:
                credentials[cred.card] = _cached(cred)
            try:
                self._write_delta(delta)
            except sqlite3.Error as exc:
                raise CacheStorageError(
                    self._path, f"applying delta to v{delta.version} failed: {exc}"
                ) from exc
            self._state = replace(
                held, version=delta.version, hash=delta.hash, issued_at=delta.issued_at,
                credentials=MappingProxyType(credentials),
            )


    # -- internals -------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        found = self._db.execute("PRAGMA user_version").fetchone()[0]
        if found == _SCHEMA_VERSION:
            return
        if found != 0 and found not in _UPGRADES:
            raise CacheStorageError(
                self._path, f"schema version {found}, this edge expects {_SCHEMA_VERSION}"
            )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the write lock: another process may have created it meanwhile.
            found = self._db.execute("PRAGMA user_version").fetchone()[0]
            if found == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            elif found != _SCHEMA_VERSION:
                for statement in _UPGRADES[found]:
                    self._db.execute(statement)
            if found != _SCHEMA_VERSION:
                self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _write(self, snapshot: PermissionSnapshot) -> None:
        content = snapshot.model_dump_json(include=_CONTENT_FIELDS)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM snapshot")
            self._db.execute("DELETE FROM credentials")
            self._db.execute(
                "INSERT INTO snapshot (id, version, hash, issued_at, content) VALUES (1, ?, ?, ?, ?)",
                (snapshot.version, snapshot.hash, snapshot.issued_at.isoformat(), content),
            )
            self._db.executemany(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
                _credential_rows(snapshot.credentials),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _write_delta(self, delta: PermissionDelta) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "UPDATE snapshot SET version = ?, hash = ?, issued_at = ? WHERE id = 1",
                (delta.version, delta.hash, delta.issued_at.isoformat()),
            )
            self._db.executemany(
                "DELETE FROM credentials WHERE card = ?", [(card,) for card in delta.remove]
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
                _credential_rows(delta.upsert),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _load(self) -> CachedSnapshot | None:
        # One read transaction, so a writer in another process cannot mix two snapshots.
        self._db.execute("BEGIN")
        try:
            head = self._db.execute(
                "SELECT version, hash, issued_at, content FROM snapshot WHERE id = 1"
            ).fetchone()
            rows = [] if head is None else self._db.execute("SELECT * FROM credentials").fetchall()
        finally:
            self._db.execute("COMMIT")
        if head is None:
            return None
        version, hash_, issued_at, content_json = head
        try:
            content = SnapshotContent.model_validate_json(content_json)
        except ValidationError as exc:
            raise CacheStorageError(self._path, f"stored snapshot is invalid: {exc}") from exc
        return _index(
            content,
            version=version,
            hash_=hash_,
            issued_at=datetime.fromisoformat(issued_at),
            credentials=_credentials_from_rows(rows),
        )


def _credential_rows(credentials: Iterable[CardCredential]) -> Iterator[tuple[object, ...]]:
    for cred in credentials:
        yield (
            cred.card,
            cred.resident_id,
            cred.status,
            None if cred.valid_from is None else cred.valid_from.isoformat(),
            None if cred.valid_until is None else cred.valid_until.isoformat(),
            ",".join(map(str, cred.groups)),
            ",".join(map(str, cred.floors)),
        )


def _credentials_from_rows(rows: Iterable[tuple[Any, ...]]) -> dict[str, CachedCredential]:
    shared: dict[str, tuple[int, ...]] = {}  # many cards carry the same groups: share the tuple
    out: dict[str, CachedCredential] = {}
    for card, resident_id, status, valid_from, valid_until, groups, floors in rows:
        group_ids = shared.get(groups)
        if group_ids is None:
            group_ids = shared[groups] = tuple(int(g) for g in groups.split(",") if g)
        out[card] = CachedCredential(
            card=card,
            resident_id=resident_id,
            status=status,
            valid_from=None if valid_from is None else datetime.fromisoformat(valid_from),
            valid_until=None if valid_until is None else datetime.fromisoformat(valid_until),
            groups=group_ids,
            floors=tuple(int(f) for f in floors.split(",") if f),
        )
    return out


def _cached(cred: CardCredential) -> CachedCredential:
    return CachedCredential(
        card=cred.card,
        resident_id=cred.resident_id,
        status=cred.status,
        valid_from=cred.valid_from,
        valid_until=cred.valid_until,
        groups=tuple(cred.groups),
        floors=tuple(cred.floors),
    )


def _build_state(snapshot: PermissionSnapshot, held_version: int) -> CachedSnapshot:
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}
    credentials: dict[str, CachedCredential] = {}
    for cred in snapshot.credentials:
        groups = tuple(cred.groups)
        credentials[cred.card] = CachedCredential(
            card=cred.card,
            resident_id=cred.resident_id,
            status=cred.status,
            valid_from=cred.valid_from,
            valid_until=cred.valid_until,
            groups=shared.setdefault(groups, groups),
            floors=tuple(cred.floors),
        )
    if len(credentials) != len(snapshot.credentials):
        counts = Counter(cred.card for cred in snapshot.credentials)
        duplicates = sorted(card for card, n in counts.items() if n > 1)
        raise SnapshotRejectedError(
            f"duplicate card numbers {duplicates[:5]}",
            offered_version=snapshot.version,
            held_version=held_version,
        )
    return _index(
        snapshot,
        version=snapshot.version,
        hash_=snapshot.hash,
        issued_at=snapshot.issued_at,
        credentials=credentials,
    )


def _index(
    content: SnapshotContent,
    *,
    version: int,
    hash_: str,
    issued_at: datetime,
    credentials: dict[str, CachedCredential],
) -> CachedSnapshot:
    door_groups: dict[str, set[int]] = {}
    for group in content.groups:
        for door in group.doors:
            door_groups.setdefault(door, set()).add(group.id)
    door_passback: dict[str, list[AntiPassbackRule]] = {}
    for pair in content.anti_passback:
        door_passback.setdefault(pair.entry, []).append(pair)
        door_passback.setdefault(pair.exit, []).append(pair)
    return CachedSnapshot(
        version=version,
        hash=hash_,
        issued_at=issued_at,
        site=content.site,
        edge=content.edge,
        timezone=ZoneInfo(content.timezone),
        doors=MappingProxyType({d.id: d for d in content.doors}),
        groups=MappingProxyType({g.id: g for g in content.groups}),
        schedules=MappingProxyType({s.id: WeeklySchedule.from_wire(s) for s in content.schedules}),
        credentials=MappingProxyType(credentials),
        door_groups=MappingProxyType({d: frozenset(ids) for d, ids in door_groups.items()}),
        holidays=frozenset(content.holidays),
        door_passback=MappingProxyType({d: tuple(p) for d, p in door_passback.items()}),
        hub_public_key=content.hub_public_key,
        phone_keys=MappingProxyType({k.id: k for k in content.phone_keys}),
        pass_limits=MappingProxyType({p.id: p for p in content.visitor_passes}),
        card_format=content.card_format,
        pins=MappingProxyType({p.resident_id: p for p in content.pins}),
    )
