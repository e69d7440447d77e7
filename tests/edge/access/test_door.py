from __future__ import annotations

import pytest

from edge.access.door import Action, DoorStateMachine, Emit, SetLock

UNLOCK = [SetLock(False), Emit("unlocked", "grant")]
RELOCK = [SetLock(True), Emit("locked")]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def door(clock: FakeClock) -> DoorStateMachine:
    return DoorStateMachine(unlock_s=5, held_open_s=30, now=clock.now)


def run_until(door: DoorStateMachine, clock: FakeClock, until: float) -> list[Action]:
    """Tick at each deadline up to `until`, as the agent does."""
    actions: list[Action] = []
    while (deadline := door.next_deadline()) is not None and deadline <= until:
        clock.now = deadline
        actions += door.tick(clock.now)
    clock.now = until
    return actions + door.tick(until)


def test_starts_locked_and_idle(door: DoorStateMachine) -> None:
    assert (door.locked, door.is_open, door.mode, door.next_deadline()) == (
        True,
        False,
        "normal",
        None,
    )


def test_pulse_without_opening_relocks_at_pulse_end(
    door: DoorStateMachine, clock: FakeClock
) -> None:
    assert door.grant(clock.now) == UNLOCK
    assert not door.locked
    assert door.next_deadline() == clock.now + 5
    assert door.tick(clock.advance(4.999)) == []
    assert door.tick(clock.advance(0.001)) == RELOCK
    assert door.locked and door.next_deadline() is None


def test_open_then_close_relocks_on_close(door: DoorStateMachine, clock: FakeClock) -> None:
    door.grant(clock.now)
    assert door.contact(True, clock.advance(1)) == [Emit("opened")]
    assert door.contact(False, clock.advance(1)) == [Emit("closed"), *RELOCK]
    assert door.locked
    assert run_until(door, clock, clock.now + 60) == []  # nothing left over from the pulse


def test_door_still_open_at_pulse_end_relocks_when_it_closes(
    door: DoorStateMachine, clock: FakeClock
) -> None:
    door.grant(clock.now)
    door.contact(True, clock.advance(1))
    assert run_until(door, clock, clock.now + 10) == []
    assert not door.locked
    assert door.contact(False, clock.advance(1)) == [Emit("closed"), *RELOCK]


def test_opening_while_locked_is_forced(door: DoorStateMachine, clock: FakeClock) -> None:
    assert door.contact(True, clock.now) == [Emit("opened"), Emit("forced_open")]
    assert door.contact(False, clock.advance(2)) == [Emit("closed")]
    assert door.locked


def test_opening_after_the_pulse_ended_is_forced(door: DoorStateMachine, clock: FakeClock) -> None:
    door.grant(clock.now)
    # No tick at the pulse end: the next input settles it first.
    assert door.contact(True, clock.advance(6)) == [*RELOCK, Emit("opened"), Emit("forced_open")]


def test_second_opening_after_relock_on_close_is_forced(
    door: DoorStateMachine, clock: FakeClock
) -> None:
    door.grant(clock.now)
    door.contact(True, clock.advance(1))
    door.contact(False, clock.advance(1))
    assert door.contact(True, clock.advance(1)) == [Emit("opened"), Emit("forced_open")]


def test_held_open_is_reported_once(door: DoorStateMachine, clock: FakeClock) -> None:
    door.grant(clock.now)
    opened_at = clock.advance(1)
    door.contact(True, opened_at)
    assert door.tick(clock.advance(4)) == []  # pulse over, door open: stays unlocked
    assert door.next_deadline() == opened_at + 30
    assert door.tick(opened_at + 29.9) == []
    assert door.tick(opened_at + 30) == [Emit("held_open")]
    assert door.next_deadline() is None
    assert run_until(door, clock, opened_at + 300) == []
    assert door.contact(False, clock.advance(1)) == [Emit("closed"), *RELOCK]


def test_held_open_timer_restarts_with_each_opening(
    door: DoorStateMachine, clock: FakeClock
) -> None:
    door.contact(True, clock.now)
    door.contact(False, clock.advance(20))
    assert door.next_deadline() is None
    door.contact(True, clock.advance(1))
    assert run_until(door, clock, clock.now + 29) == []
    assert run_until(door, clock, clock.now + 1) == [Emit("held_open")]


def test_door_open_at_start_up_starts_the_held_open_timer(clock: FakeClock) -> None:
    door = DoorStateMachine(is_open=True, now=clock.now)
    assert door.is_open and door.next_deadline() == clock.now + 30
    assert door.tick(clock.advance(30)) == [Emit("held_open")]


def test_rex_unlocks_and_the_opening_is_not_forced(
    door: DoorStateMachine, clock: FakeClock
) -> None:
    assert door.rex(clock.now) == [Emit("rex"), SetLock(False), Emit("unlocked", "rex")]
    assert door.contact(True, clock.advance(1)) == [Emit("opened")]
    assert door.contact(False, clock.advance(1)) == [Emit("closed"), *RELOCK]


def test_rex_in_lockdown_keeps_locked_but_legitimises_the_exit(
    door: DoorStateMachine, clock: FakeClock
) -> None:
    door.lockdown(clock.now)
    assert door.rex(clock.advance(1)) == [Emit("rex")]
    assert door.locked
    assert door.contact(True, clock.advance(1)) == [Emit("opened")]
    door.contact(False, clock.advance(1))
    # Only the next opening.
    assert door.contact(True, clock.advance(1)) == [Emit("opened"), Emit("forced_open")]


def test_rex_legitimises_only_within_its_window(door: DoorStateMachine, clock: FakeClock) -> None:
    door.lockdown(clock.now)
    door.rex(clock.now)
    assert door.contact(True, clock.advance(5)) == [Emit("opened"), Emit("forced_open")]


def test_grant_while_unlocked_extends_the_pulse(door: DoorStateMachine, clock: FakeClock) -> None:
    door.grant(clock.now)
    assert door.grant(clock.advance(3)) == []
    assert door.tick(clock.advance(4)) == []
    assert door.tick(clock.advance(1)) == RELOCK


def test_grant_does_not_shorten_a_remote_unlock(door: DoorStateMachine, clock: FakeClock) -> None:
    start = clock.now
    assert door.remote_unlock(start, 60) == [SetLock(False), Emit("unlocked", "remote")]
    door.grant(clock.advance(1))
    assert door.next_deadline() == start + 60


def test_remote_unlock_relocks_at_its_end(door: DoorStateMachine, clock: FakeClock) -> None:
    door.remote_unlock(clock.now, 12)
    assert door.tick(clock.advance(11)) == []
    assert door.tick(clock.advance(1)) == RELOCK


def test_remote_unlock_needs_a_positive_duration(door: DoorStateMachine, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        door.remote_unlock(clock.now, 0)


def test_relock_command_ends_the_pulse(door: DoorStateMachine, clock: FakeClock) -> None:
    door.remote_unlock(clock.now, 600)
    assert door.relock(clock.advance(1)) == [SetLock(True), Emit("locked", "remote")]
    assert door.next_deadline() is None
    assert door.relock(clock.advance(1)) == []


def test_lockdown_relocks_and_refuses_grants(door: DoorStateMachine, clock: FakeClock) -> None:
    door.grant(clock.now)
    assert door.lockdown(clock.advance(1)) == [
        Emit("lockdown"),
        SetLock(True),
        Emit("locked", "lockdown"),
    ]
    assert door.locked and door.mode == "locked_down" and door.next_deadline() is None
    assert door.grant(clock.advance(1)) == []
    assert door.remote_unlock(clock.now, 10) == []
    assert door.locked
    assert door.lockdown(clock.now) == []  # already locked down


def test_lockdown_of_a_locked_door_reasserts_the_relay(
    door: DoorStateMachine, clock: FakeClock
) -> None:
    assert door.lockdown(clock.now) == [Emit("lockdown"), SetLock(True)]


def test_release_allows_grants_again(door: DoorStateMachine, clock: FakeClock) -> None:
    assert door.release(clock.now) == []  # not locked down
    door.lockdown(clock.now)
    assert door.release(clock.advance(1)) == [Emit("released")]
    assert door.mode == "normal" and door.locked
    assert door.grant(clock.advance(1)) == UNLOCK


def test_repeated_contact_reports_are_ignored(door: DoorStateMachine, clock: FakeClock) -> None:
    assert door.contact(False, clock.now) == []
    door.contact(True, clock.advance(1))
    assert door.contact(True, clock.advance(1)) == []


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        DoorStateMachine(unlock_s=0)


def test_fire_release_holds_unlocked_over_pulses_and_lockdown_until_reset() -> None:
    fsm = DoorStateMachine(unlock_s=1, held_open_s=30, now=0)
    assert fsm.fire_release(0) == [SetLock(False), Emit("released", "fire")]
    assert fsm.fire_release(0.1) == []  # a repeat changes nothing
    fsm.grant(1)
    assert fsm.tick(5) == [] and not fsm.locked  # the grant's pulse ends: still released
    fsm.contact(True, 6)
    assert fsm.contact(False, 7) == [Emit("closed")] and not fsm.locked
    fsm.lockdown(8)
    assert not fsm.locked  # egress wins over a lockdown during a fire
    assert fsm.fire_reset(9) == [SetLock(True), Emit("locked", "fire")] and fsm.locked


def test_fire_reset_with_the_door_open_relocks_when_it_closes() -> None:
    fsm = DoorStateMachine(unlock_s=1, held_open_s=30, now=0)
    fsm.fire_release(0)
    fsm.contact(True, 1)
    assert fsm.fire_reset(2) == [] and not fsm.locked
    assert fsm.contact(False, 3) == [Emit("closed"), SetLock(True), Emit("locked", None)]
