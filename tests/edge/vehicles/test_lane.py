"""The lane's decision from cached vehicle permissions, and the near-miss rule."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from edge.vehicles import LaneDecider, VehicleCache, confusable_form
from wire.vehicles import (
    BlockedPlate,
    LaneConfig,
    ResidentVehicle,
    VehiclePass,
    VehiclePermissions,
    VehicleSettings,
)

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
SECRET = hashlib.sha256(b"s3cret").hexdigest()
ENTRY = LaneConfig(id="gate-in", direction="entry", camera_secret_sha256=SECRET)
EXIT = LaneConfig(id="gate-out", direction="exit", camera_secret_sha256=SECRET)
SIDE = LaneConfig(id="side-in", direction="entry", camera_secret_sha256=SECRET)


def decider(**settings: object) -> LaneDecider:
    perms = VehiclePermissions(
        residents=[
            ResidentVehicle(plate="粤B12345", household_id=7),
            ResidentVehicle(plate="粤B8D0Q1", household_id=8, lanes=["gate-in", "gate-out"]),
            ResidentVehicle(plate="粤A00001", household_id=9,
                            valid_until=NOW - timedelta(days=1)),
            # two plates a misreading cannot tell apart
            ResidentVehicle(plate="粤C1234D", household_id=10),
            ResidentVehicle(plate="粤C12340", household_id=11),
        ],
        passes=[VehiclePass(id=3, plate="粤B·66666", household_id=7, valid_from=NOW - timedelta(hours=1),
                            valid_until=NOW + timedelta(hours=5), max_uses=2)],
        blocked=[BlockedPlate(plate="粤B99999", reason="unpaid fees")],
        settings=VehicleSettings.model_validate(settings))
    return LaneDecider(VehicleCache(perms))


def test_resident_opens_entry_and_exit() -> None:
    d = decider()
    got = d.decide(ENTRY, "粤B12345", 0.97, NOW)
    assert (got.result, got.reason, got.household_id, got.flag) == ("open", "resident", 7, None)
    assert "粤B12345" in d.inside
    out = d.decide(EXIT, "粤B12345", 0.97, NOW)
    assert (out.result, out.reason) == ("open", "resident")
    assert "粤B12345" not in d.inside


def test_visitor_pass_counts_uses_and_is_used_up() -> None:
    d = decider(passback="off")
    first = d.decide(ENTRY, "粤B66666", 0.95, NOW)
    assert (first.result, first.reason, first.pass_id, first.pass_uses) == \
        ("open", "visitor_pass", 3, 1)
    assert d.decide(EXIT, "粤B66666", 0.95, NOW).reason == "visitor_pass"
    assert d.decide(ENTRY, "粤B66666", 0.95, NOW).pass_uses == 2
    third = d.decide(ENTRY, "粤B66666", 0.95, NOW)
    assert (third.result, third.reason, third.pass_id) == ("open", "pass_used_up", None)


def test_expired_pass_is_a_temporary_vehicle_held_for_the_guard() -> None:
    d = decider(temporary_entry="guard")
    late = d.decide(ENTRY, "粤B66666", 0.95, NOW + timedelta(hours=6))
    assert (late.result, late.reason) == ("held", "pass_expired")


def test_blocked_plate_is_refused_exactly_or_nearly() -> None:
    d = decider()
    got = d.decide(ENTRY, "粤B99999", 0.99, NOW)
    assert (got.result, got.reason, got.blocked_reason) == ("refused", "blocked", "unpaid fees")
    # even at a low confidence and even leaving
    assert d.decide(EXIT, "粤B99999", 0.30, NOW).result == "refused"


def test_unknown_vehicle_by_site_setting_and_exit_allowed() -> None:
    assert decider().decide(ENTRY, "京A11111", 0.9, NOW).result == "open"
    held = decider(temporary_entry="guard").decide(ENTRY, "京A11111", 0.9, NOW)
    assert (held.result, held.reason) == ("held", "temporary")
    out = decider(temporary_entry="guard").decide(EXIT, "京A11111", 0.9, NOW)
    assert (out.result, out.reason) == ("open", "exit")


def test_resident_outside_validity_or_lane_is_temporary() -> None:
    d = decider(temporary_entry="guard")
    assert d.decide(ENTRY, "粤A00001", 0.95, NOW).reason == "expired"
    assert d.decide(SIDE, "粤B8D0Q1", 0.95, NOW).reason == "lane_not_allowed"


def test_near_miss_to_one_plate_is_that_plate_flagged() -> None:
    # the camera read B as 8 and 0 as D: folds to the one registered 粤B8D0Q1
    got = decider().decide(ENTRY, "粤88DDQI", 0.93, NOW)
    assert (got.result, got.reason, got.household_id) == ("open", "resident", 8)
    assert (got.flag, got.matched_plate) == ("near_miss", "粤B8D0Q1")


def test_ambiguous_reading_never_grants_a_household() -> None:
    assert confusable_form("粤C1234D") == confusable_form("粤C12340")
    got = decider(temporary_entry="guard").decide(ENTRY, "粤C1234O", 0.99, NOW)
    assert (got.result, got.reason, got.flag, got.household_id) == \
        ("held", "temporary", "ambiguous", None)


def test_low_confidence_never_grants_a_household() -> None:
    got = decider(temporary_entry="guard", min_confidence=0.9).decide(
        ENTRY, "粤B12345", 0.6, NOW)
    assert (got.result, got.reason, got.flag, got.household_id) == \
        ("held", "temporary", "low_confidence", None)


@pytest.mark.parametrize(("mode", "result", "warning"),
                         [("warn", "open", "anti_passback"), ("refuse", "refused", None)])
def test_anti_passback_per_plate(mode: str, result: str, warning: str | None) -> None:
    d = decider(passback=mode)
    d.decide(ENTRY, "粤B12345", 0.97, NOW)
    again = d.decide(ENTRY, "粤B12345", 0.97, NOW + timedelta(minutes=5))
    assert again.result == result
    assert again.warning == warning or again.reason == "anti_passback"


def test_a_near_miss_entry_and_exact_exit_are_one_stay() -> None:
    d = decider(passback="refuse")
    d.decide(ENTRY, "粤88DDQI", 0.93, NOW)
    d.decide(EXIT, "粤B8D0Q1", 0.93, NOW)
    assert d.decide(ENTRY, "粤B8D0Q1", 0.93, NOW).result == "open"
