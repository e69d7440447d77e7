"""Notices to a site, a building or a unit, valid from / to. Managers post and withdraw
them; residents read those for their unit, building and site that are valid now; staff
read all of their site's. Rules post them too (an elevator out of service)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.alarms.routes import publish
from hub.api.alarms.schemas import NoticeCreate, NoticeList, NoticeOut, NoticeQuery
from hub.api.core.auth import HOUSEHOLD_ROLES
from hub.api.core.crud import visible
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import InvalidError, NotFoundError
from hub.api.core.keys import CONFIG_PUBLISHER, CURRENT_USER
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading, require_site, writing
from hub.boards.notices import edges_with_boards
from hub.models import Building, Household, Unit, utcnow
from hub.rules.alarms import notice_data
from hub.rules.engine import LivePush
from hub.rules.models import Notice
from hub.texts import localize, reader_language

routes = EndpointTable(tag="notices")
_ITEM = r"/notices/{id:\d+}"


def _out(notice: Notice) -> NoticeOut:
    return NoticeOut.model_validate(localize(notice_data(notice), reader_language()))


def _current(now: datetime) -> ColumnElement[bool]:
    return and_(Notice.valid_from <= now,
                or_(Notice.valid_until.is_(None), Notice.valid_until > now))


async def _audience(session: AsyncSession, scope: Scope, now: datetime) -> ColumnElement[bool]:
    """Which notices the user may read: a resident those valid now for their unit, its
    building or its site; staff their site's; the admin all."""
    if not scope.is_resident:
        return scope.where(Notice.site_id)
    home = (await session.execute(
        select(Household.site_id, Household.unit_id, Unit.building_id)
        .join(Unit, Unit.id == Household.unit_id)
        .where(Household.id == scope.household_id))).first()
    if home is None:
        return Notice.id.is_(None)  # no household: nothing
    site, unit, building = home
    return and_(
        Notice.site_id == site,
        or_(Notice.building_id.is_(None), Notice.building_id == building),
        or_(Notice.unit_id.is_(None), Notice.unit_id == unit),
        _current(now))


@routes.get("/notices", query=NoticeQuery, response=NoticeList, roles=HOUSEHOLD_ROLES)
async def list_notices(request: web.Request, query: NoticeQuery) -> NoticeList:
    """Notices you may read, newest first (residents: those valid now for their home)."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    now = utcnow()
    async with reading(request) as session:
        stmt = select(Notice).where(await _audience(session, scope, now))
        for column, value in ((Notice.site_id, query.site_id),
                              (Notice.building_id, query.building_id),
                              (Notice.unit_id, query.unit_id)):
            if value is not None:
                stmt = stmt.where(column == value)
        if query.current is not None:
            stmt = stmt.where(_current(now) if query.current else ~_current(now))
        stmt = stmt.order_by(Notice.valid_from.desc(), Notice.id.desc()).limit(query.limit)
        rows = list(await session.scalars(stmt))
    return NoticeList(items=[_out(n) for n in rows])


@routes.get(_ITEM, response=NoticeOut, roles=HOUSEHOLD_ROLES)
async def get_notice(request: web.Request) -> NoticeOut:
    """One notice."""
    notice_id = path_id(request, "notice")
    async with reading(request) as session:
        notice = await session.scalar(select(Notice).where(
            Notice.id == notice_id, await _audience(session, scope_of(request), utcnow())))
    if notice is None:
        raise NotFoundError("notice", notice_id)
    return _out(notice)


@routes.post("/notices", body=NoticeCreate, response=NoticeOut, status=201)
async def post_notice(request: web.Request, body: NoticeCreate) -> NoticeOut:
    """Post a notice to a site, one of its buildings, or one unit; one whose validity has
    already ended is refused (nobody would ever see it)."""
    scope_of(request).claim_site(body.site_id)
    now = utcnow()
    if body.valid_until is not None and body.valid_until <= now:
        raise InvalidError.one("valid_until", f"{body.valid_until.isoformat()} is already past; "
                                              "a notice must still be valid when posted",
                               "invalid.past", when=body.valid_until.isoformat(timespec="minutes"))
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        building = body.building_id
        if building is not None and await session.scalar(select(Building.site_id).where(
                Building.id == building)) != body.site_id:
            raise InvalidError.unknown("building_id", "building", building,
                                       f"no building {building} in {body.site_id!r}")
        if body.unit_id is not None:
            found = (await session.execute(
                select(Unit.building_id, Building.site_id)
                .join(Building, Building.id == Unit.building_id)
                .where(Unit.id == body.unit_id))).first()
            if found is None or found[1] != body.site_id:
                raise InvalidError.unknown("unit_id", "unit", body.unit_id,
                                           f"no unit {body.unit_id} in {body.site_id!r}")
            if building is not None and found[0] != building:
                raise InvalidError.unknown("unit_id", "unit", body.unit_id,
                                           f"unit {body.unit_id} is not in building {building}")
            building = found[0]
        if body.on_boards and body.unit_id is not None:
            raise InvalidError.one("on_boards", "a unit's notice is not shown on the boards; "
                                                "post it to the building or the site",
                                   "invalid.unit_notice_on_boards")
        notice = Notice(site_id=body.site_id, building_id=building, unit_id=body.unit_id,
                        title=body.title, body=body.body, valid_from=body.valid_from or now,
                        valid_until=body.valid_until, source="manual",
                        on_boards=body.on_boards, created_by=request[CURRENT_USER].username,
                        created_at=now)
        session.add(notice)
        await session.flush()
        out = _out(notice)
        household = None if body.unit_id is None else await session.scalar(
            select(Household.id).where(Household.unit_id == body.unit_id))
        boards = (await edges_with_boards(session, body.site_id, building)
                  if body.on_boards else [])
    _to_boards(request, body.site_id, boards)
    if out.valid_from <= now:
        await publish(request, [LivePush("notices", out.model_dump(mode="json"), out.site_id,
                                         out.building_id, household)])
    return out


@routes.delete(_ITEM)
async def withdraw_notice(request: web.Request) -> None:
    """Withdraw a notice."""
    notice_id = path_id(request, "notice")
    async with writing(request) as change:
        notice = await visible(change.session, request, Notice, "notice", notice_id)
        boards = (await edges_with_boards(change.session, notice.site_id, notice.building_id)
                  if notice.on_boards else [])
        site_id = notice.site_id
        await change.session.delete(notice)
    _to_boards(request, site_id, boards)  # it leaves the boards at once


def _to_boards(request: web.Request, site_id: str, edges: list[int]) -> None:
    """After the commit: the edges whose boards show the notice get their configuration again
    (the notices ride in it, signed)."""
    publisher = request.app.get(CONFIG_PUBLISHER)
    if publisher is not None and edges:
        publisher.edges_changed(site_id, edges)
