from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

import wire
from wire import topics


def access_event(**data_overrides: object) -> wire.AccessEvent:
    data = {"door": "B1-main", "credential": "1001", "result": "granted", "reason": "granted",
            "decision_us": 40, **data_overrides}
    return wire.AccessEvent(
        id=wire.new_event_id(), ts=datetime.now(UTC), site="demo", edge="b1-edge",
        device="B1-main", seq=7, data=wire.AccessData(**data),
    )


def test_event_round_trips_through_json() -> None:
    event = access_event()
    parsed = wire.parse_event(event.model_dump_json())
    assert parsed == event
    assert parsed.kind == "access"


def test_event_ids_are_uuid7_and_sort_by_time() -> None:
    ids = [wire.new_event_id() for _ in range(200)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert len(set(ids)) == 200
    stamps = [uuid.UUID(i).int >> 80 for i in ids]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("id"), "id: Field required"),
        (lambda d: d.update(kind="bogus"), "does not match any of the expected tags"),
        (lambda d: d.update(ts="2026-01-01T00:00:00"), "time zone"),
        (lambda d: d.update(seq=-1), "seq"),
        (lambda d: d.update(extra=1), "extra: Extra inputs are not permitted"),
        (lambda d: d["data"].update(reason="because"), "data.reason"),
        (lambda d: d["data"].update(result="denied"), "contradicts"),
        (lambda d: d.update(site="a/b"), "site"),
        (lambda d: d.update(id="not-a-uuid"), "id"),
    ],
)
def test_malformed_event_is_refused_with_reason(mutate, expected: str) -> None:
    body = json.loads(access_event().model_dump_json())
    mutate(body)
    with pytest.raises(wire.WireError) as info:
        wire.parse_event(json.dumps(body))
    assert expected in info.value.reason


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[]", b"null"])
def test_garbage_is_refused(raw: bytes) -> None:
    with pytest.raises(wire.WireError) as info:
        wire.parse_event(raw)
    assert info.value.reason


def test_event_must_match_its_topic() -> None:
    event = access_event()
    good = topics.parse(topics.event("demo", "b1-edge", "access"))
    assert wire.parse_event(event.model_dump_json(), good) == event
    other = topics.parse(topics.event("demo", "b2-edge", "access"))
    with pytest.raises(wire.WireError, match="published on demo/b2-edge/access"):
        wire.parse_event(event.model_dump_json(), other)


def test_topic_parsing() -> None:
    assert topics.parse("lintel/v1/demo/b1-edge/evt/door") == topics.TopicParts(
        "demo", "b1-edge", "evt", "door")
    assert topics.parse("lintel/v1/demo/b1-edge/cmd/ack").channel == "cmd/ack"
    for bad in ["lintel/v2/demo/e/state", "lintel/v1/demo/e/evt/nope", "lintel/v1/demo/e/x",
                "lintel/v1/+/e/state"]:
        with pytest.raises(wire.WireError):
            topics.parse(bad)
    assert topics.shared(topics.HUB_EVENTS) == "$share/hub/lintel/v1/+/+/evt/+"


def test_command_needs_a_door_for_unlock() -> None:
    now = datetime.now(UTC)
    head = {"id": "c1", "site": "s", "edge": "e", "ts": now, "expires": now + timedelta(seconds=30)}
    with pytest.raises(ValueError, match="needs a door"):
        wire.EdgeCommand(**head, command="unlock")
    assert wire.EdgeCommand(**head, command="lockdown").door is None


def test_a_command_carries_its_target_and_validity() -> None:
    now = datetime.now(UTC)
    head = {"id": "c1", "site": "s", "edge": "e", "ts": now}
    for missing in ("site", "edge"):
        with pytest.raises(ValueError, match=f"{missing}\n  Field required"):
            wire.EdgeCommand(**{k: v for k, v in head.items() if k != missing},
                             expires=now + timedelta(seconds=30), command="lockdown")
    with pytest.raises(ValueError, match="expires must be after ts"):
        wire.EdgeCommand(**head, expires=now, command="lockdown")


def test_reset_permissions_names_the_snapshot_to_accept() -> None:
    now = datetime.now(UTC)
    head = {"id": "c1", "site": "s", "edge": "e", "ts": now, "expires": now + timedelta(seconds=30)}
    with pytest.raises(ValueError, match="perm_version and perm_hash go with reset_permissions"):
        wire.EdgeCommand(**head, command="reset_permissions")
    with pytest.raises(ValueError, match="perm_version and perm_hash go with reset_permissions"):
        wire.EdgeCommand(**head, command="lockdown", perm_version=3, perm_hash="0" * 64)
    reset = wire.EdgeCommand(**head, command="reset_permissions", perm_version=3,
                             perm_hash="0" * 64)
    assert (reset.perm_version, reset.perm_hash) == (3, "0" * 64)
