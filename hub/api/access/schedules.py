"""Weekly schedules; windows are `wire.TimeWindow`s in the site's local time."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hub.api.access.schemas import ScheduleCreate, ScheduleList, ScheduleOut, ScheduleUpdate
from hub.api.core.crud import refuse_taken, scoped_get, scoped_list, visible
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import ConflictError, listing, thing_word
from hub.api.core.schemas import SiteQuery
from hub.api.core.scope import scope_of
from hub.api.core.store import require_site, writing
from hub.models import AccessGroup, Door, Schedule
from wire import TimeWindow

routes = EndpointTable(tag="schedules")
_ITEM = r"/schedules/{id:\d+}"


def _stored(windows: list[TimeWindow]) -> list[dict[str, object]]:
    return [w.model_dump(mode="json") for w in windows]


@routes.get("/schedules", query=SiteQuery, response=ScheduleList)
async def list_schedules(request: web.Request, query: SiteQuery) -> ScheduleList:
    """List schedules, optionally of one site."""
    stmt = select(Schedule).order_by(Schedule.id)
    return ScheduleList(items=await scoped_list(request, stmt, Schedule, ScheduleOut,
                                                query.site_id))


@routes.post("/schedules", body=ScheduleCreate, response=ScheduleOut, status=201)
async def create_schedule(request: web.Request, body: ScheduleCreate) -> ScheduleOut:
    """Add a schedule."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        await refuse_taken(session, Schedule, "schedule", site_id=body.site_id, name=body.name)
        schedule = Schedule(site_id=body.site_id, name=body.name, windows=_stored(body.windows))
        session.add(schedule)
        await session.flush()
        change.sites.add(schedule.site_id)
        return ScheduleOut.model_validate(schedule)


@routes.get(_ITEM, response=ScheduleOut)
async def get_schedule(request: web.Request) -> ScheduleOut:
    """One schedule."""
    return await scoped_get(request, Schedule, "schedule", ScheduleOut)


@routes.patch(_ITEM, body=ScheduleUpdate, response=ScheduleOut)
async def update_schedule(request: web.Request, body: ScheduleUpdate) -> ScheduleOut:
    """Rename a schedule or replace its windows."""
    async with writing(request) as change:
        session = change.session
        schedule = await visible(session, request, Schedule, "schedule")
        if body.name is not None and body.name != schedule.name:
            await refuse_taken(session, Schedule, "schedule", schedule.id,
                               site_id=schedule.site_id, name=body.name)
            schedule.name = body.name
        if body.windows is not None:
            schedule.windows = _stored(body.windows)
        await session.flush()
        change.sites.add(schedule.site_id)
        return ScheduleOut.model_validate(schedule)


@routes.delete(_ITEM)
async def delete_schedule(request: web.Request) -> None:
    """Remove a schedule no access group uses (409 names the groups that still do)."""
    async with writing(request) as change:
        session = change.session
        schedule = await visible(session, request, Schedule, "schedule")
        # Unlinking would silently widen those groups to "at all times": refuse instead.
        users = list(
            await session.scalars(
                select(AccessGroup.id)
                .where(
                    (AccessGroup.schedule_id == schedule.id)
                    | (AccessGroup.holiday_schedule_id == schedule.id)
                )
                .order_by(AccessGroup.id)
            )
        )
        if users:
            raise ConflictError(f"schedule {schedule.id} is used by access groups {users}", (
                "error.in_use", {"what": thing_word("schedule"), "key": schedule.id,
                                 "users": listing(("access group", users))}))
        doors = list(await session.scalars(
            select(Door.name).where(Door.unlock_schedule_id == schedule.id).order_by(Door.name)
        ))
        if doors:
            raise ConflictError(f"schedule {schedule.id} unlocks doors {doors}", (
                "error.in_use", {"what": thing_word("schedule"), "key": schedule.id,
                                 "users": listing(("door", doors))}))
        await session.delete(schedule)
        change.sites.add(schedule.site_id)
