"""Guard patrol: managers define checkpoints and routes and see every round; guards enrol
their phone key, start rounds and post their own readings (queued offline ones later, in a
batch: each reading's id is its key, so a resend changes nothing). A reading that does not
prove presence is refused (403) and raised as an alarm (docs/patrol.md)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import ColumnElement, func, select

from hub.api.alarms.reports import MANAGERS, PRODUCES
from hub.api.alarms.reports import _answer as report_answer
from hub.api.alarms.schemas import ReportQuery
from hub.api.core.auth import OPERATOR_ROLES
from hub.api.core.crud import visible
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ApiError, ConflictError, ForbiddenError, InvalidError, NotFoundError
from hub.api.core.keys import CURRENT_USER, LIVE, SESSIONS
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, writing
from hub.api.patrol.schemas import (
    CheckpointCreate,
    CheckpointList,
    CheckpointOut,
    GuardCardCreate,
    GuardCardOut,
    GuardKeyCreate,
    GuardKeyOut,
    PatrolExceptionRow,
    PatrolExceptions,
    PatrolReport,
    PatrolReportRow,
    ReadingOut,
    ReadingsPost,
    RoundList,
    RoundOut,
    RoundQuery,
    RoundStart,
    RouteCreate,
    RouteList,
    RouteOut,
    StopOut,
)
from hub.live import LiveItem
from hub.models import Door, utcnow
from hub.patrol.models import (
    Checkpoint,
    GuardKey,
    Reading,
    Round,
    Route,
)
from hub.patrol.registry import Stop, add_checkpoint, add_guard_card, add_route
from hub.patrol.report import exception_rows, report_rows
from hub.patrol.rounds import (
    PatrolError,
    ReadingIn,
    ReadingRefused,
    record_reading,
    refusal_alarm,
    start_round,
    stops_of,
)

routes = EndpointTable(tag="patrol")
_GUARD_ONLY = frozenset({"guard"})


def _checkpoint(row: Checkpoint, door: str | None, secret: str | None = None) -> CheckpointOut:
    return CheckpointOut(id=row.id, site_id=row.site_id, code=row.code, name=row.name,
                         name_zh=row.name_zh, location=row.location, kind=row.kind, door=door,
                         secret=secret)


def _invalid(exc: PatrolError) -> ApiError:
    if exc.status == 409:
        return ConflictError(exc.reason, (exc.code, exc.params))
    return InvalidError.one(exc.field, exc.reason, exc.code, **exc.params)


@routes.post("/patrol/checkpoints", body=CheckpointCreate, response=CheckpointOut, status=201)
async def post_checkpoint(request: web.Request, body: CheckpointCreate) -> CheckpointOut:
    """Add a checkpoint: a rotating-code display (its secret is shown this once), or a door
    whose reader reads guards' cards as this checkpoint."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        try:
            row = await add_checkpoint(change.session, body.site_id, body.code, body.name,
                                       name_zh=body.name_zh, location=body.location,
                                       kind=body.kind, door=body.door)
        except PatrolError as exc:
            raise _invalid(exc) from exc
        return _checkpoint(row, body.door, row.secret)


@routes.get("/patrol/checkpoints", response=CheckpointList)
async def list_checkpoints(request: web.Request) -> CheckpointList:
    """The checkpoints of your site (their secrets are never shown again)."""
    scope = scope_of(request)
    async with reading(request) as session:
        rows = await session.execute(
            select(Checkpoint, Door.name).outerjoin(Door, Door.id == Checkpoint.door_id)
            .where(scope.where(Checkpoint.site_id))
            .order_by(Checkpoint.site_id, Checkpoint.code))
        return CheckpointList(items=[_checkpoint(c, door) for c, door in rows])


async def _route_out(request: web.Request, route_id: int) -> RouteOut:
    async with reading(request) as session:
        route = await session.get(Route, route_id)
        assert route is not None
        stops = await stops_of(session, route_id)
        waiting = await session.scalar(select(func.min(Round.started_at)).where(
            Round.route_id == route_id, Round.state == "open", Round.guard.is_(None)))
    return RouteOut(id=route.id, site_id=route.site_id, code=route.code, name=route.name,
                    name_zh=route.name_zh, every_min=route.every_min,
                    from_hour=route.from_hour, to_hour=route.to_hour,
                    stops=[StopOut(checkpoint=c.code, allowance_s=s.allowance_s)
                           for s, c in stops], waiting_since=waiting)


@routes.post("/patrol/routes", body=RouteCreate, response=RouteOut, status=201)
async def post_route(request: web.Request, body: RouteCreate) -> RouteOut:
    """Define a route: its checkpoints in order, each with its time allowance, and when it
    runs (every `every_min` minutes from `from_hour` to `to_hour`, site time; or on demand)."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        try:
            route = await add_route(
                change.session, body.site_id, body.code, body.name,
                [Stop(s.checkpoint, s.allowance_s) for s in body.stops], name_zh=body.name_zh,
                every_min=body.every_min, from_hour=body.from_hour, to_hour=body.to_hour)
        except PatrolError as exc:
            raise _invalid(exc) from exc
        route_id = route.id
    return await _route_out(request, route_id)


@routes.get("/patrol/routes", response=RouteList)
async def list_routes(request: web.Request) -> RouteList:
    """The routes of your site."""
    scope = scope_of(request)
    async with reading(request) as session:
        ids = list(await session.scalars(select(Route.id).where(scope.where(Route.site_id))
                                         .order_by(Route.site_id, Route.code)))
    return RouteList(items=[await _route_out(request, i) for i in ids])


@routes.post("/patrol/keys", body=GuardKeyCreate, response=GuardKeyOut, status=201,
             roles=_GUARD_ONLY)
async def post_key(request: web.Request, body: GuardKeyCreate) -> GuardKeyOut:
    """Enrol your phone's key (a guard): it signs your readings."""
    user = request[CURRENT_USER]
    async with writing(request) as change:
        session = change.session
        if await session.scalar(select(GuardKey.id).where(
                GuardKey.public_key == body.public_key)) is not None:
            raise ConflictError("this key is already enrolled", ("error.key_registered", {}))
        row = GuardKey(user_id=user.id, public_key=body.public_key, created_at=utcnow())
        session.add(row)
        await session.flush()
        return GuardKeyOut(id=row.id, public_key=row.public_key)


@routes.post("/patrol/cards", body=GuardCardCreate, response=GuardCardOut, status=201)
async def post_card(request: web.Request, body: GuardCardCreate) -> GuardCardOut:
    """Give a guard a card for the door readers in checkpoint mode."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        try:
            row = await add_guard_card(change.session, body.site_id, body.username,
                                       body.card_number)
        except PatrolError as exc:
            raise _invalid(exc) from exc
        return GuardCardOut(id=row.id, site_id=row.site_id, username=body.username,
                            card_number=row.card_number)


async def _round_out(request: web.Request, round_id: int) -> RoundOut:
    (out,) = await _rounds_out(request, [round_id])
    return out


async def _rounds_out(request: web.Request, round_ids: list[int]) -> list[RoundOut]:
    """The rounds with their readings, in the order given (two queries, whatever the count:
    the supervisors' consoles reload the list on every push)."""
    async with reading(request) as session:
        rows = {r.id: r for r in await session.scalars(select(Round).where(
            Round.id.in_(round_ids)))}
        readings: dict[int, list[ReadingOut]] = {}
        for r in await session.scalars(select(Reading).where(Reading.round_id.in_(round_ids))
                                       .order_by(Reading.ts, Reading.id)):
            readings.setdefault(r.round_id, []).append(ReadingOut(
                id=r.id, checkpoint_id=r.checkpoint_id, position=r.position, ts=r.ts,
                late=r.late, out_of_order=r.out_of_order))
    return [RoundOut(id=row.id, site_id=row.site_id, route_id=row.route_id, guard=row.guard,
                     started_at=row.started_at, deadline=row.deadline, state=row.state,
                     finished_at=row.finished_at, readings=readings.get(row.id, []))
            for row in (rows[i] for i in round_ids)]


@routes.post("/patrol/rounds", body=RoundStart, response=RoundOut, status=201,
             roles=_GUARD_ONLY)
async def post_round(request: web.Request, body: RoundStart) -> RoundOut:
    """Start a round of a route (a guard): takes its scheduled round, or starts one now."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        route = await session.scalar(select(Route).where(Route.site_id == body.site_id,
                                                         Route.code == body.route))
        if route is None:
            raise InvalidError.unknown("route", "route", body.route,
                                       f"no route {body.route!r} in {body.site_id!r}")
        try:
            row = await start_round(session, route, request[CURRENT_USER].username, utcnow())
        except PatrolError as exc:
            raise _invalid(exc) from exc
        round_id = row.id
    return await _pushed(request, await _round_out(request, round_id))


async def _pushed(request: web.Request, out: RoundOut) -> RoundOut:
    """Tell the supervisors' consoles (live channel `patrol`) the round changed, once it is
    committed."""
    await request.app[LIVE].publish([LiveItem("patrol", {
        "round": out.id, "state": out.state, "guard": out.guard, "readings": len(out.readings)},
        out.site_id)])
    return out


@routes.get("/patrol/rounds", query=RoundQuery, response=RoundList, roles=OPERATOR_ROLES)
async def list_rounds(request: web.Request, query: RoundQuery) -> RoundList:
    """Rounds, newest first: a guard sees their own, managers all of their site's."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    user = request[CURRENT_USER]
    stmt = select(Round.id).where(scope.where(Round.site_id))
    if user.role == "guard":
        stmt = stmt.where(Round.guard == user.username)
    if query.site_id is not None:
        stmt = stmt.where(Round.site_id == query.site_id)
    if query.state is not None:
        stmt = stmt.where(Round.state == query.state)
    async with reading(request) as session:
        ids = list(await session.scalars(stmt.order_by(Round.started_at.desc(), Round.id.desc())
                                         .limit(query.limit)))
    return RoundList(items=await _rounds_out(request, ids))


@routes.get(r"/patrol/rounds/{id:\d+}", response=RoundOut, roles=OPERATOR_ROLES)
async def get_round(request: web.Request) -> RoundOut:
    """One round with its readings."""
    round_id = path_id(request, "round")
    user = request[CURRENT_USER]
    async with reading(request) as session:
        row = await session.get(Round, round_id)
    if row is None or not scope_of(request).sees(row.site_id) or (
            user.role == "guard" and row.guard != user.username):
        raise NotFoundError("round", round_id)
    return await _round_out(request, round_id)


@routes.post(r"/patrol/rounds/{id:\d+}/readings", body=ReadingsPost, response=RoundOut,
             roles=_GUARD_ONLY)
async def post_readings(request: web.Request, body: ReadingsPost) -> RoundOut:
    """Record your readings, in the order read (a queue sent when back online): each is
    checked and stored once; a forged or replayed one refuses the rest and raises an alarm."""
    round_id = path_id(request, "round")
    guard = request[CURRENT_USER].username
    refused: tuple[str, str] | None = None
    async with writing(request) as change:
        session = change.session
        row = await visible(session, request, Round, "round", round_id)
        site = row.site_id
        try:
            for n, item in enumerate(sorted(body.readings, key=lambda r: r.ts)):
                try:
                    await record_reading(session, row, guard, ReadingIn(
                        id=item.id, checkpoint=item.checkpoint, ts=item.ts, code=item.code,
                        signature=item.signature), utcnow())
                except PatrolError as exc:
                    if exc.status == 403:
                        raise ForbiddenError(exc.reason, (exc.code, exc.params)) from exc
                    if exc.status == 409:
                        raise ConflictError(f"readings.{n}: {exc.reason}", (
                            "error.patrol_reading", {"n": n + 1, "reason": {
                                "code": exc.code, "params": exc.params}})) from exc
                    raise InvalidError.one(f"readings.{n}.{exc.field}", exc.reason, exc.code,
                                           **exc.params) from exc
        except ReadingRefused as exc:
            refused = (site, exc.reason)
            raise _Refused(exc.reason, (f"error.patrol_refused.{exc.kind}", {})) from exc
        finally:
            if refused is not None:  # the refusal is kept though the readings are not
                async with request.app[SESSIONS]() as other, other.begin():
                    await refusal_alarm(other, refused[0], guard, refused[1], utcnow())
    return await _pushed(request, await _round_out(request, round_id))


@routes.get("/patrol/report", query=ReportQuery, response=PatrolReport, roles=MANAGERS,
            produces=PRODUCES)
async def patrol_report(request: web.Request, query: ReportQuery) -> PatrolReport | web.Response:
    """Rounds per route and guard (started in the window): completion rate and exceptions;
    JSON, or CSV with `?format=csv`."""
    async with reading(request) as session:
        rows = await report_rows(session, _report_where(request, query))
    items = [PatrolReportRow(
        site_id=r.site_id, route=r.route, guard=r.guard, rounds=r.rounds, completed=r.completed,
        incomplete=r.incomplete, open=r.open, completion_rate=r.completion_rate,
        missed=r.missed, stalled=r.stalled, late=r.late, out_of_order=r.out_of_order)
        for r in rows]
    return report_answer(request, query, PatrolReport(items=items), "patrol-rounds")


def _report_where(request: web.Request, query: ReportQuery) -> list[ColumnElement[bool]]:
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    where = [scope.where(Round.site_id)]
    if query.site_id is not None:
        where.append(Round.site_id == query.site_id)
    if query.since is not None:
        where.append(Round.started_at >= query.since)
    if query.until is not None:
        where.append(Round.started_at < query.until)
    return where


@routes.get("/patrol/exceptions", query=ReportQuery, response=PatrolExceptions, roles=MANAGERS,
            produces=PRODUCES)
async def patrol_exceptions(request: web.Request, query: ReportQuery
                            ) -> PatrolExceptions | web.Response:
    """Missed checkpoints and stopped guards of the rounds started in the window, newest
    first (at most 1000); JSON, or CSV with `?format=csv`."""
    where = _report_where(request, query)
    async with reading(request) as session:
        rows = await exception_rows(session, where, limit=1000)
    items = [PatrolExceptionRow(at=r.at, round=r.round_id, route=r.route, guard=r.guard,
                                kind=r.kind, checkpoint=r.checkpoint,
                                checkpoint_name=r.checkpoint_name,
                                checkpoint_name_zh=r.checkpoint_name_zh) for r in rows]
    return report_answer(request, query, PatrolExceptions(items=items), "patrol-exceptions")


class _Refused(ApiError):
    status = 403
    code = "reading_refused"


__all__ = ["routes"]
