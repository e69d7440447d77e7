"""What the permission snapshot carries for signed credentials, per edge.

Grants ride in the snapshot's `credentials` under keys no card reader can produce
(`qr:<resident>`, `ble:<phone key>`, `pass:<pass>`), so the edge decides them with the same
status / validity / group / schedule logic as cards. A visitor pass's doors become a group of
their own with id -<pass id>. Key material and use limits go in `phone_keys` and
`visitor_passes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import (
    PhoneKey,
    Resident,
    ResidentAccount,
    Unit,
    VisitorPass,
    utcnow,
    visitor_pass_doors,
)
from wire import AccessGroupRule, CardCredential, PhoneKeyGrant, VisitorPassLimit

# An expired or revoked pass stays in the snapshot this long, so the door says why it refuses.
PASS_KEPT_AFTER_END = timedelta(days=7)


@dataclass
class SiteGrants:
    """The signed-credential rows of one site, loaded in three queries."""

    residents: list[int] = field(default_factory=list)  # those with an app login (QR codes)
    phone_keys: list[tuple[int, int, str, str]] = field(default_factory=list)  # id, res, key, status
    # id, status, from, until, max uses, uses
    passes: list[tuple[int, str, datetime, datetime, int, int]] = field(default_factory=list)
    pass_doors: dict[int, set[int]] = field(default_factory=dict)
    pass_floors: dict[int, list[int]] = field(default_factory=dict)  # the host unit's, or chosen


@dataclass
class EdgeGrants:
    credentials: list[CardCredential]
    groups: list[AccessGroupRule]
    phone_keys: list[PhoneKeyGrant]
    visitor_passes: list[VisitorPassLimit]


async def load_site_grants(session: AsyncSession, site_id: str) -> SiteGrants:
    grants = SiteGrants()
    # Only a resident with an app login can show a QR code: no grant for the others.
    grants.residents = sorted(set(await session.scalars(
        select(ResidentAccount.resident_id)
        .join(Resident, Resident.id == ResidentAccount.resident_id)
        .where(Resident.site_id == site_id)
    )))
    grants.phone_keys = [
        (kid, rid, key, status) for kid, rid, key, status in (await session.execute(
            select(PhoneKey.id, PhoneKey.resident_id, PhoneKey.public_key, PhoneKey.status)
            .where(PhoneKey.site_id == site_id)
        )).all()
    ]
    horizon = utcnow() - PASS_KEPT_AFTER_END
    grants.passes = [
        (pid, status, vf, vu, mx, uses) for pid, status, vf, vu, mx, uses in (await session.execute(
            select(VisitorPass.id, VisitorPass.status, VisitorPass.valid_from,
                   VisitorPass.valid_until, VisitorPass.max_uses, VisitorPass.uses)
            .where(VisitorPass.site_id == site_id, VisitorPass.valid_until > horizon)
        )).all()
    ]
    for pid, chosen, unit_floor in (await session.execute(
        select(VisitorPass.id, VisitorPass.floors, Unit.floor)
        .join(Unit, Unit.id == VisitorPass.unit_id)
        .where(VisitorPass.site_id == site_id, VisitorPass.valid_until > horizon)
    )).all():
        floors = pass_floors(chosen, unit_floor)
        if floors:
            grants.pass_floors[pid] = floors
    for pid, did in (await session.execute(
        select(visitor_pass_doors.c.pass_id, visitor_pass_doors.c.door_id)
        .join(VisitorPass, VisitorPass.id == visitor_pass_doors.c.pass_id)
        .where(VisitorPass.site_id == site_id, VisitorPass.valid_until > horizon)
    )).all():
        grants.pass_doors.setdefault(pid, set()).add(did)
    return grants


def pass_floors(chosen: list[int] | None, unit_floor: int | None) -> list[int]:
    """A pass enables the floors its issuer chose, else its host unit's floor."""
    if chosen is not None:
        return sorted(set(chosen))
    return [unit_floor] if unit_floor else []


def edge_grants(site: SiteGrants, door_names: dict[int, str],
                resident_groups: dict[int, set[int]], group_ids: set[int],
                resident_floors: dict[int, list[int]] | None = None) -> EdgeGrants:
    """The grants for one edge: `door_names` are its doors (id -> name), `group_ids` the
    access groups that reach them, `resident_floors` each resident's own floors."""
    own = resident_floors or {}
    credentials: list[CardCredential] = []
    keys: list[PhoneKeyGrant] = []
    allowed: dict[int, list[int]] = {}
    for rid in site.residents:
        groups = sorted(resident_groups.get(rid, set()) & group_ids)
        if groups:
            credentials.append(CardCredential(card=f"qr:{rid}", resident_id=rid, groups=groups,
                                              floors=own.get(rid, [])))
    for kid, rid, key, status in site.phone_keys:
        if rid not in allowed:
            allowed[rid] = sorted(resident_groups.get(rid, set()) & group_ids)
        if allowed[rid]:
            credentials.append(CardCredential(
                card=f"ble:{kid}", resident_id=rid, groups=allowed[rid],
                status="active" if status == "active" else "revoked", floors=own.get(rid, []),
            ))
            keys.append(PhoneKeyGrant(id=kid, resident_id=rid, public_key=key))
    rules: list[AccessGroupRule] = []
    limits: list[VisitorPassLimit] = []
    for pid, status, valid_from, valid_until, max_uses, uses in site.passes:
        doors = sorted(door_names[d] for d in site.pass_doors.get(pid, set()) if d in door_names)
        if not doors:
            continue
        rules.append(AccessGroupRule(id=-pid, doors=doors, schedule=None,
                                     floors=site.pass_floors.get(pid, [])))
        credentials.append(CardCredential(
            card=f"pass:{pid}", status="active" if status == "active" else "revoked",
            valid_from=valid_from, valid_until=valid_until, groups=[-pid],
        ))
        limits.append(VisitorPassLimit(id=pid, max_uses=max_uses, uses=min(uses, max_uses)))
    rules.sort(key=lambda r: r.id)
    keys.sort(key=lambda k: k.id)
    limits.sort(key=lambda p: p.id)
    return EdgeGrants(credentials, rules, keys, limits)
