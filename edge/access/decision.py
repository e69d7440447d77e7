"""The door decision for a card, taken locally from the cached permission snapshot."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from edge.access.cache import CachedSnapshot, PermissionCache
from edge.access.passback import PassbackLog
from edge.access.schedule import site_local
from wire import AntiPassbackRule
from wire.events import AccessReason

# A credential's status, when it is not active, is itself the reason for the denial.
_STATUS_DENIAL: dict[str, AccessReason] = {
    "revoked": "revoked",
    "lost": "lost",
    "suspended": "suspended",
}


@dataclass(frozen=True, slots=True)
class Decision:
    result: Literal["granted", "denied"]
    reason: AccessReason
    resident_id: int | None
    decision_us: int  # time taken by the decision, for the access event
    # a refusal that soft anti-passback let through, reported with the grant
    warning: AccessReason | None = None

    @property
    def granted(self) -> bool:
        return self.result == "granted"


class AccessDecider:
    """Decides card reads at a door from a PermissionCache; with no snapshot held, denies all."""

    def __init__(self, cache: PermissionCache, passback: PassbackLog | None = None) -> None:
        self._cache = cache
        self._passback = passback

    def decide_card(
        self, door: str, card: str, now: datetime, *, locked_down: bool = False,
        facility: int | None = None, record: bool = True,
    ) -> Decision:
        """Decide `card` at `door` at the aware instant `now` (UTC at the edge).

        `facility` is the facility code of a raw Wiegand read; when the site checks facility
        codes, one not the site's is refused before the card is looked up. A number the
        reader decoded itself carries none and is taken as it is. With `record` False a grant
        is not yet an anti-passback passage (card + PIN: `record_passage` once the PIN is right).

        `locked_down` lets the agent pass a lockdown commanded at run time (the door state
        machine's mode), which denies exactly like a door the snapshot marks locked down.
        A credential is valid from `valid_from` inclusive until `valid_until` exclusive.
        """
        started = time.perf_counter_ns()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware (UTC), not naive")
        state = self._cache.state  # read once: a concurrent apply cannot mix two snapshots
        reason, resident_id = self._reason(state, door, card, now, locked_down, facility)
        warning: AccessReason | None = None
        if reason == "granted" and state is not None and self._passback is not None:
            pairs = state.door_passback.get(door, ())
            broken = [p for p in pairs if self._passback.violates(p, door, card, now)]
            if any(p.mode == "hard" for p in broken):
                reason = "anti_passback"
            else:
                warning = "anti_passback" if broken else None
                if record:
                    self._record(pairs, door, card, now)
        elapsed_us = (time.perf_counter_ns() - started) // 1000
        result: Literal["granted", "denied"] = "granted" if reason == "granted" else "denied"
        return Decision(result, reason, resident_id, elapsed_us, warning)

    def record_passage(self, door: str, card: str, now: datetime) -> None:
        """`card` went through `door` (its grant was decided with `record=False`)."""
        state = self._cache.state
        if state is not None and self._passback is not None:
            self._record(state.door_passback.get(door, ()), door, card, now)

    def _record(
        self, pairs: tuple[AntiPassbackRule, ...], door: str, card: str, now: datetime
    ) -> None:
        assert self._passback is not None
        for pair in pairs:
            self._passback.record(pair, door, card, now)

    def _reason(
        self, state: CachedSnapshot | None, door: str, card: str, now: datetime,
        locked_down: bool, facility: int | None = None,
    ) -> tuple[AccessReason, int | None]:
        if state is None:
            return "unknown_door", None
        info = state.doors.get(door)
        if info is None:
            return "unknown_door", None
        if locked_down or info.mode == "locked_down":
            return "door_locked_down", None
        rule = state.card_format
        if facility is not None and rule.check_facility and facility not in rule.facility_codes:
            return "wrong_facility", None
        cred = state.credentials.get(card)
        if cred is None:
            return "unknown_card", None
        who = cred.resident_id
        denial = _STATUS_DENIAL.get(cred.status)
        if denial is not None:
            return denial, who
        if cred.valid_from is not None and now < cred.valid_from:
            return "not_yet_valid", who
        if cred.valid_until is not None and now >= cred.valid_until:
            return "expired", who
        door_groups = state.door_groups.get(door, frozenset())
        groups = [g for g in cred.groups if g in door_groups]
        if not groups:
            return "not_permitted", who
        local = site_local(now, state.timezone)
        holiday = local.date() in state.holidays
        closed_for_holiday = False
        for group_id in groups:
            group = state.groups[group_id]
            schedule_id = group.schedule
            if holiday and group.holiday_mode == "closed":
                closed_for_holiday = True
                continue
            if holiday and group.holiday_mode == "schedule":
                schedule_id = group.holiday_schedule
            if schedule_id is None or state.schedules[schedule_id].is_open(local):
                return "granted", who
        # "holiday" when a group of this door was shut for the holiday and no other group opened
        return ("holiday" if closed_for_holiday else "outside_schedule"), who
