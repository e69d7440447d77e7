from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from edge.access.cache import PermissionCache
from edge.access.decision import AccessDecider
from tests.edge.access.snapshots import VALID_FROM, VALID_UNTIL, snapshot
from wire import AccessData, CardCredential

# Monday 2025-03-03 10:00 in Shanghai: inside the "office" schedule.
WEEKDAY_10H = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
# Saturday 2025-03-08 23:00 in Shanghai: inside "late" only.
SATURDAY_23H = datetime(2025, 3, 8, 15, 0, tzinfo=UTC)
# Monday 2025-03-03 19:00 in Shanghai: outside both.
WEEKDAY_19H = datetime(2025, 3, 3, 11, 0, tzinfo=UTC)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[PermissionCache]:
    with PermissionCache(tmp_path / "perm.db") as cache:
        cache.apply(snapshot())
        yield cache


@pytest.fixture
def decider(cache: PermissionCache) -> AccessDecider:
    return AccessDecider(cache)


@pytest.mark.parametrize(
    ("door", "card", "now", "reason", "resident_id"),
    [
        ("lobby", "A1", WEEKDAY_10H, "granted", 101),
        ("lobby", "A1", WEEKDAY_19H, "granted", 101),  # group 1 has no schedule: always
        ("gym", "A1", WEEKDAY_10H, "granted", 101),
        ("gym", "B2", SATURDAY_23H, "granted", 102),  # via its second group's schedule
        ("nowhere", "A1", WEEKDAY_10H, "unknown_door", None),
        ("roof", "A1", WEEKDAY_10H, "door_locked_down", None),
        ("roof", "ZZ", WEEKDAY_10H, "door_locked_down", None),  # the door is checked first
        ("lobby", "ZZ", WEEKDAY_10H, "unknown_card", None),
        ("lobby", "R1", WEEKDAY_10H, "revoked", 201),
        ("lobby", "L1", WEEKDAY_10H, "lost", 202),
        ("lobby", "S1", WEEKDAY_10H, "suspended", 203),
        ("lobby", "F1", WEEKDAY_10H, "not_yet_valid", 204),
        ("lobby", "E1", WEEKDAY_10H, "expired", 205),
        ("lobby", "N1", WEEKDAY_10H, "not_permitted", 206),
        ("storage", "A1", WEEKDAY_10H, "not_permitted", 101),
        ("gym", "A1", SATURDAY_23H, "outside_schedule", 101),
        ("gym", "A1", WEEKDAY_19H, "outside_schedule", 101),
        ("gym", "B2", WEEKDAY_19H, "outside_schedule", 102),
    ],
)
def test_every_reason(
    decider: AccessDecider,
    door: str,
    card: str,
    now: datetime,
    reason: str,
    resident_id: int | None,
) -> None:
    decision = decider.decide_card(door, card, now)
    assert decision.reason == reason
    assert decision.result == ("granted" if reason == "granted" else "denied")
    assert decision.granted is (reason == "granted")
    assert decision.resident_id == resident_id
    assert decision.decision_us >= 0
    # What the agent reports is a valid wire event.
    AccessData(
        door=door,
        credential=card,
        resident_id=decision.resident_id,
        result=decision.result,
        reason=decision.reason,
        decision_us=decision.decision_us,
    )


def test_validity_bounds(decider: AccessDecider) -> None:
    # valid_from is inclusive; valid_until is exclusive.
    assert decider.decide_card("lobby", "F1", VALID_FROM - timedelta(microseconds=1)).reason == (
        "not_yet_valid"
    )
    assert decider.decide_card("lobby", "F1", VALID_FROM).reason == "granted"
    before_end = VALID_UNTIL - timedelta(microseconds=1)
    assert decider.decide_card("lobby", "E1", before_end).reason == "granted"
    assert decider.decide_card("lobby", "E1", VALID_UNTIL).reason == "expired"


def test_status_is_checked_before_validity(tmp_path: Path) -> None:
    creds = [CardCredential(card="X", status="revoked", valid_until=VALID_UNTIL, groups=[1])]
    with PermissionCache(tmp_path / "p.db") as cache:
        cache.apply(snapshot(credentials=creds))
        assert AccessDecider(cache).decide_card("lobby", "X", WEEKDAY_10H).reason == "revoked"


def test_runtime_lockdown_denies(decider: AccessDecider) -> None:
    decision = decider.decide_card("lobby", "A1", WEEKDAY_10H, locked_down=True)
    assert (decision.result, decision.reason) == ("denied", "door_locked_down")


def test_now_in_another_zone_is_the_same_instant(decider: AccessDecider) -> None:
    # Saturday 15:00 UTC given as 23:00 +08:00 decides the same.
    same = SATURDAY_23H.astimezone(timezone(timedelta(hours=8)))
    assert decider.decide_card("gym", "B2", same).reason == "granted"


def test_no_snapshot_held_denies_every_door(tmp_path: Path) -> None:
    with PermissionCache(tmp_path / "empty.db") as cache:
        decision = AccessDecider(cache).decide_card("lobby", "A1", WEEKDAY_10H)
    assert (decision.result, decision.reason) == ("denied", "unknown_door")


def test_naive_now_is_refused(decider: AccessDecider) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decider.decide_card("lobby", "A1", datetime(2025, 3, 3, 10, 0))  # noqa: DTZ001


def test_new_snapshot_changes_the_decision(cache: PermissionCache, decider: AccessDecider) -> None:
    cache.apply(snapshot(2, credentials=[CardCredential(card="A1", status="lost", groups=[1])]))
    assert decider.decide_card("lobby", "A1", WEEKDAY_10H).reason == "lost"
    assert decider.decide_card("lobby", "B2", WEEKDAY_10H).reason == "unknown_card"
