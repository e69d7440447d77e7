"""Alarms for the guards' console: list with filters and keyset paging, one with its history
and comments, acknowledge, clear, comment. Guards, managers and admins act on them;
technicians read them; each change is pushed live on the `alarms` channel."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.api.alarms.schemas import (
    AlarmDetail,
    AlarmOut,
    AlarmPage,
    AlarmQuery,
    AlarmStepOut,
    CommentIn,
    CommentOut,
    NoteIn,
)
from hub.api.core.auth import OPERATOR_ROLES, STAFF_ROLES
from hub.api.core.crud import visible
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError
from hub.api.core.keys import CONFIG_PUBLISHER, CURRENT_USER, LIVE, SESSIONS
from hub.api.core.paging import newest_first, page_of
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.boards.notices import BOARD_FIRES, edges_with_boards
from hub.live import LiveItem
from hub.models import utcnow
from hub.rules import alarms as ops
from hub.rules.engine import LivePush
from hub.rules.models import Alarm, AlarmComment
from hub.texts import actor_text, localize, reader_language, render_or, word

routes = EndpointTable(tag="alarms")
_ITEM = r"/alarms/{id:\d+}"


def alarm_out(alarm: Alarm) -> AlarmOut:
    """The alarm with its message in the reader's language."""
    return AlarmOut.model_validate(localize(ops.alarm_data(alarm), reader_language()))


async def publish(request: web.Request, pushes: list[LivePush]) -> None:
    """Push to the live feed after the commit (best effort; clients reload on reconnect)."""
    if pushes:
        await request.app[LIVE].publish([
            LiveItem(channel=p.channel, data=p.data, site_id=p.site_id,
                     building_id=p.building_id, household_id=p.household_id) for p in pushes])


@routes.get("/alarms", query=AlarmQuery, response=AlarmPage, roles=STAFF_ROLES)
async def list_alarms(request: web.Request, query: AlarmQuery) -> AlarmPage:
    """Alarms of your site, newest first; pass `next_cursor` back as `cursor` for more."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = select(Alarm).where(scope.where(Alarm.site_id))
    for column, value in ((Alarm.site_id, query.site_id), (Alarm.building_id, query.building_id),
                          (Alarm.state, query.state), (Alarm.severity, query.severity),
                          (Alarm.type, query.type), (Alarm.device_id, query.device_id),
                          (Alarm.door_id, query.door_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.open is not None:
        stmt = stmt.where(Alarm.cleared_at.is_(None) if query.open
                          else Alarm.cleared_at.is_not(None))
    if query.since is not None:
        stmt = stmt.where(Alarm.raised_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(Alarm.raised_at < query.until)
    stmt = newest_first(stmt, Alarm.raised_at, Alarm.id, query.cursor, int, query.limit)
    async with reading(request) as session:
        rows = list(await session.scalars(stmt))
    page, next_cursor = page_of(rows, query.limit, lambda a: (a.raised_at, a.id))
    return AlarmPage(items=[alarm_out(a) for a in page], next_cursor=next_cursor)


@routes.get(_ITEM, response=AlarmDetail, roles=STAFF_ROLES)
async def get_alarm(request: web.Request) -> AlarmDetail:
    """One alarm with its history (who raised, acknowledged, cleared it, when) and comments."""
    alarm_id = path_id(request, "alarm")
    async with reading(request) as session:
        alarm = await visible(session, request, Alarm, "alarm", alarm_id)
        steps = await ops.history(session, alarm)
        comments = list(await session.scalars(
            select(AlarmComment).where(AlarmComment.alarm_id == alarm_id)
            .order_by(AlarmComment.ts, AlarmComment.id)))
    lang = reader_language()
    return AlarmDetail(
        **localize(ops.alarm_data(alarm), lang),
        history=[AlarmStepOut(ts=s.ts, action=s.action, actor=s.actor,
                              actor_text=actor_text(s.actor, lang),
                              note=render_or(s.note_code, s.note_params, lang, s.note or "")
                              if s.note_code else s.note) for s in steps],
        comments=[CommentOut(id=c.id, ts=c.ts, author=c.author, text=c.text) for c in comments])


async def _change(request: web.Request, what: str, note: str | None) -> AlarmOut:
    alarm_id = path_id(request, "alarm")
    user = request[CURRENT_USER]
    async with request.app[SESSIONS]() as session, session.begin():
        # the row lock makes two guards acknowledging at once answer 200 and 409
        alarm = await visible(session, request, Alarm, "alarm", alarm_id, lock=True)
        change = ops.acknowledge if what == "acknowledged" else ops.clear
        if not await change(session, alarm, user.username, note, utcnow()):
            raise ConflictError(
                f"alarm {alarm_id} is {alarm.state}; it cannot be {what}",
                ("error.alarm_state", {"state": word(f"alarm_state.{alarm.state}", alarm.state),
                                       "what": word(f"alarm_state.{what}", what)}))
        await session.flush()
        data: dict[str, Any] = ops.alarm_data(alarm)
        boards = (await edges_with_boards(session, alarm.site_id, None)
                  if what == "cleared" and alarm.type in BOARD_FIRES else [])
    await publish(request, [LivePush("alarms", {"event": what, "alarm": data}, data["site_id"],
                                     data["building_id"])])
    publisher = request.app.get(CONFIG_PUBLISHER)
    if publisher is not None and boards:  # the site's boards leave the fire instruction
        publisher.edges_changed(data["site_id"], boards)
    return AlarmOut.model_validate(localize(data, reader_language()))


@routes.post(_ITEM + "/acknowledge", body=NoteIn, response=AlarmOut, roles=OPERATOR_ROLES)
async def acknowledge_alarm(request: web.Request, body: NoteIn) -> AlarmOut:
    """Acknowledge an active alarm (409 if it is not active): you are on it."""
    return await _change(request, "acknowledged", body.note)


@routes.post(_ITEM + "/clear", body=NoteIn, response=AlarmOut, roles=OPERATOR_ROLES)
async def clear_alarm(request: web.Request, body: NoteIn) -> AlarmOut:
    """Clear an alarm by hand (409 if already cleared); a new trigger opens a new one."""
    return await _change(request, "cleared", body.note)


@routes.post(_ITEM + "/comments", body=CommentIn, response=CommentOut, status=201,
             roles=OPERATOR_ROLES)
async def comment_alarm(request: web.Request, body: CommentIn) -> CommentOut:
    """Add a comment to an alarm (any state)."""
    alarm_id = path_id(request, "alarm")
    user = request[CURRENT_USER]
    async with request.app[SESSIONS]() as session, session.begin():
        alarm = await visible(session, request, Alarm, "alarm", alarm_id)
        comment = AlarmComment(alarm_id=alarm_id, ts=utcnow(), author=user.username,
                               text=body.text)
        session.add(comment)
        await session.flush()
        out = CommentOut(id=comment.id, ts=comment.ts, author=comment.author, text=comment.text)
        site, building = alarm.site_id, alarm.building_id
    await publish(request, [LivePush("alarms", {"event": "commented", "alarm_id": alarm_id,
                                                "comment": out.model_dump(mode="json")},
                                     site, building)])
    return out
