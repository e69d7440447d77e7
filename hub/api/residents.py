"""Residents and their access group membership; answers include their cards."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hub.api.cards import card_out
from hub.api.endpoints import EndpointTable, path_id
from hub.api.errors import InvalidError, NotFoundError
from hub.api.schemas import (
    ResidentCreate,
    ResidentList,
    ResidentOut,
    ResidentQuery,
    ResidentUpdate,
)
from hub.api.store import reading, require_site, writing
from hub.models import AccessGroup, Building, Resident, Unit

routes = EndpointTable(tag="residents")
_ITEM = r"/residents/{id:\d+}"


def resident_out(resident: Resident) -> ResidentOut:
    return ResidentOut(
        id=resident.id,
        site_id=resident.site_id,
        unit_id=resident.unit_id,
        name=resident.name,
        phone=resident.phone,
        groups=sorted(g.id for g in resident.groups),
        cards=[card_out(c) for c in sorted(resident.cards, key=lambda c: c.id)],
        created_at=resident.created_at,
        updated_at=resident.updated_at,
    )


def _with_relations() -> list:
    return [selectinload(Resident.cards), selectinload(Resident.groups)]


async def _load(session: AsyncSession, resident_id: int) -> Resident:
    resident = await session.scalar(
        select(Resident)
        .options(*_with_relations())
        .where(Resident.id == resident_id)
        .execution_options(populate_existing=True)
    )
    if resident is None:
        raise NotFoundError("resident", resident_id)
    return resident


async def _check_unit(session: AsyncSession, unit_id: int, site_id: str) -> None:
    unit_site = await session.scalar(
        select(Building.site_id)
        .join(Unit, Unit.building_id == Building.id)
        .where(Unit.id == unit_id)
    )
    if unit_site is None:
        raise InvalidError.one("unit_id", f"unknown unit {unit_id}")
    if unit_site != site_id:
        raise InvalidError.one(
            "unit_id", f"unit {unit_id} is in site {unit_site!r}, not {site_id!r}"
        )


async def _groups(session: AsyncSession, ids: list[int], site_id: str) -> list[AccessGroup]:
    wanted = sorted(set(ids))
    found = {
        g.id: g
        for g in await session.scalars(select(AccessGroup).where(AccessGroup.id.in_(wanted)))
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidError.one("groups", f"unknown access groups {missing}")
    foreign = [i for i in wanted if found[i].site_id != site_id]
    if foreign:
        raise InvalidError.one(
            "groups", f"access groups {foreign} belong to another site than {site_id!r}"
        )
    return [found[i] for i in wanted]


@routes.get("/residents", query=ResidentQuery, response=ResidentList)
async def list_residents(request: web.Request, query: ResidentQuery) -> ResidentList:
    """List residents, optionally of one site or unit."""
    stmt = select(Resident).options(*_with_relations()).order_by(Resident.id)
    if query.site_id is not None:
        stmt = stmt.where(Resident.site_id == query.site_id)
    if query.unit_id is not None:
        stmt = stmt.where(Resident.unit_id == query.unit_id)
    async with reading(request) as session:
        return ResidentList(items=[resident_out(r) for r in await session.scalars(stmt)])


@routes.post("/residents", body=ResidentCreate, response=ResidentOut, status=201)
async def create_resident(request: web.Request, body: ResidentCreate) -> ResidentOut:
    """Add a resident, with access group membership."""
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        if body.unit_id is not None:
            await _check_unit(session, body.unit_id, body.site_id)
        resident = Resident(
            site_id=body.site_id,
            unit_id=body.unit_id,
            name=body.name,
            phone=body.phone,
            groups=await _groups(session, body.groups, body.site_id),
        )
        session.add(resident)
        await session.flush()
        await change.touch(body.site_id, residents=[resident.id])
        return resident_out(await _load(session, resident.id))


@routes.get(_ITEM, response=ResidentOut)
async def get_resident(request: web.Request) -> ResidentOut:
    """One resident with cards and group ids."""
    async with reading(request) as session:
        return resident_out(await _load(session, path_id(request, "resident")))


@routes.patch(_ITEM, body=ResidentUpdate, response=ResidentOut)
async def update_resident(request: web.Request, body: ResidentUpdate) -> ResidentOut:
    """Change a resident; `groups` replaces the membership. The site cannot change."""
    async with writing(request) as change:
        session = change.session
        resident = await _load(session, path_id(request, "resident"))
        given = body.model_fields_set
        if "unit_id" in given and body.unit_id is not None:
            await _check_unit(session, body.unit_id, resident.site_id)
        if "groups" in given and body.groups is not None:
            # the edges of the groups it leaves, then of those it joins
            await change.touch(resident.site_id, residents=[resident.id])
            resident.groups = await _groups(session, body.groups, resident.site_id)
            await session.flush()
            await change.touch(resident.site_id, residents=[resident.id])
        for name in ("name", "phone", "unit_id"):
            if name in given:
                setattr(resident, name, getattr(body, name))
        await session.flush()
        return resident_out(await _load(session, resident.id))


@routes.delete(_ITEM)
async def delete_resident(request: web.Request) -> None:
    """Remove a resident with their cards and memberships (the access log keeps its rows)."""
    async with writing(request) as change:
        session = change.session
        resident = await _load(session, path_id(request, "resident"))
        # explicit, so SQLite without foreign-key enforcement ends up the same as PostgreSQL
        await change.touch(resident.site_id, residents=[resident.id])
        for card in resident.cards:
            await session.delete(card)
        await session.delete(resident)
