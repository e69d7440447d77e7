"""Holidays, anti-passback and unlock-on-schedule at the edge (units; the clock is a parameter)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.access.cache import PermissionCache
from edge.access.decision import AccessDecider
from edge.access.door import DoorStateMachine, Emit, SetLock
from edge.access.passback import PassbackLog
from tests.edge.access.snapshots import DOORS, GROUPS, SCHEDULES, snapshot
from wire import (
    AccessGroupRule,
    AntiPassbackRule,
    CardCredential,
    DoorInfo,
    PermissionSnapshot,
    Schedule,
    SnapshotContent,
    TimeWindow,
)

MONDAY_10H = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # Shanghai 10:00, "office" is open
HOLIDAY = date(2025, 3, 3)
PAIR = AntiPassbackRule(id=7, entry="lobby", exit="gym", mode="hard", reset_s=600)


def rules_snapshot(
    version: int = 1, *, mode: str = "hard", holiday_mode: str = "closed"
) -> PermissionSnapshot:
    groups = [
        AccessGroupRule(id=1, doors=["lobby", "gym"], schedule=None),
        AccessGroupRule(id=2, doors=["storage"], schedule="office", holiday_mode=holiday_mode,  # type: ignore[arg-type]
                        holiday_schedule="late" if holiday_mode == "schedule" else None),
    ]
    return snapshot(
        version,
        groups=groups,
        credentials=[CardCredential(card="A1", resident_id=1, groups=[1, 2])],
        holidays=[HOLIDAY],
        anti_passback=[PAIR.model_copy(update={"mode": mode})],
    )


@pytest.fixture
def passback(tmp_path: Path) -> Iterator[PassbackLog]:
    with PassbackLog(tmp_path / "passback.db") as log:
        yield log


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[PermissionCache]:
    with PermissionCache(tmp_path / "perm.db") as cache:
        cache.apply(rules_snapshot())
        yield cache


def test_hard_anti_passback_refuses_a_second_entry_until_exit_or_reset(
    cache: PermissionCache, passback: PassbackLog
) -> None:
    decider = AccessDecider(cache, passback)
    now = MONDAY_10H
    assert decider.decide_card("lobby", "A1", now).reason == "granted"
    assert decider.decide_card("lobby", "A1", now).reason == "anti_passback"
    assert decider.decide_card("gym", "A1", now).reason == "granted"  # exit
    assert decider.decide_card("gym", "A1", now).reason == "anti_passback"  # exit twice
    assert decider.decide_card("lobby", "A1", now).reason == "granted"
    later = now + timedelta(seconds=600)  # reset_s forgets the direction
    assert decider.decide_card("lobby", "A1", later).reason == "granted"
    # a door outside the pair is not affected
    assert decider.decide_card("storage", "A1", now).reason == "holiday"


def test_passback_log_survives_a_restart(tmp_path: Path, cache: PermissionCache) -> None:
    with PassbackLog(tmp_path / "p.db") as log:
        assert AccessDecider(cache, log).decide_card("lobby", "A1", MONDAY_10H).granted
    with PassbackLog(tmp_path / "p.db") as log:
        again = AccessDecider(cache, log).decide_card("lobby", "A1", MONDAY_10H)
        assert again.reason == "anti_passback"
        log.reset("A1")
        assert AccessDecider(cache, log).decide_card("lobby", "A1", MONDAY_10H).granted


def test_soft_anti_passback_grants_with_a_warning(tmp_path: Path, passback: PassbackLog) -> None:
    with PermissionCache(tmp_path / "soft.db") as cache:
        cache.apply(rules_snapshot(mode="soft"))
        decider = AccessDecider(cache, passback)
        first = decider.decide_card("lobby", "A1", MONDAY_10H)
        second = decider.decide_card("lobby", "A1", MONDAY_10H)
    assert (first.reason, first.warning) == ("granted", None)
    assert (second.reason, second.warning) == ("granted", "anti_passback")


def test_denied_cards_leave_no_direction(cache: PermissionCache, passback: PassbackLog) -> None:
    decider = AccessDecider(cache, passback)
    assert decider.decide_card("lobby", "ZZ", MONDAY_10H).reason == "unknown_card"
    assert passback.last(PAIR, "ZZ", MONDAY_10H) is None


@pytest.mark.parametrize(
    ("holiday_mode", "now", "reason"),
    [
        ("closed", MONDAY_10H, "holiday"),
        ("closed", MONDAY_10H + timedelta(days=1), "granted"),  # Tuesday is no holiday
        ("normal", MONDAY_10H, "granted"),  # the weekly schedule as usual
        ("schedule", MONDAY_10H, "outside_schedule"),  # "late" (Sat 22-24) instead of "office"
    ],
)
def test_holiday_modes(tmp_path: Path, holiday_mode: str, now: datetime, reason: str) -> None:
    with PermissionCache(tmp_path / "h.db") as cache:
        cache.apply(rules_snapshot(holiday_mode=holiday_mode))
        assert AccessDecider(cache).decide_card("storage", "A1", now).reason == reason


def test_snapshot_refuses_inconsistent_rules() -> None:
    with pytest.raises(ValidationError, match="holiday_schedule is required"):
        AccessGroupRule(id=1, doors=["lobby"], holiday_mode="schedule")
    with pytest.raises(ValidationError, match="needs an unlock_schedule"):
        DoorInfo(id="d", name="d", mode="unlocked_on_schedule")
    with pytest.raises(ValidationError, match="same door"):
        AntiPassbackRule(id=1, entry="a", exit="a")
    with pytest.raises(ValidationError, match="unknown doors"):
        SnapshotContent(site="s", edge="e", doors=DOORS, schedules=SCHEDULES, groups=GROUPS,
                        anti_passback=[AntiPassbackRule(id=1, entry="lobby", exit="nowhere")])
    with pytest.raises(ValidationError, match="unknown schedule 'nope'"):
        SnapshotContent(site="s", edge="e", schedules=SCHEDULES,
                        doors=[DoorInfo(id="d", name="d", mode="unlocked_on_schedule",
                                        unlock_schedule="nope")])
    ok = Schedule(id="x", windows=[TimeWindow(days=[0], start="08:00", end="09:00")])
    assert ok.id == "x"


def test_door_held_unlocked_by_schedule() -> None:
    fsm = DoorStateMachine(unlock_s=5, held_open_s=30)
    assert fsm.schedule_unlocked(True, 0) == [SetLock(False), Emit("unlocked", "schedule")]
    assert fsm.schedule_unlocked(True, 1) == []  # idempotent every tick
    fsm.grant(2)
    assert fsm.tick(10) == []  # the pulse ends, the schedule keeps it unlocked
    assert fsm.contact(True, 11)[0] == Emit("opened")  # not forced: it is unlocked
    assert fsm.contact(False, 12) == [Emit("closed")]  # closing does not relock
    assert not fsm.locked
    fsm.contact(True, 13)
    assert fsm.schedule_unlocked(False, 14) == []  # window over, but the door stands open
    assert fsm.contact(False, 15) == [Emit("closed"), SetLock(True), Emit("locked")]


def test_schedule_window_end_relocks_a_shut_door_and_lockdown_wins() -> None:
    fsm = DoorStateMachine()
    fsm.schedule_unlocked(True, 0)
    assert fsm.schedule_unlocked(False, 1) == [SetLock(True), Emit("locked", "schedule")]
    fsm.schedule_unlocked(True, 2)
    actions = fsm.lockdown(3)
    assert SetLock(True) in actions and fsm.locked
    assert fsm.schedule_unlocked(True, 4) == []  # still locked down
    assert fsm.release(5)[-2:] == [SetLock(False), Emit("unlocked", "schedule")]
    fsm.relock(6)  # the hub's lock command holds for the rest of this window
    assert fsm.locked and fsm.tick(100) == []
    fsm.schedule_unlocked(False, 101)
    assert fsm.schedule_unlocked(True, 102) == [SetLock(False), Emit("unlocked", "schedule")]
