"""A small permission snapshot shared by the access tests (site time zone Asia/Shanghai)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wire import (
    AccessGroupRule,
    CardCredential,
    DoorInfo,
    PermissionSnapshot,
    Schedule,
    SnapshotContent,
    TimeWindow,
)

ISSUED = datetime(2025, 3, 1, tzinfo=UTC)
VALID_FROM = datetime(2025, 6, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2025, 1, 1, tzinfo=UTC)

DOORS = [
    DoorInfo(id="lobby", name="Lobby"),
    DoorInfo(id="gym", name="Gym"),
    DoorInfo(id="storage", name="Storage (no group opens it)"),
    DoorInfo(id="roof", name="Roof", mode="locked_down"),
]
SCHEDULES = [
    Schedule(id="office", windows=[TimeWindow(days=[0, 1, 2, 3, 4], start="08:00", end="18:00")]),
    Schedule(id="late", windows=[TimeWindow(days=[5], start="22:00", end="24:00")]),
]
GROUPS = [
    AccessGroupRule(id=1, doors=["lobby"], schedule=None),
    AccessGroupRule(id=2, doors=["gym"], schedule="office"),
    AccessGroupRule(id=3, doors=["gym"], schedule="late"),
    AccessGroupRule(id=4, doors=["roof"], schedule=None),
]
CREDENTIALS = [
    CardCredential(card="A1", resident_id=101, groups=[1, 2, 4]),
    CardCredential(card="B2", resident_id=102, groups=[2, 3]),
    CardCredential(card="R1", resident_id=201, status="revoked", groups=[1]),
    CardCredential(card="L1", resident_id=202, status="lost", groups=[1]),
    CardCredential(card="S1", resident_id=203, status="suspended", groups=[1]),
    CardCredential(card="F1", resident_id=204, valid_from=VALID_FROM, groups=[1]),
    CardCredential(card="E1", resident_id=205, valid_until=VALID_UNTIL, groups=[1]),
    CardCredential(card="N1", resident_id=206, groups=[]),
]


def content(**overrides: Any) -> SnapshotContent:
    fields: dict[str, Any] = {
        "site": "garden-court",
        "edge": "building-3",
        "timezone": "Asia/Shanghai",
        "doors": DOORS,
        "schedules": SCHEDULES,
        "groups": GROUPS,
        "credentials": CREDENTIALS,
    }
    fields.update(overrides)
    return SnapshotContent(**fields)


def snapshot(version: int = 1, **overrides: Any) -> PermissionSnapshot:
    return PermissionSnapshot.build(content(**overrides), version=version, issued_at=ISSUED)
