"""Weekly schedules; windows are `wire.TimeWindow`s in the site's local time."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.endpoints import EndpointTable, path_id
from hub.api.errors import ConflictError
from hub.api.schemas import ScheduleCreate, ScheduleList, ScheduleOut, ScheduleUpdate, SiteQuery
from hub.api.scope import Scope, scope_of
from hub.api.store import get_or_404, reading, require_site, writing
from hub.models import AccessGroup, Door, Schedule
from wire import TimeWindow

routes = EndpointTable(tag="schedules")
_ITEM = r"/schedules/{id:\d+}"


def schedule_out(schedule: Schedule) -> ScheduleOut:
    return ScheduleOut(
        id=schedule.id,
        site_id=schedule.site_id,
        name=schedule.name,
        windows=[TimeWindow.model_validate(w) for w in schedule.windows],
    )


def _stored(windows: list[TimeWindow]) -> list[dict[str, object]]:
    return [w.model_dump(mode="json") for w in windows]


async def _refuse_duplicate(
    session: AsyncSession, site_id: str, name: str, except_id: int | None = None
) -> None:
    stmt = select(Schedule.id).where(Schedule.site_id == site_id, Schedule.name == name)
    if except_id is not None:
        stmt = stmt.where(Schedule.id != except_id)
    existing = await session.scalar(stmt)
    if existing is not None:
        raise ConflictError(f"schedule {existing} in site {site_id!r} is already named {name!r}")


async def _visible(session: AsyncSession, scope: Scope, schedule_id: int) -> Schedule:
    schedule = await get_or_404(session, Schedule, schedule_id, "schedule")
    scope.check("schedule", schedule_id, schedule.site_id)
    return schedule


@routes.get("/schedules", query=SiteQuery, response=ScheduleList)
async def list_schedules(request: web.Request, query: SiteQuery) -> ScheduleList:
    """List schedules, optionally of one site."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = select(Schedule).where(scope.where(Schedule.site_id)).order_by(Schedule.id)
    if query.site_id is not None:
        stmt = stmt.where(Schedule.site_id == query.site_id)
    async with reading(request) as session:
        return ScheduleList(items=[schedule_out(s) for s in await session.scalars(stmt)])


@routes.post("/schedules", body=ScheduleCreate, response=ScheduleOut, status=201)
async def create_schedule(request: web.Request, body: ScheduleCreate) -> ScheduleOut:
    """Add a schedule."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        await _refuse_duplicate(session, body.site_id, body.name)
        schedule = Schedule(site_id=body.site_id, name=body.name, windows=_stored(body.windows))
        session.add(schedule)
        await session.flush()
        change.sites.add(schedule.site_id)
        return schedule_out(schedule)


@routes.get(_ITEM, response=ScheduleOut)
async def get_schedule(request: web.Request) -> ScheduleOut:
    """One schedule."""
    async with reading(request) as session:
        return schedule_out(
            await _visible(session, scope_of(request), path_id(request, "schedule"))
        )


@routes.patch(_ITEM, body=ScheduleUpdate, response=ScheduleOut)
async def update_schedule(request: web.Request, body: ScheduleUpdate) -> ScheduleOut:
    """Rename a schedule or replace its windows."""
    async with writing(request) as change:
        session = change.session
        schedule = await _visible(session, scope_of(request), path_id(request, "schedule"))
        if body.name is not None and body.name != schedule.name:
            await _refuse_duplicate(session, schedule.site_id, body.name, except_id=schedule.id)
            schedule.name = body.name
        if body.windows is not None:
            schedule.windows = _stored(body.windows)
        await session.flush()
        change.sites.add(schedule.site_id)
        return schedule_out(schedule)


@routes.delete(_ITEM)
async def delete_schedule(request: web.Request) -> None:
    """Remove a schedule no access group uses (409 names the groups that still do)."""
    async with writing(request) as change:
        session = change.session
        schedule = await _visible(session, scope_of(request), path_id(request, "schedule"))
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
            raise ConflictError(f"schedule {schedule.id} is used by access groups {users}")
        doors = list(await session.scalars(
            select(Door.name).where(Door.unlock_schedule_id == schedule.id).order_by(Door.name)
        ))
        if doors:
            raise ConflictError(f"schedule {schedule.id} unlocks doors {doors}")
        await session.delete(schedule)
        change.sites.add(schedule.site_id)
