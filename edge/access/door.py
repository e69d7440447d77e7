"""The door's state machine: pure logic, no I/O, time passed in as monotonic seconds.

Every input returns the actions to carry out, in order: drive the lock relay (`SetLock`) and
queue door events (`Emit`). The agent calls `tick` at `next_deadline()`; every input also
settles whatever fell due before it, so a late tick cannot make a forced opening look legitimate.

Relock policy: a pulse (grant, rex, remote unlock) relocks when it ends if the door is shut, or
as soon as the door closes after opening during the pulse. A door still open at the end of its
pulse stays unlocked until it closes, and the held-open alarm covers a propped door.

Unlocked on schedule: the agent calls `schedule_unlocked(wanted, now)` on every tick; while
wanted (and not locked down, and not relocked by the hub's `lock` during this window) the lock
stays released and pulses and closings do not relock it. When the window ends the door relocks,
or, if it stands open, as soon as it closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wire.events import DoorCause, DoorEventType

DoorMode = Literal["normal", "locked_down"]


@dataclass(frozen=True, slots=True)
class SetLock:
    locked: bool


@dataclass(frozen=True, slots=True)
class Emit:
    event: DoorEventType
    cause: DoorCause | None = None


Action = SetLock | Emit


class DoorStateMachine:
    """One door: lock relay, door contact, pulse and alarm timers, lockdown.

    It starts locked (the agent sets the relay to match). `is_open` is the contact's state at
    start-up, read at `now`; a door open at start-up starts its held-open timer then.
    """

    def __init__(
        self,
        *,
        unlock_s: float = 5.0,
        held_open_s: float = 30.0,
        is_open: bool = False,
        now: float = 0.0,
    ) -> None:
        if unlock_s <= 0 or held_open_s <= 0:
            raise ValueError("unlock_s and held_open_s must be positive")
        self._unlock_s = unlock_s
        self._held_open_s = held_open_s
        self._locked = True
        self._mode: DoorMode = "normal"
        self._is_open = is_open
        self._opened_at: float | None = now if is_open else None
        self._held_reported = False
        self._pulse_until: float | None = None  # while a pulse holds the lock released
        self._opened_in_pulse = False
        self._rex_until: float | None = None  # an opening before this follows a rex press
        self._schedule_wanted = False  # the door's unlock schedule is open now
        self._schedule_overridden = False  # the hub relocked during the current window
        self._fire = False  # released for egress by a fire alarm: nothing relocks until reset

    @property
    def held_by_schedule(self) -> bool:
        """The lock is released because the door's unlock schedule is open."""
        return self._schedule_wanted and not self._schedule_overridden and self._mode == "normal"

    @property
    def locked(self) -> bool:
        return self._locked

    @property
    def is_open(self) -> bool:
        return self._is_open

    @property
    def mode(self) -> DoorMode:
        return self._mode

    def next_deadline(self) -> float | None:
        """When `tick` must next be called, or None when no timer runs."""
        due: list[float] = []
        if self._pulse_until is not None:
            due.append(self._pulse_until)
        if self._opened_at is not None and not self._held_reported:
            due.append(self._opened_at + self._held_open_s)
        return min(due, default=None)

    def tick(self, now: float) -> list[Action]:
        return self._settle(now)

    def grant(self, now: float) -> list[Action]:
        """A credential was granted here: release the lock for one pulse (refused in lockdown)."""
        actions = self._settle(now)
        if self._mode == "locked_down":
            return actions
        return actions + self._unlock(now, self._unlock_s, "grant")

    def remote_unlock(self, now: float, duration_s: float) -> list[Action]:
        """A guard's remote unlock: a pulse of `duration_s` (refused in lockdown)."""
        if duration_s <= 0:
            raise ValueError("duration_s must be positive")
        actions = self._settle(now)
        if self._mode == "locked_down":
            return actions
        return actions + self._unlock(now, duration_s, "remote")

    def rex(self, now: float) -> list[Action]:
        """Request-to-exit: the next opening within one pulse is legitimate.

        It also releases the lock, except in lockdown, where egress relies on the door's
        mechanical free-egress hardware and the press only keeps the exit from counting as forced.
        """
        actions = self._settle(now)
        actions.append(Emit("rex"))
        self._rex_until = now + self._unlock_s
        if self._mode == "normal":
            actions += self._unlock(now, self._unlock_s, "rex")
        return actions

    def schedule_unlocked(self, wanted: bool, now: float) -> list[Action]:
        """Whether the door's unlock schedule is open now; idempotent, call it every tick."""
        actions = self._settle(now)
        if wanted == self._schedule_wanted:
            return actions
        was_held = self.held_by_schedule
        self._schedule_wanted = wanted
        if not wanted:
            self._schedule_overridden = False
        if self.held_by_schedule and not was_held and self._locked:
            self._locked = False
            actions += [SetLock(False), Emit("unlocked", "schedule")]
        elif (was_held and not self.held_by_schedule and not self._locked
              and not self._is_open and self._pulse_until is None):
            actions += self._relock("schedule")
        return actions

    def relock(self, now: float) -> list[Action]:
        """The hub's `lock` command: end any pulse and relock now (also for the rest of an
        unlock-schedule window)."""
        actions = self._settle(now)
        self._pulse_until = None
        if self._schedule_wanted:
            self._schedule_overridden = True
        if not self._locked:
            actions += self._relock("remote")
        return actions

    def contact(self, is_open: bool, now: float) -> list[Action]:
        """The door contact changed (a repeat of the same state is ignored)."""
        actions = self._settle(now)
        if is_open == self._is_open:
            return actions
        self._is_open = is_open
        if is_open:
            actions.append(Emit("opened"))
            if self._locked and self._rex_until is None:
                actions.append(Emit("forced_open"))
            self._rex_until = None  # a rex press legitimises one opening only
            self._opened_at = now
            self._held_reported = False
            if not self._locked:
                self._opened_in_pulse = True
        else:
            actions.append(Emit("closed"))
            self._opened_at = None
            if (
                not self._locked
                and not self.held_by_schedule
                and (self._pulse_until is None or self._opened_in_pulse)
            ):
                self._pulse_until = None
                actions += self._relock(None)
        return actions

    def lockdown(self, now: float) -> list[Action]:
        """Relock at once and refuse grants and remote unlocks until `release`."""
        actions = self._settle(now)
        if self._mode == "locked_down":
            return actions
        self._mode = "locked_down"
        self._pulse_until = None
        self._rex_until = None
        actions.append(Emit("lockdown"))
        if self._locked:
            actions.append(SetLock(True))  # re-assert the relay anyway: lockdown is safety
        else:
            actions += self._relock("lockdown")
        return actions

    def release(self, now: float) -> list[Action]:
        """End a lockdown; the door stays locked until the next grant."""
        actions = self._settle(now)
        if self._mode == "normal":
            return actions
        self._mode = "normal"
        actions.append(Emit("released"))
        if self.held_by_schedule and self._locked:
            self._locked = False
            actions += [SetLock(False), Emit("unlocked", "schedule")]
        return actions

    @property
    def fire_released(self) -> bool:
        return self._fire

    def fire_release(self, now: float) -> list[Action]:
        """A fire alarm: unlock for egress and hold it, over any pulse or lockdown, until reset."""
        actions = self._settle(now)
        if self._fire:
            return actions
        self._fire = True
        self._pulse_until = None
        self._locked = False
        return [*actions, SetLock(False), Emit("released", "fire")]

    def fire_reset(self, now: float) -> list[Action]:
        """The fire alarm was reset: relock now, or as soon as the door closes."""
        actions = self._settle(now)
        if not self._fire:
            return actions
        self._fire = False
        if not self._is_open:
            actions += self._relock("fire")
        return actions

    def _settle(self, now: float) -> list[Action]:
        """Fire the timers due at `now`."""
        actions: list[Action] = []
        if self._pulse_until is not None and now >= self._pulse_until:
            self._pulse_until = None
            if not self._is_open and not self.held_by_schedule:
                actions += self._relock(None)
        if (
            self._opened_at is not None
            and not self._held_reported
            and now >= self._opened_at + self._held_open_s
        ):
            self._held_reported = True
            actions.append(Emit("held_open"))
        if self._rex_until is not None and now >= self._rex_until:
            self._rex_until = None
        return actions

    def _unlock(self, now: float, duration_s: float, cause: DoorCause) -> list[Action]:
        until = now + duration_s
        # Never shorten a longer pulse already running (a remote unlock, say).
        self._pulse_until = until if self._pulse_until is None else max(self._pulse_until, until)
        self._opened_in_pulse = False
        if not self._locked:
            return []
        self._locked = False
        return [SetLock(False), Emit("unlocked", cause)]

    def _relock(self, cause: DoorCause | None) -> list[Action]:
        if self._fire:  # egress stays free until the fire alarm is reset
            return []
        self._locked = True
        self._opened_in_pulse = False
        return [SetLock(True), Emit("locked", cause)]
