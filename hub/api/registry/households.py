"""Households: the people of one unit. A resident user sees their own household only."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.auth import HOUSEHOLD_ROLES
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError, InvalidError, NotFoundError, listing, thing_word
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading, writing
from hub.api.registry.schemas import (
    HouseholdCreate,
    HouseholdList,
    HouseholdMember,
    HouseholdOut,
    HouseholdQuery,
    HouseholdUpdate,
)
from hub.models import Building, Household, Resident, Unit, User

routes = EndpointTable(tag="households")
_ITEM = r"/households/{id:\d+}"


async def unit_site(session: AsyncSession, unit_id: int) -> str | None:
    """The site of a unit (through its building), None for an unknown unit."""
    return await session.scalar(
        select(Building.site_id)
        .join(Unit, Unit.building_id == Building.id)
        .where(Unit.id == unit_id)
    )


async def household_for_unit(session: AsyncSession, unit_id: int, site_id: str) -> Household:
    """The unit's household, made (unnamed) when it has none yet; the caller checked the unit."""
    household = await session.scalar(select(Household).where(Household.unit_id == unit_id))
    if household is None:
        household = Household(site_id=site_id, unit_id=unit_id, name="")
        session.add(household)
        await session.flush()
    return household


async def _out(session: AsyncSession, household: Household) -> HouseholdOut:
    members = await session.execute(
        select(Resident.id, Resident.name, Resident.type)
        .where(Resident.household_id == household.id)
        .order_by(Resident.id)
    )
    return HouseholdOut(
        id=household.id,
        site_id=household.site_id,
        unit_id=household.unit_id,
        name=household.name,
        # the type column holds one of ResidentType
        residents=[HouseholdMember(id=i, name=n, type=t) for i, n, t in members],  # type: ignore[arg-type]
        created_at=household.created_at,
    )


async def _visible(session: AsyncSession, scope: Scope, household_id: int) -> Household:
    household = await session.get(Household, household_id)
    if household is None:
        raise NotFoundError("household", household_id)
    scope.check("household", household_id, household.site_id, household.id)
    return household


@routes.get("/households", query=HouseholdQuery, response=HouseholdList, roles=HOUSEHOLD_ROLES)
async def list_households(request: web.Request, query: HouseholdQuery) -> HouseholdList:
    """List households in your scope (a resident: their own), optionally of a site or unit."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = (
        select(Household).where(scope.where(Household.site_id, Household.id)).order_by(Household.id)
    )
    if query.site_id is not None:
        stmt = stmt.where(Household.site_id == query.site_id)
    if query.unit_id is not None:
        stmt = stmt.where(Household.unit_id == query.unit_id)
    if query.building_id is not None:
        stmt = stmt.where(Household.unit_id.in_(
            select(Unit.id).where(Unit.building_id == query.building_id)))
    async with reading(request) as session:
        households = list(await session.scalars(stmt))
        # the members of all of them in one query (asked per household, 2,500 took seconds)
        members: dict[int, list[HouseholdMember]] = {h.id: [] for h in households}
        rows = await session.execute(
            select(Resident.household_id, Resident.id, Resident.name, Resident.type)
            .where(Resident.household_id.in_(stmt.with_only_columns(Household.id).order_by(None)))
            .order_by(Resident.id))
        for household_id, rid, name, kind in rows:
            if household_id in members:
                members[household_id].append(
                    HouseholdMember(id=rid, name=name, type=kind))  # type: ignore[arg-type]
        return HouseholdList(items=[
            HouseholdOut(id=h.id, site_id=h.site_id, unit_id=h.unit_id, name=h.name,
                         residents=members[h.id], created_at=h.created_at)
            for h in households])


@routes.post("/households", body=HouseholdCreate, response=HouseholdOut, status=201)
async def create_household(request: web.Request, body: HouseholdCreate) -> HouseholdOut:
    """Start the household of a unit (a unit has at most one)."""
    scope = scope_of(request)
    async with writing(request) as change:
        session = change.session
        site_id = await unit_site(session, body.unit_id)
        if site_id is None or not scope.sees(site_id):
            raise InvalidError.unknown("unit_id", "unit", body.unit_id)
        existing = await session.scalar(
            select(Household.id).where(Household.unit_id == body.unit_id)
        )
        if existing is not None:
            raise ConflictError(f"unit {body.unit_id} already has household {existing}", (
                "error.already_has", {"what": thing_word("unit"), "key": body.unit_id,
                                      "held": listing(("household", [existing]))}))
        household = Household(site_id=site_id, unit_id=body.unit_id, name=body.name)
        session.add(household)
        await session.flush()
        return await _out(session, household)


@routes.get(_ITEM, response=HouseholdOut, roles=HOUSEHOLD_ROLES)
async def get_household(request: web.Request) -> HouseholdOut:
    """One household with its residents."""
    async with reading(request) as session:
        household = await _visible(session, scope_of(request), path_id(request, "household"))
        return await _out(session, household)


@routes.patch(_ITEM, body=HouseholdUpdate, response=HouseholdOut)
async def update_household(request: web.Request, body: HouseholdUpdate) -> HouseholdOut:
    """Rename a household."""
    async with writing(request) as change:
        session = change.session
        household = await _visible(session, scope_of(request), path_id(request, "household"))
        if body.name is not None:
            household.name = body.name
        await session.flush()
        return await _out(session, household)


@routes.delete(_ITEM)
async def delete_household(request: web.Request) -> None:
    """Remove an empty household (409 while residents or resident users belong to it)."""
    async with writing(request) as change:
        session = change.session
        household = await _visible(session, scope_of(request), path_id(request, "household"))
        members = list(
            await session.scalars(select(Resident.id).where(Resident.household_id == household.id))
        )
        users = list(
            await session.scalars(select(User.username).where(User.household_id == household.id))
        )
        if members or users:
            raise ConflictError(
                f"household {household.id} still has residents {members} and users {users}",
                ("error.in_use", {"what": thing_word("household"), "key": household.id,
                                  "users": listing(("resident", members), ("user", users))}))
        await session.delete(household)
