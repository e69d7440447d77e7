"""The vehicle permissions an edge holds, from the signed snapshot, in a form a lane decides
from in microseconds (compact records; 100,000 plates fit in tens of MB)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.vehicles.plates import PlateIndex
from wire.vehicles import VehiclePermissions, VehicleSettings


@dataclass(frozen=True, slots=True)
class ResidentGrant:
    household_id: int
    valid_from: datetime | None
    valid_until: datetime | None
    lanes: frozenset[str]  # empty: every lane


@dataclass(frozen=True, slots=True)
class PassGrant:
    id: int
    household_id: int
    valid_from: datetime
    valid_until: datetime
    max_uses: int
    uses: int  # as the hub last counted


class VehicleCache:
    def __init__(self, permissions: VehiclePermissions | None = None) -> None:
        perms = permissions or VehiclePermissions()
        self.settings: VehicleSettings = perms.settings
        self.residents: dict[str, ResidentGrant] = {
            v.plate: ResidentGrant(v.household_id, v.valid_from, v.valid_until,
                                   frozenset(v.lanes))
            for v in perms.residents}
        self.passes: dict[str, list[PassGrant]] = {}
        for p in perms.passes:
            self.passes.setdefault(p.plate, []).append(
                PassGrant(p.id, p.household_id, p.valid_from, p.valid_until, p.max_uses, p.uses))
        self.blocked: dict[str, str] = {b.plate: b.reason for b in perms.blocked}
        self.spaces: dict[int, int] = {s.household_id: s.spaces for s in perms.spaces}
        self.index = PlateIndex([*self.residents, *self.passes, *self.blocked])

    def __len__(self) -> int:
        return len(self.index)
