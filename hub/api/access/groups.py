"""Access groups: which doors, on which schedule; residents join them by id."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hub.api.access.schemas import (
    AccessGroupCreate,
    AccessGroupList,
    AccessGroupOut,
    AccessGroupUpdate,
)
from hub.api.core.crud import refuse_taken, scoped
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import InvalidError, NotFoundError
from hub.api.core.schemas import SiteQuery
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading, require_site, writing
from hub.models import AccessGroup, Door, Schedule, resident_groups
from wire.floors import floor_label, floor_list

routes = EndpointTable(tag="access-groups")
_ITEM = r"/access-groups/{id:\d+}"


def group_out(group: AccessGroup) -> AccessGroupOut:
    return AccessGroupOut(
        id=group.id,
        site_id=group.site_id,
        name=group.name,
        doors=sorted(d.name for d in group.doors),
        schedule_id=group.schedule_id,
        holiday_mode=group.holiday_mode,
        holiday_schedule_id=group.holiday_schedule_id,
        floors=group.floors or [],
        floor_labels=[floor_label(f) for f in group.floors or []],
    )


async def _load(session: AsyncSession, group_id: int, scope: Scope) -> AccessGroup:
    group = await session.scalar(
        select(AccessGroup)
        .options(selectinload(AccessGroup.doors))
        .where(AccessGroup.id == group_id)
        .execution_options(populate_existing=True)
    )
    if group is None:
        raise NotFoundError("access group", group_id)
    scope.check("access group", group_id, group.site_id)
    return group


async def _doors(session: AsyncSession, names: list[str], site_id: str) -> list[Door]:
    wanted = sorted(set(names))
    found = {
        d.name: d
        for d in await session.scalars(
            select(Door).where(Door.site_id == site_id, Door.name.in_(wanted))
        )
    }
    unknown = [n for n in wanted if n not in found]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        raise InvalidError.unknown("doors", "door", listed,
                                   f"unknown door {listed} in site {site_id!r}")
    return [found[n] for n in wanted]


async def _check_schedule(
    session: AsyncSession, schedule_id: int, site_id: str, field: str = "schedule_id"
) -> None:
    schedule_site = await session.scalar(select(Schedule.site_id).where(Schedule.id == schedule_id))
    if schedule_site is None:
        raise InvalidError.unknown(field, "schedule", schedule_id)
    if schedule_site != site_id:
        raise InvalidError.unknown(field, "schedule", schedule_id,
                                   f"schedule {schedule_id} belongs to another site")


def _check_holiday(mode: str, holiday_schedule_id: int | None) -> None:
    if mode == "schedule" and holiday_schedule_id is None:
        raise InvalidError.one("holiday_schedule_id", "holiday_mode 'schedule' needs a schedule",
                               "invalid.holiday_schedule")
    if mode != "schedule" and holiday_schedule_id is not None:
        raise InvalidError.one(
            "holiday_schedule_id", f"only with holiday_mode 'schedule', not {mode!r}",
            "invalid.holiday_schedule_only"
        )


@routes.get("/access-groups", query=SiteQuery, response=AccessGroupList)
async def list_groups(request: web.Request, query: SiteQuery) -> AccessGroupList:
    """List access groups, optionally of one site."""
    stmt = scoped(request, select(AccessGroup).options(selectinload(AccessGroup.doors))
                  .order_by(AccessGroup.id), AccessGroup, query.site_id)
    async with reading(request) as session:
        return AccessGroupList(items=[group_out(g) for g in await session.scalars(stmt)])


@routes.post("/access-groups", body=AccessGroupCreate, response=AccessGroupOut, status=201)
async def create_group(request: web.Request, body: AccessGroupCreate) -> AccessGroupOut:
    """Add an access group."""
    scope = scope_of(request)
    scope.claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        doors = await _doors(session, body.doors, body.site_id)
        if body.schedule_id is not None:
            await _check_schedule(session, body.schedule_id, body.site_id)
        _check_holiday(body.holiday_mode, body.holiday_schedule_id)
        if body.holiday_schedule_id is not None:
            await _check_schedule(session, body.holiday_schedule_id, body.site_id,
                                  "holiday_schedule_id")
        await refuse_taken(session, AccessGroup, "access group", site_id=body.site_id,
                           name=body.name)
        group = AccessGroup(
            site_id=body.site_id, name=body.name, schedule_id=body.schedule_id, doors=doors,
            holiday_mode=body.holiday_mode, holiday_schedule_id=body.holiday_schedule_id,
            floors=floor_list(body.floors),
        )
        session.add(group)
        await session.flush()
        change.sites.add(group.site_id)
        return group_out(await _load(session, group.id, scope))


@routes.get(_ITEM, response=AccessGroupOut)
async def get_group(request: web.Request) -> AccessGroupOut:
    """One access group."""
    async with reading(request) as session:
        return group_out(await _load(session, path_id(request, "access group"), scope_of(request)))


@routes.patch(_ITEM, body=AccessGroupUpdate, response=AccessGroupOut)
async def update_group(request: web.Request, body: AccessGroupUpdate) -> AccessGroupOut:
    """Change an access group; `doors` replaces the door list, `schedule_id: null` = always."""
    scope = scope_of(request)
    async with writing(request) as change:
        session = change.session
        group = await _load(session, path_id(request, "access group"), scope)
        given = body.model_fields_set
        if body.name is not None and body.name != group.name:
            await refuse_taken(session, AccessGroup, "access group", group.id,
                               site_id=group.site_id, name=body.name)
            group.name = body.name
        if body.doors is not None:
            group.doors = await _doors(session, body.doors, group.site_id)
        if body.floors is not None:
            group.floors = floor_list(body.floors)
        if "schedule_id" in given:
            if body.schedule_id is not None:
                await _check_schedule(session, body.schedule_id, group.site_id)
            group.schedule_id = body.schedule_id
        mode = body.holiday_mode if body.holiday_mode is not None else group.holiday_mode
        holiday_sid = (
            body.holiday_schedule_id if "holiday_schedule_id" in given
            else group.holiday_schedule_id if mode == "schedule" else None
        )
        _check_holiday(mode, holiday_sid)
        if holiday_sid is not None:
            await _check_schedule(session, holiday_sid, group.site_id, "holiday_schedule_id")
        group.holiday_mode, group.holiday_schedule_id = mode, holiday_sid
        await session.flush()
        change.sites.add(group.site_id)
        return group_out(await _load(session, group.id, scope))


@routes.delete(_ITEM)
async def delete_group(request: web.Request) -> None:
    """Remove an access group; its members simply lose it."""
    async with writing(request) as change:
        session = change.session
        group = await _load(session, path_id(request, "access group"), scope_of(request))
        # explicit, so SQLite without foreign-key enforcement ends up the same as PostgreSQL
        await session.execute(delete(resident_groups).where(resident_groups.c.group_id == group.id))
        await session.delete(group)
        change.sites.add(group.site_id)
