"""Residents and their access group membership; answers include their cards."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.base import ExecutableOption

from hub.api.core.auth import HOUSEHOLD_ROLES
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError, InvalidError, NotFoundError, listing
from hub.api.core.paging import like, offset_total
from hub.api.core.scope import Scope, mask_id_number, scope_of
from hub.api.core.store import reading, require_site, writing
from hub.api.credentials.cards import card_out
from hub.api.registry.households import household_for_unit
from hub.api.registry.labels import unit_labels
from hub.api.registry.schemas import (
    ResidentCreate,
    ResidentList,
    ResidentOut,
    ResidentQuery,
    ResidentUpdate,
)
from hub.models import (
    AccessGroup,
    Building,
    CardCredential,
    Household,
    Resident,
    Unit,
    resident_groups,
)
from hub.texts.validation import field_word

routes = EndpointTable(tag="residents")
_ITEM = r"/residents/{id:\d+}"


def resident_out(resident: Resident, scope: Scope, labels: dict[int, str]) -> ResidentOut:
    """`labels`: units as people name them (`unit_labels`), for the resident's unit."""
    return ResidentOut(
        id=resident.id,
        site_id=resident.site_id,
        unit_id=resident.unit_id,
        unit_label=None if resident.unit_id is None else labels.get(resident.unit_id),
        name=resident.name,
        phone=resident.phone,
        groups=sorted(g.id for g in resident.groups),
        cards=[card_out(c, resident.name) for c in sorted(resident.cards, key=lambda c: c.id)],
        created_at=resident.created_at,
        updated_at=resident.updated_at,
        household_id=resident.household_id,
        type=resident.type,  # type: ignore[arg-type]  # the column holds one of ResidentType
        id_number=mask_id_number(resident.id_number, scope),
    )


def _with_relations() -> list[ExecutableOption]:
    return [selectinload(Resident.cards), selectinload(Resident.groups)]


async def _out(session: AsyncSession, resident_id: int, scope: Scope) -> ResidentOut:
    """The resident as answered, loaded afresh with their unit's name."""
    resident = await _load(session, resident_id, scope)
    return resident_out(resident, scope, await unit_labels(session, [resident.unit_id]))


async def _load(session: AsyncSession, resident_id: int, scope: Scope) -> Resident:
    resident = await session.scalar(
        select(Resident)
        .options(*_with_relations())
        .where(Resident.id == resident_id)
        .execution_options(populate_existing=True)
    )
    if resident is None:
        raise NotFoundError("resident", resident_id)
    scope.check("resident", resident_id, resident.site_id, resident.household_id)
    return resident


async def _place(
    session: AsyncSession,
    site_id: str,
    unit_id: int | None,
    household_id: int | None,
) -> tuple[int | None, int | None]:
    """The (unit, household) a resident lives in: a household implies its unit; a unit
    alone means the unit's household, made when it has none."""
    if household_id is not None:
        household = await session.get(Household, household_id)
        if household is None or household.site_id != site_id:
            raise InvalidError.unknown(
                "household_id", "household", household_id,
                f"unknown household {household_id} in {site_id!r}")
        if unit_id is not None and unit_id != household.unit_id:
            raise InvalidError.one(
                "unit_id",
                f"household {household_id} lives in unit {household.unit_id}, not {unit_id}",
                "invalid.household_other_unit")
        return household.unit_id, household.id
    if unit_id is None:
        return None, None
    await _check_unit(session, unit_id, site_id)
    return unit_id, (await household_for_unit(session, unit_id, site_id)).id


async def _check_unit(session: AsyncSession, unit_id: int, site_id: str) -> None:
    unit_site = await session.scalar(
        select(Building.site_id)
        .join(Unit, Unit.building_id == Building.id)
        .where(Unit.id == unit_id)
    )
    if unit_site is None:
        raise InvalidError.unknown("unit_id", "unit", unit_id)
    if unit_site != site_id:
        raise InvalidError.one(
            "unit_id", f"unit {unit_id} is in site {unit_site!r}, not {site_id!r}",
            "invalid.unit_other_site")


async def _refuse_duplicate_id_number(
    session: AsyncSession, site_id: str, id_number: str | None, except_id: int | None = None
) -> None:
    if id_number is None:
        return
    stmt = select(Resident.id).where(Resident.site_id == site_id, Resident.id_number == id_number)
    if except_id is not None:
        stmt = stmt.where(Resident.id != except_id)
    existing = await session.scalar(stmt)
    if existing is not None:
        raise ConflictError(
            f"resident {existing} in site {site_id!r} has this ID number already",
            ("error.taken", {"what": field_word("id_number"), "value": "",
                             "holder": listing(("resident", [existing]))}))


async def _groups(session: AsyncSession, ids: list[int], site_id: str) -> list[AccessGroup]:
    wanted = sorted(set(ids))
    found = {
        g.id: g
        for g in await session.scalars(select(AccessGroup).where(AccessGroup.id.in_(wanted)))
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidError.unknown("groups", "access group", ", ".join(map(str, missing)),
                                   f"unknown access groups {missing}")
    foreign = [i for i in wanted if found[i].site_id != site_id]
    if foreign:
        raise InvalidError.unknown(
            "groups", "access group", ", ".join(map(str, foreign)),
            f"access groups {foreign} belong to another site than {site_id!r}")
    return [found[i] for i in wanted]


def _filters(query: ResidentQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.site_id is not None:
        found.append(Resident.site_id == query.site_id)
    if query.unit_id is not None:
        found.append(Resident.unit_id == query.unit_id)
    if query.household_id is not None:
        found.append(Resident.household_id == query.household_id)
    if query.building_id is not None:
        found.append(Resident.unit_id.in_(
            select(Unit.id).where(Unit.building_id == query.building_id)))
    if query.type is not None:
        found.append(Resident.type == query.type)
    if query.group_id is not None:
        found.append(Resident.id.in_(select(resident_groups.c.resident_id).where(
            resident_groups.c.group_id == query.group_id)))
    if query.q is not None:
        pattern = like(query.q.strip())
        found.append(or_(
            Resident.name.ilike(pattern, escape="\\"),
            Resident.phone.ilike(pattern, escape="\\"),
            Resident.id.in_(select(CardCredential.resident_id).where(
                CardCredential.card_number.ilike(pattern, escape="\\")))))
    return found


@routes.get("/residents", query=ResidentQuery, response=ResidentList, roles=HOUSEHOLD_ROLES)
async def list_residents(request: web.Request, query: ResidentQuery) -> ResidentList:
    """List residents in your scope (a resident: their household): filtered by site, building,
    unit, household, type or access group, searched by name, phone or card number, a page
    at a time (`limit`, `offset`; `total` counts them all)."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    where = [scope.where(Resident.site_id, Resident.household_id), *_filters(query)]
    stmt = (
        select(Resident)
        .options(*_with_relations())
        .where(*where)
        .order_by(Resident.id)
        .offset(query.offset)
    )
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    async with reading(request) as session:
        rows = list(await session.scalars(stmt))
        labels = await unit_labels(session, [r.unit_id for r in rows])
        items = [resident_out(r, scope, labels) for r in rows]
        total = await offset_total(session, len(items), query.offset, query.limit,
                                   select(func.count()).select_from(Resident).where(*where))
        return ResidentList(items=items, total=total)


@routes.post("/residents", body=ResidentCreate, response=ResidentOut, status=201)
async def create_resident(request: web.Request, body: ResidentCreate) -> ResidentOut:
    """Add a resident, with access group membership; a unit puts them in its household."""
    scope = scope_of(request)
    scope.claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        await _refuse_duplicate_id_number(session, body.site_id, body.id_number)
        unit_id, household_id = await _place(
            session, body.site_id, body.unit_id, body.household_id
        )
        resident = Resident(
            site_id=body.site_id,
            unit_id=unit_id,
            household_id=household_id,
            name=body.name,
            phone=body.phone,
            type=body.type,
            id_number=body.id_number,
            groups=await _groups(session, body.groups, body.site_id),
        )
        session.add(resident)
        await session.flush()
        await change.touch(body.site_id, residents=[resident.id])
        return await _out(session, resident.id, scope)


@routes.get(_ITEM, response=ResidentOut, roles=HOUSEHOLD_ROLES)
async def get_resident(request: web.Request) -> ResidentOut:
    """One resident with cards and group ids."""
    scope = scope_of(request)
    async with reading(request) as session:
        return await _out(session, path_id(request, "resident"), scope)


@routes.patch(_ITEM, body=ResidentUpdate, response=ResidentOut)
async def update_resident(request: web.Request, body: ResidentUpdate) -> ResidentOut:
    """Change a resident; `groups` replaces the membership. The site cannot change; a new
    unit or household moves the resident (unit and household follow each other)."""
    scope = scope_of(request)
    async with writing(request) as change:
        session = change.session
        resident = await _load(session, path_id(request, "resident"), scope)
        given = body.model_fields_set
        if "unit_id" in given or "household_id" in given:
            unit_id = body.unit_id if "unit_id" in given else None
            household_id = body.household_id if "household_id" in given else None
            if "household_id" not in given and body.unit_id == resident.unit_id:
                household_id = resident.household_id  # same unit: keep the household
            moved_from = resident.unit_id
            resident.unit_id, resident.household_id = await _place(
                session, resident.site_id, unit_id, household_id
            )
            if resident.unit_id != moved_from:  # their own floor at the car readers moves too
                await change.touch(resident.site_id, residents=[resident.id])
        if "groups" in given and body.groups is not None:
            # the edges of the groups it leaves, then of those it joins
            await change.touch(resident.site_id, residents=[resident.id])
            resident.groups = await _groups(session, body.groups, resident.site_id)
            await session.flush()
            await change.touch(resident.site_id, residents=[resident.id])
        if "id_number" in given:
            await _refuse_duplicate_id_number(
                session, resident.site_id, body.id_number, except_id=resident.id
            )
        for name in ("name", "phone", "type", "id_number"):
            if name in given:
                setattr(resident, name, getattr(body, name))
        await session.flush()
        return await _out(session, resident.id, scope)


@routes.delete(_ITEM)
async def delete_resident(request: web.Request) -> None:
    """Remove a resident with their cards and memberships (the access log keeps its rows)."""
    async with writing(request) as change:
        session = change.session
        resident = await _load(session, path_id(request, "resident"), scope_of(request))
        # explicit, so SQLite without foreign-key enforcement ends up the same as PostgreSQL
        await change.touch(resident.site_id, residents=[resident.id])
        for card in resident.cards:
            await session.delete(card)
        await session.delete(resident)
