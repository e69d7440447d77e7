"""Load: what one site's snapshots need, read from the registry in a few set-based queries
(no per-row loads), and which edges a change reaches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.compiler.compile import Registry
from hub.credentials.grants import load_site_grants
from hub.errors import NotFound
from hub.models import (
    AccessGroup,
    AntiPassbackPair,
    CardCredential,
    Door,
    Edge,
    Holiday,
    Resident,
    Schedule,
    Site,
    Unit,
    group_doors,
    resident_groups,
    utcnow,
)
from hub.readers.formats import card_format
from hub.readers.models import ResidentPinRow
from hub.vehicles.store import load_permissions as load_vehicles
from wire.permissions import HolidayMode


async def load_registry(
    session: AsyncSession, site_id: str, edge_ids: Collection[int] | None = None,
    residents: Collection[int] | None = None,
) -> Registry:
    """With `residents`, only those residents' memberships and cards are loaded (the rest of
    the site whole): the parts an incremental compile needs."""
    site = await session.get(Site, site_id)
    if site is None:
        raise NotFound("site", site_id)
    edge_q = select(Edge.id, Edge.name).where(Edge.site_id == site_id).order_by(Edge.name)
    if edge_ids is not None:
        edge_q = edge_q.where(Edge.id.in_(sorted(edge_ids)))
    edges = (await session.execute(edge_q)).all()
    doors = (await session.execute(
        select(Door.id, Door.edge_id, Door.name, Door.label, Door.mode, Door.unlock_schedule_id)
        .where(Door.site_id == site_id)
    )).all()
    pin_doors = set(await session.scalars(
        select(Door.id).where(Door.site_id == site_id, Door.pin_required.is_(True))))
    schedules = {
        sid: (name, windows) for sid, name, windows in (await session.execute(
            select(Schedule.id, Schedule.name, Schedule.windows).where(Schedule.site_id == site_id)
        )).all()
    }
    groups: dict[int, tuple[int | None, HolidayMode, int | None]] = {}
    group_floors: dict[int, list[int]] = {}
    for gid, sid, mode, hsid, floors in (await session.execute(
        select(AccessGroup.id, AccessGroup.schedule_id, AccessGroup.holiday_mode,
               AccessGroup.holiday_schedule_id, AccessGroup.floors)
        .where(AccessGroup.site_id == site_id)
    )).all():
        groups[gid] = (sid, mode, hsid)
        if floors:
            group_floors[gid] = sorted(set(floors))
    gd: dict[int, set[int]] = defaultdict(set)
    for gid, did in (await session.execute(
        select(group_doors.c.group_id, group_doors.c.door_id)
        .join(AccessGroup, AccessGroup.id == group_doors.c.group_id)
        .where(AccessGroup.site_id == site_id)
    )).all():
        gd[gid].add(did)
    rg: dict[int, set[int]] = defaultdict(set)
    rg_q = (select(resident_groups.c.resident_id, resident_groups.c.group_id)
            .join(AccessGroup, AccessGroup.id == resident_groups.c.group_id)
            .where(AccessGroup.site_id == site_id))
    if residents is not None:
        rg_q = rg_q.where(resident_groups.c.resident_id.in_(sorted(residents)))
    for rid, gid in (await session.execute(rg_q)).all():
        rg[rid].add(gid)
    card_q = select(CardCredential.card_number, CardCredential.resident_id, CardCredential.status,
                    CardCredential.valid_from, CardCredential.valid_until
                    ).where(CardCredential.site_id == site_id)
    if edge_ids is not None:
        # only the holders some of whose groups open a door of these edges
        wanted_doors = {d[0] for d in doors if d[1] in set(edge_ids)}
        wanted_groups = {g for g, ds in gd.items() if ds & wanted_doors}
        holders = sorted({r for r, gs in rg.items() if gs & wanted_groups})
        card_q = card_q.where(CardCredential.resident_id.in_(holders))
    elif residents is not None:
        card_q = card_q.where(CardCredential.resident_id.in_(sorted(residents)))
    cards = (await session.execute(card_q)).all()
    resident_floors = await _unit_floors(session, site_id, {rid for _, rid, *_ in cards} | set(rg))
    holidays = list(await session.scalars(
        select(Holiday.day).where(Holiday.site_id == site_id).order_by(Holiday.day)
    ))
    passback = (await session.execute(
        select(AntiPassbackPair.id, AntiPassbackPair.entry_door_id, AntiPassbackPair.exit_door_id,
               AntiPassbackPair.mode, AntiPassbackPair.reset_s)
        .where(AntiPassbackPair.site_id == site_id)
    )).all()
    return Registry(
        site.timezone,
        [(eid, name) for eid, name in edges],
        [(did, eid, name, label, mode, us) for did, eid, name, label, mode, us in doors],
        schedules, groups, gd, rg,
        [(number, rid, status, vf, vu) for number, rid, status, vf, vu in cards],
        holidays,
        [(pid, entry, exit_, mode, reset) for pid, entry, exit_, mode, reset in passback],
        await load_site_grants(session, site_id),
        group_floors=group_floors, resident_floors=resident_floors,
        pin_doors=pin_doors,
        pins=await _pins(session, site_id) if pin_doors else {},
        card_format=await card_format(session, site_id),
        vehicles=await load_vehicles(session, site_id, utcnow()),
    )


async def _pins(session: AsyncSession, site_id: str) -> dict[int, tuple[str, str | None]]:
    return {rid: (pin, duress) for rid, pin, duress in (await session.execute(
        select(ResidentPinRow.resident_id, ResidentPinRow.pin_hash, ResidentPinRow.duress_hash)
        .where(ResidentPinRow.site_id == site_id))).all()}


async def _unit_floors(session: AsyncSession, site_id: str,
                       residents: Collection[int]) -> dict[int, list[int]]:
    """Each resident's own floors: their unit's floor (a unit without one gives none)."""
    q = (select(Resident.id, Unit.floor).join(Unit, Unit.id == Resident.unit_id)
         .where(Resident.site_id == site_id, Unit.floor.is_not(None), Unit.floor != 0))
    if len(residents) < 10_000:  # else the whole site, one query instead of a long IN list
        q = q.where(Resident.id.in_(sorted(residents)))
    shared: dict[int, list[int]] = {}  # many residents share a floor: share its list
    return {rid: shared.setdefault(floor, [floor])
            for rid, floor in (await session.execute(q)).all() if floor}


async def affected_edges(
    session: AsyncSession,
    *,
    residents: Iterable[int] = (),
    groups: Iterable[int] = (),
    doors: Iterable[int] = (),
    schedules: Iterable[int] = (),
) -> set[int]:
    """The edges whose snapshots a change to these rows can alter: the edges of the doors
    those residents' groups, those groups and those schedules' groups open, and of the doors
    themselves (a door's mode or unlock schedule)."""
    group_ids = set(groups)
    resident_ids = sorted(set(residents))
    if resident_ids:
        group_ids |= set(await session.scalars(
            select(resident_groups.c.group_id).where(resident_groups.c.resident_id.in_(resident_ids))
        ))
    schedule_ids = sorted(set(schedules))
    door_ids = set(doors)
    if schedule_ids:
        group_ids |= set(await session.scalars(select(AccessGroup.id).where(
            AccessGroup.schedule_id.in_(schedule_ids)
            | AccessGroup.holiday_schedule_id.in_(schedule_ids)
        )))
        door_ids |= set(await session.scalars(
            select(Door.id).where(Door.unlock_schedule_id.in_(schedule_ids))
        ))
    if group_ids:
        door_ids |= set(await session.scalars(
            select(group_doors.c.door_id).where(group_doors.c.group_id.in_(sorted(group_ids)))
        ))
    if not door_ids:
        return set()
    return set(await session.scalars(
        select(Door.edge_id).where(Door.id.in_(sorted(door_ids))).distinct()
    ))


async def lock_site(session: AsyncSession, site_id: str) -> None:
    """Serialise compiles of one site across hub workers for the rest of the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Site.id).where(Site.id == site_id).with_for_update())
    else:
        # SQLite has no row locks: a no-op write takes the database's write lock now, so
        # the reads below see the latest committed registry.
        await session.execute(
            update(Site).where(Site.id == site_id).values(name=Site.name)
            .execution_options(synchronize_session=False)
        )




__all__ = ["affected_edges", "load_registry", "lock_site"]
