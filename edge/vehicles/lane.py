"""A lane's decision from the cached vehicle permissions: local, offline, in microseconds.

Entry: a blocked plate is refused (and the guard alarmed); a resident vehicle valid for this
lane opens; a visitor car whose pass is valid with uses left opens and uses one; anything else
is a temporary vehicle, let in or held for the guard by the site's setting. A resident car
whose household's parking spaces are all taken by its other cars inside is a temporary vehicle
or refused, by the site's setting. Exit always opens (a car is never trapped inside) except for
a blocked plate, and ends the plate's stay. A plate entering twice without leaving is warned
about or refused by the site's setting. The near-miss
rule is in `edge.vehicles.plates`: a reading below the confidence threshold, or matching
several plates, never opens as a household.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime

from edge.vehicles.cache import PassGrant, ResidentGrant, VehicleCache
from edge.vehicles.inside import InsideLog
from wire.vehicles import LaneConfig, PlateFlag, VehicleReason, VehicleResult, normalise_plate


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneDecision:
    result: VehicleResult
    reason: VehicleReason
    plate: str  # the reading, normalised
    matched_plate: str | None = None  # the registered plate used, when not the reading
    flag: PlateFlag | None = None
    warning: str | None = None
    household_id: int | None = None
    pass_id: int | None = None
    pass_uses: int | None = None
    blocked_reason: str | None = None
    decision_us: int = 0

    @property
    def opens(self) -> bool:
        return self.result == "open"


def _window(start: datetime | None, end: datetime | None, now: datetime) -> VehicleReason | None:
    if start is not None and now < start:
        return "not_yet_valid"
    if end is not None and now >= end:
        return "expired"
    return None


class LaneDecider:
    """Decides every lane of an edge from one cache; keeps who is inside and the pass uses
    counted here in `inside` (written through to the edge's disk when it has a path)."""

    def __init__(self, cache: VehicleCache | None = None,
                 inside: InsideLog | None = None) -> None:
        self.cache = cache or VehicleCache()
        self.inside = inside if inside is not None else InsideLog()

    def replace(self, cache: VehicleCache) -> None:
        self.cache = cache

    def pass_uses(self, grant: PassGrant) -> int:
        return max(grant.uses, self.inside.uses.get(grant.id, 0))

    def decide(self, lane: LaneConfig, reading: str, confidence: float,
               now: datetime) -> LaneDecision:
        started = time.perf_counter_ns()
        decision = self._decide(lane, normalise_plate(reading), confidence, now)
        return _with_time(decision, (time.perf_counter_ns() - started) // 1000)

    def _decide(self, lane: LaneConfig, plate: str, confidence: float,
                now: datetime) -> LaneDecision:
        cache = self.cache
        match = cache.index.match(plate)
        matched = match.plate
        flag: PlateFlag | None = match.flag
        shown = matched if matched != plate else None
        if matched is not None and matched in cache.blocked:
            # refusing a near miss too: the guard can still open, a wrong refusal costs little
            return LaneDecision(result="refused", reason="blocked", plate=plate,
                                matched_plate=shown, flag=flag,
                                blocked_reason=cache.blocked[matched] or None)
        low = confidence < cache.settings.min_confidence
        if matched is not None and low:
            flag = "low_confidence"
        known = matched if (matched is not None and not low) else None
        key = known or plate
        if lane.direction == "exit":
            self.inside.left(key, plate)
            resident = cache.residents.get(known) if known else None
            grant = cache.passes.get(known, [None])[0] if known else None
            return LaneDecision(
                result="open",
                reason="resident" if resident else "visitor_pass" if grant else "exit",
                plate=plate, matched_plate=shown if known else None, flag=flag,
                household_id=resident.household_id if resident else
                grant.household_id if grant else None,
                pass_id=grant.id if grant else None)
        warning = None
        if key in self.inside and cache.settings.passback != "off":
            if cache.settings.passback == "refuse":
                return LaneDecision(result="refused", reason="anti_passback", plate=plate,
                                    matched_plate=shown if known else None, flag=flag)
            warning = "anti_passback"
        why_not: VehicleReason = "temporary"
        if known is not None:
            resident = cache.residents.get(known)
            if resident is not None:
                refusal = self._resident_refusal(resident, lane, now) \
                    or self._no_space(key, resident.household_id)
                if refusal is None:
                    self.inside.entered(key, now, resident.household_id, takes_space=True)
                    return LaneDecision(result="open", reason="resident", plate=plate,
                                        matched_plate=shown, flag=flag, warning=warning,
                                        household_id=resident.household_id)
                if refusal == "no_space" and cache.settings.over_spaces == "refuse":
                    return LaneDecision(result="refused", reason="no_space", plate=plate,
                                        matched_plate=shown, flag=flag, warning=warning,
                                        household_id=resident.household_id)
                why_not = refusal
            grant, pass_refusal = self._usable_pass(known, now)
            if grant is not None:
                uses = self.pass_uses(grant) + 1
                self.inside.count_use(grant.id, uses)
                self.inside.entered(key, now, grant.household_id)
                return LaneDecision(result="open", reason="visitor_pass", plate=plate,
                                    matched_plate=shown, flag=flag, warning=warning,
                                    household_id=grant.household_id, pass_id=grant.id,
                                    pass_uses=uses)
            if pass_refusal is not None and resident is None:
                why_not = pass_refusal
        if cache.settings.temporary_entry == "guard":
            return LaneDecision(result="held", reason=why_not, plate=plate,
                                matched_plate=shown if known else None, flag=flag,
                                warning=warning)
        self.inside.entered(key, now)
        return LaneDecision(result="open", reason=why_not, plate=plate,
                            matched_plate=shown if known else None, flag=flag, warning=warning)

    def _no_space(self, plate: str, household_id: int) -> VehicleReason | None:
        """The household's spaces all taken by its other cars inside (this one, inside
        already by anti-passback's warning, does not count against itself)."""
        spaces = self.cache.spaces.get(household_id)
        if spaces is None:
            return None
        taken = self.inside.spaces_taken[household_id]
        stay = self.inside.stays.get(plate)
        if stay is not None and stay.takes_space and stay.household_id == household_id:
            taken -= 1
        return "no_space" if taken >= spaces else None

    @staticmethod
    def _resident_refusal(grant: ResidentGrant, lane: LaneConfig,
                          now: datetime) -> VehicleReason | None:
        refusal = _window(grant.valid_from, grant.valid_until, now)
        if refusal is not None:
            return refusal
        if grant.lanes and lane.id not in grant.lanes:
            return "lane_not_allowed"
        return None

    def _usable_pass(self, plate: str, now: datetime
                     ) -> tuple[PassGrant | None, VehicleReason | None]:
        refusal: VehicleReason | None = None
        for grant in self.cache.passes.get(plate, ()):
            window = _window(grant.valid_from, grant.valid_until, now)
            if window is not None:
                refusal = "pass_expired" if window == "expired" else "pass_not_yet_valid"
            elif self.pass_uses(grant) >= grant.max_uses:
                refusal = "pass_used_up"
            else:
                return grant, None
        return None, refusal


def _with_time(decision: LaneDecision, us: int) -> LaneDecision:
    return replace(decision, decision_us=us)
