"""Access control settings beside the groups: the site holiday calendar, door modes and
anti-passback door pairs. Each write recompiles the snapshots of the edges it reaches."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.access.schemas import (
    HolidayCreate,
    HolidayList,
    HolidayOut,
    PassbackCreate,
    PassbackList,
    PassbackOut,
    PassbackUpdate,
)
from hub.api.core.crud import refuse_taken, scoped_delete, scoped_list, visible
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import InvalidError
from hub.api.core.schemas import SiteQuery
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, require_site, writing
from hub.models import AntiPassbackPair, Door, Holiday

routes = EndpointTable(tag="access")
_HOLIDAY = r"/holidays/{id:\d+}"
_PAIR = r"/anti-passback/{id:\d+}"
# permissions are kept by admins and site managers; guards and technicians only read them
_KEEPERS = frozenset({"admin", "company_admin", "manager"})


@routes.get("/holidays", query=SiteQuery, response=HolidayList)
async def list_holidays(request: web.Request, query: SiteQuery) -> HolidayList:
    """List holiday dates of your scope, optionally of one site."""
    stmt = select(Holiday).order_by(Holiday.site_id, Holiday.day)
    return HolidayList(items=await scoped_list(request, stmt, Holiday, HolidayOut,
                                               query.site_id))


@routes.post("/holidays", body=HolidayCreate, response=HolidayOut, status=201, roles=_KEEPERS)
async def create_holiday(request: web.Request, body: HolidayCreate) -> HolidayOut:
    """Add a date to the site's holiday calendar."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        await refuse_taken(session, Holiday, "holiday", site_id=body.site_id, day=body.day)
        holiday = Holiday(site_id=body.site_id, day=body.day, name=body.name)
        session.add(holiday)
        await session.flush()
        change.sites.add(body.site_id)
        return HolidayOut.model_validate(holiday)


@routes.delete(_HOLIDAY, roles=_KEEPERS)
async def delete_holiday(request: web.Request) -> None:
    """Remove a date from the holiday calendar."""
    await scoped_delete(request, Holiday, "holiday", recompile=True)


async def _pair_out(session: AsyncSession, pair: AntiPassbackPair) -> PassbackOut:
    names = dict((await session.execute(
        select(Door.id, Door.name).where(Door.id.in_([pair.entry_door_id, pair.exit_door_id]))
    )).all())
    return PassbackOut(
        id=pair.id, site_id=pair.site_id, name=pair.name,
        entry_door=names.get(pair.entry_door_id, ""), exit_door=names.get(pair.exit_door_id, ""),
        mode=pair.mode,
        reset_s=pair.reset_s,
    )


@routes.get("/anti-passback", query=SiteQuery, response=PassbackList)
async def list_passback(request: web.Request, query: SiteQuery) -> PassbackList:
    """List anti-passback door pairs of your scope, optionally of one site."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = (
        select(AntiPassbackPair)
        .where(scope.where(AntiPassbackPair.site_id))
        .order_by(AntiPassbackPair.id)
    )
    if query.site_id is not None:
        stmt = stmt.where(AntiPassbackPair.site_id == query.site_id)
    async with reading(request) as session:
        return PassbackList(items=[await _pair_out(session, p) for p in await session.scalars(stmt)])


@routes.post(
    "/anti-passback", body=PassbackCreate, response=PassbackOut, status=201, roles=_KEEPERS
)
async def create_passback(request: web.Request, body: PassbackCreate) -> PassbackOut:
    """Pair an entry and an exit door (on one edge) for anti-passback."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        if body.entry_door == body.exit_door:
            raise InvalidError.one("exit_door", "the exit must be another door than the entry",
                                   "invalid.exit_same_door")
        doors = {d.name: d for d in await session.scalars(select(Door).where(
            Door.site_id == body.site_id, Door.name.in_([body.entry_door, body.exit_door])))}
        for field, name in (("entry_door", body.entry_door), ("exit_door", body.exit_door)):
            if name not in doors:
                raise InvalidError.unknown(field, "door", name,
                                           f"unknown door {name!r} in site {body.site_id!r}")
        entry, exit_ = doors[body.entry_door], doors[body.exit_door]
        if entry.edge_id != exit_.edge_id:
            # the edge keeps each card's direction: both doors must be decided by the same edge
            raise InvalidError.one("exit_door", "entry and exit doors are on different edges",
                                   "invalid.exit_other_edge")
        await refuse_taken(session, AntiPassbackPair, "anti-passback pair", site_id=body.site_id,
                           name=body.name)
        pair = AntiPassbackPair(
            site_id=body.site_id, name=body.name, entry_door_id=entry.id, exit_door_id=exit_.id,
            mode=body.mode, reset_s=body.reset_s,
        )
        session.add(pair)
        await session.flush()
        await change.touch(body.site_id, doors=[entry.id])
        return await _pair_out(session, pair)


@routes.get(_PAIR, response=PassbackOut)
async def get_passback(request: web.Request) -> PassbackOut:
    """One anti-passback door pair."""
    async with reading(request) as session:
        pair = await visible(session, request, AntiPassbackPair, "pair")
        return await _pair_out(session, pair)


@routes.patch(_PAIR, body=PassbackUpdate, response=PassbackOut, roles=_KEEPERS)
async def update_passback(request: web.Request, body: PassbackUpdate) -> PassbackOut:
    """Rename a pair or change its mode or reset time (`reset_s: null` = never)."""
    async with writing(request) as change:
        session = change.session
        pair = await visible(session, request, AntiPassbackPair, "pair")
        given = body.model_fields_set
        if body.name is not None and body.name != pair.name:
            await refuse_taken(session, AntiPassbackPair, "anti-passback pair", pair.id,
                               site_id=pair.site_id, name=body.name)
            pair.name = body.name
        if body.mode is not None:
            pair.mode = body.mode
        if "reset_s" in given:
            pair.reset_s = body.reset_s
        await session.flush()
        await change.touch(pair.site_id, doors=[pair.entry_door_id])
        return await _pair_out(session, pair)


@routes.delete(_PAIR, roles=_KEEPERS)
async def delete_passback(request: web.Request) -> None:
    """Remove an anti-passback pair."""
    async with writing(request) as change:
        pair = await visible(change.session, request, AntiPassbackPair, "pair")
        await change.touch(pair.site_id, doors=[pair.entry_door_id])
        await change.session.delete(pair)
