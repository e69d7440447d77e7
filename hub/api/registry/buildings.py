"""Buildings and their units: the places residents live in (a manager keeps them)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.auth import HOUSEHOLD_ROLES
from hub.api.core.crud import refuse_taken, scoped_get, scoped_list, visible
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError, InvalidError, NotFoundError, listing, thing_word
from hub.api.core.schemas import SiteQuery
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading, require_site, writing
from hub.api.registry.schemas import (
    BuildingCreate,
    BuildingList,
    BuildingOut,
    BuildingUpdate,
    UnitCreate,
    UnitList,
    UnitOut,
    UnitQuery,
    UnitUpdate,
)
from hub.models import Building, Edge, Household, Resident, Unit

routes = EndpointTable(tag="buildings")
_BUILDING = r"/buildings/{id:\d+}"
_UNIT = r"/units/{id:\d+}"


@routes.get("/buildings", query=SiteQuery, response=BuildingList)
async def list_buildings(request: web.Request, query: SiteQuery) -> BuildingList:
    """List buildings, optionally of one site."""
    stmt = select(Building).order_by(Building.id)
    return BuildingList(items=await scoped_list(request, stmt, Building, BuildingOut,
                                                query.site_id))


@routes.post("/buildings", body=BuildingCreate, response=BuildingOut, status=201)
async def create_building(request: web.Request, body: BuildingCreate) -> BuildingOut:
    """Add a building to a site."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        await refuse_taken(session, Building, "building", site_id=body.site_id, code=body.code)
        building = Building(site_id=body.site_id, code=body.code, name=body.name)
        session.add(building)
        await session.flush()
        return BuildingOut.model_validate(building)


@routes.get(_BUILDING, response=BuildingOut)
async def get_building(request: web.Request) -> BuildingOut:
    """One building."""
    return await scoped_get(request, Building, "building", BuildingOut)


@routes.patch(_BUILDING, body=BuildingUpdate, response=BuildingOut)
async def update_building(request: web.Request, body: BuildingUpdate) -> BuildingOut:
    """Rename a building or change its code."""
    async with writing(request) as change:
        session = change.session
        building = await visible(session, request, Building, "building")
        if body.code is not None and body.code != building.code:
            await refuse_taken(session, Building, "building", building.id,
                               site_id=building.site_id, code=body.code)
            building.code = body.code
        if body.name is not None:
            building.name = body.name
        await session.flush()
        return BuildingOut.model_validate(building)


@routes.delete(_BUILDING)
async def delete_building(request: web.Request) -> None:
    """Remove a building with no units and no edge (409 names what is left)."""
    async with writing(request) as change:
        session = change.session
        building = await visible(session, request, Building, "building")
        units = list(
            await session.scalars(select(Unit.number).where(Unit.building_id == building.id))
        )
        edges = list(
            await session.scalars(select(Edge.name).where(Edge.building_id == building.id))
        )
        if units or edges:
            raise ConflictError(
                f"building {building.id} still has units {units[:10]} and edges {edges}",
                ("error.in_use", {"what": thing_word("building"), "key": building.id,
                                  "users": listing(("unit", units[:10]), ("edge", edges))}))
        await session.delete(building)


# --- units -----------------------------------------------------------------------------------


async def _unit_out(session: AsyncSession, unit: Unit) -> UnitOut:
    site_id = await session.scalar(select(Building.site_id).where(Building.id == unit.building_id))
    household = await session.scalar(select(Household.id).where(Household.unit_id == unit.id))
    return UnitOut(
        id=unit.id,
        site_id=site_id or "",
        building_id=unit.building_id,
        number=unit.number,
        floor=unit.floor,
        area=unit.area,
        status=unit.status,  # type: ignore[arg-type]  # the column holds one of UnitStatus
        household_id=household,
    )


async def _unit(session: AsyncSession, scope: Scope, unit_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise NotFoundError("unit", unit_id)
    site_id = await session.scalar(select(Building.site_id).where(Building.id == unit.building_id))
    household = await session.scalar(select(Household.id).where(Household.unit_id == unit.id))
    scope.check("unit", unit_id, site_id or "", household)
    return unit


def unit_named(q: str) -> ColumnElement[bool]:
    """Units as people name them: "B1 101" or "B1-101" (building code, number's start), "101"
    (a number's start) or "B1" (a building's code); case does not matter for the code."""
    words = q.replace("-", " ").split()
    if len(words) >= 2:
        return and_(func.lower(Building.code) == words[0].lower(),
                    Unit.number.startswith(" ".join(words[1:]), autoescape=True))
    word = words[0] if words else q
    return or_(Unit.number.startswith(word, autoescape=True),
               func.lower(Building.code) == word.lower())


@routes.get("/units", query=UnitQuery, response=UnitList, roles=HOUSEHOLD_ROLES)
async def list_units(request: web.Request, query: UnitQuery) -> UnitList:
    """List units in your scope (a resident: their own), by site, building or status, or
    searched as people name them (`q`, with `limit`: a picker asks for a few)."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    # one query with the site and household joined (one household per unit): asked per unit,
    # 2,500 units took 9 s (bench/manager_lists.py)
    stmt = (
        select(Unit, Building.site_id, Household.id)
        .join(Building, Building.id == Unit.building_id)
        .outerjoin(Household, Household.unit_id == Unit.id)
        .where(scope.where(Building.site_id, Household.id))
        .order_by(Unit.id)
    )
    if query.site_id is not None:
        stmt = stmt.where(Building.site_id == query.site_id)
    if query.building_id is not None:
        stmt = stmt.where(Unit.building_id == query.building_id)
    if query.status is not None:
        stmt = stmt.where(Unit.status == query.status)
    if query.q is not None:
        stmt = stmt.where(unit_named(query.q))
    if query.has_household is not None:
        stmt = stmt.where(Household.id.is_not(None) if query.has_household
                          else Household.id.is_(None))
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    async with reading(request) as session:
        return UnitList(items=[
            UnitOut(id=unit.id, site_id=site_id, building_id=unit.building_id,
                    number=unit.number, floor=unit.floor, area=unit.area,
                    status=unit.status,  # type: ignore[arg-type]  # one of UnitStatus
                    household_id=household)
            for unit, site_id, household in await session.execute(stmt)])


@routes.post("/units", body=UnitCreate, response=UnitOut, status=201)
async def create_unit(request: web.Request, body: UnitCreate) -> UnitOut:
    """Add a unit to a building."""
    scope = scope_of(request)
    async with writing(request) as change:
        session = change.session
        building = await session.get(Building, body.building_id)
        if building is None or not scope.sees(building.site_id):
            raise InvalidError.unknown("building_id", "building", body.building_id)
        await refuse_taken(session, Unit, "unit", building_id=building.id, number=body.number)
        unit = Unit(**body.model_dump())
        session.add(unit)
        await session.flush()
        return await _unit_out(session, unit)


@routes.get(_UNIT, response=UnitOut, roles=HOUSEHOLD_ROLES)
async def get_unit(request: web.Request) -> UnitOut:
    """One unit, with its household."""
    async with reading(request) as session:
        return await _unit_out(
            session, await _unit(session, scope_of(request), path_id(request, "unit"))
        )


@routes.patch(_UNIT, body=UnitUpdate, response=UnitOut)
async def update_unit(request: web.Request, body: UnitUpdate) -> UnitOut:
    """Change a unit's number, floor, area or status."""
    async with writing(request) as change:
        session = change.session
        unit = await _unit(session, scope_of(request), path_id(request, "unit"))
        given = body.model_fields_set
        if body.number is not None and body.number != unit.number:
            await refuse_taken(session, Unit, "unit", unit.id, building_id=unit.building_id,
                               number=body.number)
        floor_before = unit.floor
        for name in sorted(given):
            setattr(unit, name, getattr(body, name))
        await session.flush()
        if unit.floor != floor_before:  # its residents' own floor at the car readers
            living = list(await session.scalars(select(Resident.id).where(Resident.unit_id == unit.id)))
            site_id = await session.scalar(
                select(Building.site_id).where(Building.id == unit.building_id))
            if living and site_id is not None:
                await change.touch(site_id, residents=living)
        return await _unit_out(session, unit)


@routes.delete(_UNIT)
async def delete_unit(request: web.Request) -> None:
    """Remove a unit nobody lives in (409 while it has a household or residents)."""
    async with writing(request) as change:
        session = change.session
        unit = await _unit(session, scope_of(request), path_id(request, "unit"))
        household = await session.scalar(select(Household.id).where(Household.unit_id == unit.id))
        residents = list(
            await session.scalars(select(Resident.id).where(Resident.unit_id == unit.id))
        )
        if household is not None or residents:
            raise ConflictError(
                f"unit {unit.id} still has household {household} and residents {residents}",
                ("error.in_use", {"what": thing_word("unit"), "key": unit.id, "users": listing(
                    ("household", [household] if household else []), ("resident", residents))}))
        await session.delete(unit)
