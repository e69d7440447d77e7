"""Compile: one edge's snapshot content from a loaded registry. Pure (no I/O), so it runs in
a thread and is unit-tested on hand-built registries; 100,000 cards take about a second."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from hub.credentials.grants import SiteGrants, edge_grants
from wire import (
    AccessGroupRule,
    AntiPassbackRule,
    CardFormatRule,
    DoorInfo,
    ResidentPin,
    SnapshotContent,
)
from wire import CardCredential as WireCard
from wire import Schedule as WireSchedule
from wire.permissions import HolidayMode
from wire.vehicles import VehiclePermissions

log = logging.getLogger(__name__)


@dataclass
class Registry:
    """Everything of one site that the snapshots need, loaded in a few queries.

    Loaded for a set of edges (`edge_ids`; None: all): the site-wide parts are small and loaded
    whole; the cards only of residents whose groups open a door of those edges.
    """

    timezone: str
    edges: list[tuple[int, str]]
    doors: list[tuple[int, int, str, str, str, int | None]]  # id, edge, name, label, mode, sched
    schedules: dict[int, tuple[str, list[dict[str, Any]]]]
    groups: dict[int, tuple[int | None, HolidayMode, int | None]]  # id -> schedule, holiday mode/sched
    group_doors: dict[int, set[int]]
    resident_groups: dict[int, set[int]]
    cards: list[tuple[str, int, str, Any, Any]]  # number, resident, status, from, until
    holidays: list[date]
    passback: list[tuple[int, int, int, Literal["hard", "soft"], int | None]]  # id, entry, exit door ids, mode, reset
    signed: SiteGrants = field(default_factory=SiteGrants)  # QR, Bluetooth, visitor passes
    hub_public_key: str | None = None
    downlink_keys: list[str] = field(default_factory=list)  # the hub keys the edge accepts
    group_floors: dict[int, list[int]] = field(default_factory=dict)  # floors a group enables
    resident_floors: dict[int, list[int]] = field(default_factory=dict)  # their unit's floor
    pin_doors: set[int] = field(default_factory=set)  # door ids set to card + PIN
    pins: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # resident -> hashes
    card_format: CardFormatRule = field(default_factory=CardFormatRule)
    vehicles: VehiclePermissions | None = None  # the site's, to every edge (lanes decide)


_CARD = re.compile(r"^[0-9A-Za-z:_-]{1,64}$")
_STATUSES = frozenset(("active", "revoked", "lost", "suspended"))


def _card_ok(number: str, status: str) -> bool:
    """What wire.CardCredential would accept, checked without building 100,000 models."""
    return bool(_CARD.match(number)) and status in _STATUSES


_CARD_FIELDS = frozenset(WireCard.model_fields)
_NO_FLOORS: list[int] = []  # shared by every card without floors; never mutated
_new_card = WireCard.__new__
_set = object.__setattr__


def _card(fields: dict[str, Any]) -> WireCard:
    """`WireCard.model_construct(**fields)` for all fields given, at a third of its cost (it
    is most of a 100,000-card compile); tests/hub/test_compiler_cards.py holds them equal."""
    card = _new_card(WireCard)
    _set(card, "__dict__", fields)
    _set(card, "__pydantic_fields_set__", _CARD_FIELDS)
    _set(card, "__pydantic_extra__", None)
    _set(card, "__pydantic_private__", None)
    return card


def compile_edge(site_id: str, edge_id: int, edge_name: str, reg: Registry) -> SnapshotContent:
    """The snapshot content for one edge, in a canonical order so equal content hashes equal."""
    my_doors = {d[0]: d for d in reg.doors if d[1] == edge_id}
    used_schedules: set[int] = set()
    door_infos = []
    for _did, _, name, label, mode, unlock_sid in sorted(my_doors.values(), key=lambda d: d[2]):
        unlock = None
        if mode == "unlocked_on_schedule" and unlock_sid is not None:
            used_schedules.add(unlock_sid)
            unlock = reg.schedules[unlock_sid][0]
        door_infos.append(DoorInfo.model_validate(
            {"id": name, "name": label, "mode": mode, "unlock_schedule": unlock,
             "pin_required": _did in reg.pin_doors}))
    rules: list[AccessGroupRule] = []
    for gid in sorted(reg.groups):
        doors_here = reg.group_doors.get(gid, set()) & my_doors.keys()
        if not doors_here:
            continue
        sid, holiday_mode, holiday_sid = reg.groups[gid]
        if holiday_mode != "schedule":
            holiday_sid = None
        used_schedules.update(s for s in (sid, holiday_sid) if s is not None)
        rules.append(AccessGroupRule(
            id=gid,
            doors=sorted(my_doors[d][2] for d in doors_here),
            schedule=reg.schedules[sid][0] if sid is not None else None,
            holiday_mode=holiday_mode,
            holiday_schedule=reg.schedules[holiday_sid][0] if holiday_sid is not None else None,
            floors=reg.group_floors.get(gid, []),
        ))
    group_ids = {r.id for r in rules}
    schedules = sorted(
        (WireSchedule.model_validate({"id": reg.schedules[s][0], "windows": reg.schedules[s][1]})
         for s in used_schedules),
        key=lambda s: s.id,
    )
    passback = [
        AntiPassbackRule(id=pid, entry=my_doors[entry][2], exit=my_doors[exit_][2],
                         mode=mode, reset_s=reset)
        for pid, entry, exit_, mode, reset in sorted(reg.passback)
        if entry in my_doors and exit_ in my_doors
    ]
    credentials: list[WireCard] = []
    shared: dict[frozenset[int], list[int]] = {}
    for number, resident, status, valid_from, valid_until in reg.cards:
        groups = reg.resident_groups.get(resident)
        if not groups:
            continue
        mine = groups & group_ids
        if not mine:
            continue
        if not _card_ok(number, status):
            # One bad row must not take every door of the edge offline.
            log.error("card %r (status %r) of resident %s left out of %s/%s", number, status,
                      resident, site_id, edge_name)
            continue
        key = frozenset(mine)
        group_list = shared.get(key)
        if group_list is None:
            group_list = shared[key] = sorted(mine)
        # checked above; timestamps come from UTC columns (aware)
        credentials.append(_card({
            "card": number, "resident_id": resident, "status": status,
            "valid_from": valid_from, "valid_until": valid_until, "groups": group_list,
            "floors": reg.resident_floors.get(resident, _NO_FLOORS),
        }))
    signed = edge_grants(reg.signed, {d: my_doors[d][2] for d in my_doors},
                         reg.resident_groups, group_ids, reg.resident_floors)
    credentials.extend(signed.credentials)
    credentials.sort(key=lambda c: c.card)
    # PIN hashes only to an edge with a card + PIN door, and only of its card holders
    pins: list[ResidentPin] = []
    if reg.pin_doors & my_doors.keys():
        holders = sorted({c.resident_id for c in credentials if c.resident_id is not None})
        pins = [ResidentPin(resident_id=r, hash=reg.pins[r][0], duress_hash=reg.pins[r][1])
                for r in holders if r in reg.pins]
    return SnapshotContent.model_construct(
        card_format=reg.card_format, pins=pins,
        site=site_id, edge=edge_name, timezone=reg.timezone, doors=door_infos,
        schedules=schedules, groups=[*signed.groups, *rules], credentials=credentials,
        holidays=list(reg.holidays), anti_passback=passback,
        hub_public_key=reg.hub_public_key, phone_keys=signed.phone_keys,
        visitor_passes=signed.visitor_passes, downlink_keys=list(reg.downlink_keys),
        vehicles=reg.vehicles,
    )


__all__ = ["Registry", "compile_edge"]
