"""Guard patrol: managers define checkpoints and routes and see every round; guards enrol
their phone key, start rounds and post their own readings (queued offline ones later, in a
batch: each reading's id is its key, so a resend changes nothing). A reading that does not
prove presence is refused (403) and raised as an alarm (docs/patrol.md)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import Integer, func, select

from hub.api.alarm_schemas import ReportQuery
from hub.api.auth import OPERATOR_ROLES
from hub.api.endpoints import EndpointTable, path_id
from hub.api.errors import ApiError, ConflictError, ForbiddenError, InvalidError, NotFoundError
from hub.api.keys import CURRENT_USER, SESSIONS
from hub.api.patrol_schemas import (
    CheckpointCreate,
    CheckpointList,
    CheckpointOut,
    GuardCardCreate,
    GuardCardOut,
    GuardKeyCreate,
    GuardKeyOut,
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
    StopIn,
)
from hub.api.reports import MANAGERS, PRODUCES
from hub.api.reports import _answer as report_answer
from hub.api.scope import scope_of
from hub.api.store import reading, require_site, writing
from hub.models import Door, User, utcnow
from hub.patrol.models import (
    Checkpoint,
    GuardCard,
    GuardKey,
    Reading,
    Round,
    RoundException,
    Route,
    RouteStop,
)
from hub.patrol.proof import new_secret
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


def _checkpoint(row: Checkpoint, secret: str | None = None) -> CheckpointOut:
    return CheckpointOut(id=row.id, site_id=row.site_id, code=row.code, name=row.name,
                         name_zh=row.name_zh, location=row.location, kind=row.kind,
                         secret=secret)


@routes.post("/patrol/checkpoints", body=CheckpointCreate, response=CheckpointOut, status=201)
async def post_checkpoint(request: web.Request, body: CheckpointCreate) -> CheckpointOut:
    """Add a checkpoint: a rotating-code display (its secret is shown this once), or a door
    whose reader reads guards' cards as this checkpoint."""
    scope_of(request).claim_site(body.site_id)
    if (body.kind == "door") != (body.door is not None):
        raise InvalidError.one("door", "a door checkpoint names its door; a display none")
    secret = new_secret() if body.kind == "display" else None
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        door_id = None
        if body.door is not None:
            door_id = await session.scalar(select(Door.id).where(
                Door.site_id == body.site_id, Door.name == body.door))
            if door_id is None:
                raise InvalidError.one("door", f"no door {body.door!r} in {body.site_id!r}")
        if await session.scalar(select(Checkpoint.id).where(
                Checkpoint.site_id == body.site_id, Checkpoint.code == body.code)) is not None:
            raise ConflictError(f"checkpoint {body.code!r} exists in {body.site_id!r}")
        row = Checkpoint(site_id=body.site_id, code=body.code, name=body.name,
                         name_zh=body.name_zh, location=body.location, kind=body.kind,
                         secret=secret, door_id=door_id)
        session.add(row)
        await session.flush()
        return _checkpoint(row, secret)


@routes.get("/patrol/checkpoints", response=CheckpointList)
async def list_checkpoints(request: web.Request) -> CheckpointList:
    """The checkpoints of your site (their secrets are never shown again)."""
    scope = scope_of(request)
    async with reading(request) as session:
        rows = await session.scalars(select(Checkpoint).where(scope.where(Checkpoint.site_id))
                                     .order_by(Checkpoint.site_id, Checkpoint.code))
        return CheckpointList(items=[_checkpoint(r) for r in rows])


async def _route_out(request: web.Request, route_id: int) -> RouteOut:
    async with reading(request) as session:
        route = await session.get(Route, route_id)
        assert route is not None
        stops = await stops_of(session, route_id)
    return RouteOut(id=route.id, site_id=route.site_id, code=route.code, name=route.name,
                    name_zh=route.name_zh, every_min=route.every_min,
                    from_hour=route.from_hour, to_hour=route.to_hour,
                    stops=[StopIn(checkpoint=c.code, allowance_s=s.allowance_s)
                           for s, c in stops])


@routes.post("/patrol/routes", body=RouteCreate, response=RouteOut, status=201)
async def post_route(request: web.Request, body: RouteCreate) -> RouteOut:
    """Define a route: its checkpoints in order, each with its time allowance, and when it
    runs (every `every_min` minutes from `from_hour` to `to_hour`, site time; or on demand)."""
    scope_of(request).claim_site(body.site_id)
    if (body.every_min is None) != (body.from_hour is None) or (
            body.every_min is None) != (body.to_hour is None):
        raise InvalidError.one("every_min", "give every_min, from_hour and to_hour together")
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        if await session.scalar(select(Route.id).where(
                Route.site_id == body.site_id, Route.code == body.code)) is not None:
            raise ConflictError(f"route {body.code!r} exists in {body.site_id!r}")
        codes = [s.checkpoint for s in body.stops]
        if len(set(codes)) != len(codes):
            raise InvalidError.one("stops", "a checkpoint appears twice on the route")
        found = {c.code: c.id for c in await session.scalars(select(Checkpoint).where(
            Checkpoint.site_id == body.site_id, Checkpoint.code.in_(codes)))}
        for n, code in enumerate(codes):
            if code not in found:
                raise InvalidError.one(f"stops.{n}.checkpoint",
                                       f"no checkpoint {code!r} in {body.site_id!r}")
        route = Route(site_id=body.site_id, code=body.code, name=body.name,
                      name_zh=body.name_zh, every_min=body.every_min,
                      from_hour=body.from_hour, to_hour=body.to_hour)
        session.add(route)
        await session.flush()
        for n, stop in enumerate(body.stops, 1):
            session.add(RouteStop(route_id=route.id, position=n,
                                  checkpoint_id=found[stop.checkpoint],
                                  allowance_s=stop.allowance_s))
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
            raise ConflictError("this key is already enrolled")
        row = GuardKey(user_id=user.id, public_key=body.public_key, created_at=utcnow())
        session.add(row)
        await session.flush()
        return GuardKeyOut(id=row.id, public_key=row.public_key)


@routes.post("/patrol/cards", body=GuardCardCreate, response=GuardCardOut, status=201)
async def post_card(request: web.Request, body: GuardCardCreate) -> GuardCardOut:
    """Give a guard a card for the door readers in checkpoint mode."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        await require_site(session, body.site_id)
        user = await session.scalar(select(User).where(
            User.username == body.username, User.role == "guard",
            User.site_id == body.site_id))
        if user is None:
            raise InvalidError.one("username", f"no guard {body.username!r} in {body.site_id!r}")
        if await session.scalar(select(GuardCard.id).where(
                GuardCard.site_id == body.site_id,
                GuardCard.card_number == body.card_number)) is not None:
            raise ConflictError(f"card {body.card_number} is already a guard's")
        row = GuardCard(site_id=body.site_id, user_id=user.id, card_number=body.card_number)
        session.add(row)
        await session.flush()
        return GuardCardOut(id=row.id, site_id=row.site_id, username=user.username,
                            card_number=row.card_number)


async def _round_out(request: web.Request, round_id: int) -> RoundOut:
    async with reading(request) as session:
        row = await session.get(Round, round_id)
        assert row is not None
        readings = await session.scalars(select(Reading).where(Reading.round_id == round_id)
                                         .order_by(Reading.ts, Reading.id))
        return RoundOut(
            id=row.id, site_id=row.site_id, route_id=row.route_id, guard=row.guard,
            started_at=row.started_at, deadline=row.deadline, state=row.state,
            finished_at=row.finished_at,
            readings=[ReadingOut(id=r.id, checkpoint_id=r.checkpoint_id, position=r.position,
                                 ts=r.ts, late=r.late, out_of_order=r.out_of_order)
                      for r in readings])


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
            raise InvalidError.one("route", f"no route {body.route!r} in {body.site_id!r}")
        try:
            row = await start_round(session, route, request[CURRENT_USER].username, utcnow())
        except PatrolError as exc:
            raise InvalidError.one(exc.field, exc.reason) from exc
        round_id = row.id
    return await _round_out(request, round_id)


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
    return RoundList(items=[await _round_out(request, i) for i in ids])


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
        row = await session.get(Round, round_id)
        if row is None or not scope_of(request).sees(row.site_id):
            raise NotFoundError("round", round_id)
        site = row.site_id
        try:
            for n, item in enumerate(sorted(body.readings, key=lambda r: r.ts)):
                try:
                    await record_reading(session, row, guard, ReadingIn(
                        id=item.id, checkpoint=item.checkpoint, ts=item.ts, code=item.code,
                        signature=item.signature), utcnow())
                except PatrolError as exc:
                    if exc.status == 403:
                        raise ForbiddenError(exc.reason) from exc
                    if exc.status == 409:
                        raise ConflictError(f"readings.{n}: {exc.reason}") from exc
                    raise InvalidError.one(f"readings.{n}.{exc.field}", exc.reason) from exc
        except ReadingRefused as exc:
            refused = (site, exc.reason)
            raise _Refused(exc.reason) from exc
        finally:
            if refused is not None:  # the refusal is kept though the readings are not
                async with request.app[SESSIONS]() as other, other.begin():
                    await refusal_alarm(other, refused[0], guard, refused[1], utcnow())
    return await _round_out(request, round_id)


@routes.get("/patrol/report", query=ReportQuery, response=PatrolReport, roles=MANAGERS,
            produces=PRODUCES)
async def patrol_report(request: web.Request, query: ReportQuery) -> PatrolReport | web.Response:
    """Rounds per route and guard (started in the window): completion rate and exceptions;
    JSON, or CSV with `?format=csv`."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    where = [scope.where(Round.site_id)]
    if query.site_id is not None:
        where.append(Round.site_id == query.site_id)
    if query.since is not None:
        where.append(Round.started_at >= query.since)
    if query.until is not None:
        where.append(Round.started_at < query.until)
    key = (Round.site_id, Route.code, func.coalesce(Round.guard, "-"))
    rows: dict[tuple[str, str, str], dict[str, int]] = {}
    async with reading(request) as session:
        for site, route, guard, state, n in await session.execute(
                select(*key, Round.state, func.count()).join(Route, Route.id == Round.route_id)
                .where(*where).group_by(*key, Round.state)):
            rows.setdefault((site, route, guard), {})[state] = n
        for site, route, guard, kind, n in await session.execute(
                select(*key, RoundException.kind, func.count())
                .join(Round, Round.id == RoundException.round_id)
                .join(Route, Route.id == Round.route_id)
                .where(*where).group_by(*key, RoundException.kind)):
            rows.setdefault((site, route, guard), {})[kind] = n
        for site, route, guard, late, disorder in await session.execute(
                select(*key, func.sum(func.cast(Reading.late, Integer)),
                       func.sum(func.cast(Reading.out_of_order, Integer)))
                .join(Round, Round.id == Reading.round_id)
                .join(Route, Route.id == Round.route_id)
                .where(*where).group_by(*key)):
            entry = rows.setdefault((site, route, guard), {})
            entry["late"], entry["out_of_order"] = int(late or 0), int(disorder or 0)
    items = []
    for (site, route, guard), c in sorted(rows.items()):
        done, failed = c.get("completed", 0), c.get("incomplete", 0)
        items.append(PatrolReportRow(
            site_id=site, route=route, guard=guard, rounds=done + failed + c.get("open", 0),
            completed=done, incomplete=failed, open=c.get("open", 0),
            completion_rate=round(done / (done + failed), 3) if done + failed else 0.0,
            missed=c.get("missed", 0), stalled=c.get("stalled", 0), late=c.get("late", 0),
            out_of_order=c.get("out_of_order", 0)))
    return report_answer(request, query, PatrolReport(items=items), "patrol-rounds")


class _Refused(ApiError):
    status = 403
    code = "reading_refused"


__all__ = ["routes"]
