"""Who is inside survives a restart of the edge (anti-passback and a one-use pass still hold,
read back from its SQLite file), and a household's parking spaces limit its cars inside:
the second car of a one-space household is a temporary vehicle or refused, by the setting."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.vehicles import InsideLog, LaneDecider, VehicleCache
from wire.vehicles import (
    HouseholdSpaces,
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


def permissions(**settings: object) -> VehiclePermissions:
    return VehiclePermissions(
        residents=[ResidentVehicle(plate="粤B12345", household_id=7),
                   ResidentVehicle(plate="粤B22222", household_id=7),
                   ResidentVehicle(plate="粤B33333", household_id=7),
                   ResidentVehicle(plate="粤B44444", household_id=8)],
        passes=[VehiclePass(id=3, plate="粤B66666", household_id=7,
                            valid_from=NOW - timedelta(hours=1),
                            valid_until=NOW + timedelta(hours=5), max_uses=1)],
        spaces=[HouseholdSpaces(household_id=7, spaces=1)],
        settings=VehicleSettings.model_validate(settings))


def test_who_is_inside_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "vehicles-inside.db"
    inside = InsideLog(path)
    d = LaneDecider(VehicleCache(permissions(passback="refuse")), inside)
    assert d.decide(ENTRY, "粤B12345", 0.95, NOW).result == "open"
    assert d.decide(ENTRY, "粤B66666", 0.95, NOW).pass_uses == 1
    assert d.decide(EXIT, "粤B66666", 0.95, NOW).result == "open"
    inside.close()

    # the agent restarts (no hub: the snapshot's counts are as old as before)
    again = InsideLog(path)
    d = LaneDecider(VehicleCache(permissions(passback="refuse")), again)
    assert set(again.stays) == {"粤B12345"}
    assert again.stays["粤B12345"].entered_at == NOW
    passback = d.decide(ENTRY, "粤B12345", 0.95, NOW + timedelta(minutes=5))
    assert (passback.result, passback.reason) == ("refused", "anti_passback")
    used = d.decide(ENTRY, "粤B66666", 0.95, NOW + timedelta(minutes=5))
    assert used.reason == "pass_used_up"  # its one use was counted before the restart
    # the household's one space is still taken by the car inside
    assert d.decide(ENTRY, "粤B22222", 0.95, NOW).reason == "no_space"
    again.close()


def test_the_second_car_of_a_one_space_household_is_temporary() -> None:
    d = LaneDecider(VehicleCache(permissions()))
    first = d.decide(ENTRY, "粤B12345", 0.95, NOW)
    assert (first.result, first.reason, first.household_id) == ("open", "resident", 7)
    second = d.decide(ENTRY, "粤B22222", 0.95, NOW)
    assert (second.result, second.reason) == ("open", "no_space")  # in, as a temporary car
    assert d.inside.spaces_taken[7] == 1  # the temporary one takes no space
    other = d.decide(ENTRY, "粤B44444", 0.95, NOW)  # another household, no spaces listed
    assert other.reason == "resident"
    # the first leaves: the space is free for the third
    d.decide(EXIT, "粤B12345", 0.95, NOW)
    assert d.decide(ENTRY, "粤B33333", 0.95, NOW).reason == "resident"


def test_the_second_car_is_refused_or_held_by_the_setting() -> None:
    d = LaneDecider(VehicleCache(permissions(over_spaces="refuse")))
    assert d.decide(ENTRY, "粤B12345", 0.95, NOW).result == "open"
    refused = d.decide(ENTRY, "粤B22222", 0.95, NOW)
    assert (refused.result, refused.reason, refused.household_id) == ("refused", "no_space", 7)
    assert "粤B22222" not in d.inside
    # a car inside already, seen again at the entry (anti-passback warns): not its own rival
    again = d.decide(ENTRY, "粤B12345", 0.95, NOW)
    assert (again.result, again.reason, again.warning) == ("open", "resident", "anti_passback")

    held = LaneDecider(VehicleCache(permissions(temporary_entry="guard")))
    held.decide(ENTRY, "粤B12345", 0.95, NOW)
    got = held.decide(ENTRY, "粤B22222", 0.95, NOW)
    assert (got.result, got.reason) == ("held", "no_space")
