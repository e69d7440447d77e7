from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

import wire


def content(**overrides: object) -> wire.SnapshotContent:
    fields = {
        "site": "demo", "edge": "b1-edge",
        "doors": [wire.DoorInfo(id="B1-main", name="1号楼 正门")],
        "schedules": [wire.Schedule(id="day", windows=[wire.TimeWindow(days=[0, 1], start="08:00", end="24:00")])],
        "groups": [wire.AccessGroupRule(id=1, doors=["B1-main"], schedule="day")],
        "credentials": [wire.CardCredential(card="1001", resident_id=1, groups=[1])],
    }
    fields.update(overrides)
    return wire.SnapshotContent(**fields)


def test_sealed_snapshot_validates_and_round_trips() -> None:
    snap = wire.PermissionSnapshot.build(content(), 3, datetime.now(UTC))
    again = wire.PermissionSnapshot.model_validate_json(snap.model_dump_json())
    assert again.version == 3 and again.hash == snap.hash
    assert again.doors[0].name == "1号楼 正门"


def test_hash_covers_content_not_version() -> None:
    now = datetime.now(UTC)
    a = wire.PermissionSnapshot.build(content(), 1, now)
    b = wire.PermissionSnapshot.build(content(), 2, now)
    c = wire.PermissionSnapshot.build(
        content(credentials=[wire.CardCredential(card="1001", status="revoked", groups=[1])]), 3, now)
    assert a.hash == b.hash
    assert a.hash != c.hash


def test_tampered_snapshot_is_refused() -> None:
    snap = wire.PermissionSnapshot.build(content(), 1, datetime.now(UTC))
    body = json.loads(snap.model_dump_json())
    body["credentials"][0]["status"] = "active"
    body["credentials"][0]["card"] = "9999"
    with pytest.raises(ValidationError, match="hash does not match"):
        wire.PermissionSnapshot.model_validate(body)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"days": [0], "start": "18:00", "end": "08:00"}, "not after start"),
        ({"days": [7], "start": "08:00", "end": "09:00"}, r"0 \(Monday\) to 6"),
        ({"days": [0], "start": "8am", "end": "09:00"}, "not HH:MM"),
        ({"days": [], "start": "08:00", "end": "09:00"}, "at least 1"),
    ],
)
def test_bad_windows(window: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        wire.TimeWindow(**window)


def test_references_must_resolve() -> None:
    with pytest.raises(ValidationError, match="unknown schedule"):
        content(groups=[wire.AccessGroupRule(id=1, doors=["B1-main"], schedule="night")])
    with pytest.raises(ValidationError, match="unknown groups"):
        content(credentials=[wire.CardCredential(card="1001", groups=[5])])
    with pytest.raises(ValidationError, match="unknown time zone"):
        content(timezone="Mars/Olympus")
