"""Rounds: starting one, recording a reading, and the sweep that closes rounds at their
deadline and raises the missed-checkpoint and stopped-guard alarms.

Every step is safe in several hub workers at once: a scheduled round is keyed by (route,
slot); a reading by the phone's id; an exception by (round, position, kind) — the alarm is
raised only by the worker whose INSERT of the exception returned a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Site, User
from hub.patrol.models import Checkpoint, GuardKey, Reading, Round, RoundException, Route, RouteStop
from hub.patrol.proof import code_matches, reading_bytes, signature_valid
from hub.rules.alarms import AlarmRaise, clear_by_key, raise_alarms
from hub.texts import render, word

CLOCK_SKEW = timedelta(minutes=2)  # a phone's clock may run this far ahead of the hub's


class PatrolError(Exception):
    """Bad input: `field` and why; nothing changed."""

    def __init__(self, field: str, reason: str, status: int = 422, *,
                 code: str = "invalid.other", **params: Any) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.status = field, reason, status
        # its words for people (hub.texts): a code and its parameters
        self.code, self.params = code, params or ({"detail": reason} if code == "invalid.other"
                                                  else {})


class ReadingRefused(Exception):
    """A reading that does not prove presence (forged, copied, replayed): a security event.
    `kind` names it for people (hub.texts `error.patrol_refused.<kind>`)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


@dataclass(frozen=True)
class ReadingIn:
    id: str
    checkpoint: str  # its code
    ts: datetime
    code: str | None = None  # shown by the display (phone readings)
    signature: str | None = None  # base64 Ed25519 over proof.reading_bytes


async def stops_of(session: AsyncSession, route_id: int) -> list[tuple[RouteStop, Checkpoint]]:
    rows = await session.execute(
        select(RouteStop, Checkpoint).join(Checkpoint, Checkpoint.id == RouteStop.checkpoint_id)
        .where(RouteStop.route_id == route_id).order_by(RouteStop.position))
    return [(row[0], row[1]) for row in rows]


def due_times(started_at: datetime, stops: list[tuple[RouteStop, Checkpoint]]
              ) -> dict[int, datetime]:
    """position -> when that stop is due (allowances add up from the start)."""
    due, at = {}, started_at
    for stop, _ in stops:
        at += timedelta(seconds=stop.allowance_s)
        due[stop.position] = at
    return due


async def start_round(session: AsyncSession, route: Route, guard: str, now: datetime) -> Round:
    """A guard starts the route: takes its scheduled round that nobody took yet, or starts
    one on demand."""
    taken = await session.scalar(
        update(Round).where(Round.id == select(Round.id).where(
            Round.route_id == route.id, Round.state == "open", Round.guard.is_(None))
            .order_by(Round.started_at).limit(1).scalar_subquery(), Round.guard.is_(None))
        .values(guard=guard).returning(Round)
        .execution_options(populate_existing=True, synchronize_session=False))
    if taken is not None:
        return taken
    stops = await stops_of(session, route.id)
    if not stops:
        raise PatrolError("route", f"route {route.code!r} has no checkpoints",
                          code="invalid.round_no_checkpoints", route=route.code)
    row = Round(site_id=route.site_id, route_id=route.id, guard=guard, started_at=now,
                deadline=max(due_times(now, stops).values()), state="open")
    session.add(row)
    await session.flush()
    return row


async def record_reading(session: AsyncSession, round_: Round, guard: str, reading: ReadingIn,
                         now: datetime, *, method: str = "phone") -> tuple[Reading, bool]:
    """Check and store one reading; returns it and whether it is new (a resend is not).
    Raises PatrolError for bad input, ReadingRefused when the proof fails."""
    if round_.guard != guard:
        raise PatrolError("round", f"round {round_.id} is not walked by {guard!r}", 403,
                          code="error.patrol_not_your_round", round=round_.id)
    same = await session.get(Reading, reading.id)
    checkpoint = await session.scalar(select(Checkpoint).where(
        Checkpoint.site_id == round_.site_id, Checkpoint.code == reading.checkpoint))
    if same is not None:
        if (same.round_id, same.checkpoint_id, same.ts) == (
                round_.id, checkpoint.id if checkpoint else None, reading.ts):
            return same, False
        raise ReadingRefused("replay", "reading id already used for another reading (replay)")
    if checkpoint is None:
        raise PatrolError("checkpoint", f"no checkpoint {reading.checkpoint!r} in "
                                        f"{round_.site_id!r}", code="invalid.unknown",
                          what=word("thing.checkpoint", "checkpoint"), key=reading.checkpoint)
    stops = await stops_of(session, round_.route_id)
    position = next((s.position for s, c in stops if c.id == checkpoint.id), None)
    if position is None:
        raise PatrolError("checkpoint", f"checkpoint {reading.checkpoint!r} is not on this route",
                          code="invalid.not_on_route", checkpoint=reading.checkpoint)
    if reading.ts > now + CLOCK_SKEW:
        raise PatrolError("ts", "reading time is in the future", code="invalid.in_future")
    if reading.ts < round_.started_at - CLOCK_SKEW:
        raise PatrolError("ts", "reading time is before the round started",
                          code="invalid.before_round")
    if method == "phone":
        await _prove(session, round_, guard, checkpoint, reading)
    if await session.scalar(select(Reading.id).where(
            Reading.round_id == round_.id, Reading.checkpoint_id == checkpoint.id)) is not None:
        raise PatrolError("checkpoint", f"checkpoint {reading.checkpoint!r} already recorded "
                                        "in this round", 409, code="invalid.already_recorded",
                          checkpoint=reading.checkpoint)
    due = due_times(round_.started_at, stops)
    row = Reading(id=reading.id, round_id=round_.id, checkpoint_id=checkpoint.id,
                  position=position, guard=guard, ts=reading.ts, received_at=now, method=method,
                  late=reading.ts > due[position], out_of_order=False)
    session.add(row)
    await session.flush()
    await _flag_order(session, round_.id)
    # a reading synced after the sweep counted its checkpoint missed: the alarm was wrong
    await clear_by_key(session, round_.site_id, _key(round_.id, position, "missed"),
                       "system", None, now, note_code="alarm_note.patrol_synced",
                       note_params={"ts": reading.ts.isoformat(timespec="seconds")})
    read = set(await session.scalars(select(Reading.position).where(
        Reading.round_id == round_.id)))
    if read >= set(due):
        round_.state, round_.finished_at = "completed", max(now, reading.ts)
    return row, True


async def _prove(session: AsyncSession, round_: Round, guard: str, checkpoint: Checkpoint,
                 reading: ReadingIn) -> None:
    if checkpoint.kind != "display" or checkpoint.secret is None:
        raise ReadingRefused("card_only", f"checkpoint {checkpoint.code} is read by card at its door only")
    if not reading.code or not reading.signature:
        raise ReadingRefused("unproven", "reading carries no code or no signature")
    if not code_matches(checkpoint.secret, round_.site_id, checkpoint.code, reading.code,
                        reading.ts):
        raise ReadingRefused("code", "code is not the one the checkpoint showed at that time")
    keys = await session.scalars(
        select(GuardKey.public_key).join(User, User.id == GuardKey.user_id)
        .where(User.username == guard, GuardKey.revoked_at.is_(None)))
    message = reading_bytes(round_.site_id, round_.id, checkpoint.code, reading.code,
                            reading.ts, reading.id)
    if not any(signature_valid(key, reading.signature, message) for key in keys):
        raise ReadingRefused("signature", "signature does not verify with the guard's enrolled phone key")


async def _flag_order(session: AsyncSession, round_id: int) -> None:
    """Out of order: read after a checkpoint further along the route (by reading time, so
    readings synced later in any order are judged by when they happened)."""
    rows = list(await session.scalars(
        select(Reading).where(Reading.round_id == round_id).order_by(Reading.ts, Reading.id)))
    furthest = 0
    for row in rows:
        row.out_of_order = row.position < furthest
        furthest = max(furthest, row.position)


async def refusal_alarm(session: AsyncSession, site_id: str, guard: str, reason: str,
                        now: datetime) -> None:
    """A refused reading is a security event: an alarm per guard (repeats count on it)."""
    params = {"guard": guard, "reason": reason}
    await raise_alarms(session, [AlarmRaise(
        site_id=site_id, dedup_key=f"patrol:refused:{guard}", type="patrol_reading_refused",
        severity="major", message=render("alarm_msg.patrol_reading_refused", params, "en"),
        ts=now, rule="patrol", message_code="alarm_msg.patrol_reading_refused",
        message_params=params)], now)


def _key(round_id: int, position: int, kind: str) -> str:
    return f"patrol:{round_id}:{position}:{kind}"


async def _exception(session: AsyncSession, round_: Round, position: int, kind: str,
                     now: datetime) -> bool:
    """Record it; True for the one worker that recorded it first."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    got = await session.scalar(
        insert(RoundException).values(round_id=round_.id, position=position, kind=kind, at=now)
        .on_conflict_do_nothing().returning(RoundException.round_id))
    return got is not None


async def start_scheduled(session: AsyncSession, now: datetime) -> int:
    """Open the round of each scheduled route whose slot has come (one per slot)."""
    made = 0
    rows = await session.execute(select(Route, Site.timezone).join(Site, Site.id == Route.site_id)
                                 .where(Route.every_min.is_not(None)))
    for route, timezone in [(row[0], row[1]) for row in rows]:
        slot = _slot(route, now, ZoneInfo(timezone or "UTC"))
        if slot is None:
            continue
        stops = await stops_of(session, route.id)
        if not stops:
            continue
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        got = await session.scalar(
            insert(Round).values(site_id=route.site_id, route_id=route.id, guard=None,
                                 scheduled_for=slot, started_at=slot,
                                 deadline=max(due_times(slot, stops).values()), state="open")
            .on_conflict_do_nothing().returning(Round.id))
        made += got is not None
    return made


def _slot(route: Route, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The latest slot at or before `now` within the route's nightly window, if any."""
    every = timedelta(minutes=route.every_min or 0)
    if every <= timedelta(0):
        return None
    local = now.astimezone(zone)
    start_h, end_h = route.from_hour or 0, route.to_hour or 0
    span = timedelta(hours=(end_h - start_h) % 24 or 24)
    for days in (0, 1):
        day = (local - timedelta(days=days)).replace(hour=start_h, minute=0, second=0,
                                                     microsecond=0)
        if day <= local < day + span:
            return (day + every * ((local - day) // every)).astimezone(now.tzinfo)
    return None


async def sweep(session: AsyncSession, now: datetime) -> list[int]:
    """Start scheduled rounds, raise the alarms of stopped guards and, at a round's deadline,
    of its missed checkpoints; returns the ids of the alarms opened now."""
    await start_scheduled(session, now)
    opened: list[int] = []
    rounds = list(await session.scalars(select(Round).where(Round.state == "open")))
    for round_ in rounds:
        stops = await stops_of(session, round_.route_id)
        route = await session.get(Route, round_.route_id)
        assert route is not None
        read: dict[int, datetime] = {row[0]: row[1] for row in await session.execute(
            select(Reading.position, Reading.ts).where(Reading.round_id == round_.id))}
        raises = []
        if now >= round_.deadline:
            for stop, checkpoint in stops:
                if stop.position not in read and await _exception(
                        session, round_, stop.position, "missed", now):
                    raises.append(_alarm(round_, route, checkpoint, stop.position, "missed",
                                         now))
            await session.execute(update(Round).where(Round.id == round_.id,
                                                      Round.state == "open")
                                  .values(state="incomplete", finished_at=now))
        else:
            # the guard moves on from the furthest checkpoint read; one skipped behind is
            # counted missed at the deadline, not as a stop
            furthest = max(read, default=0)
            pending = [(s, c) for s, c in stops if s.position > furthest]
            if pending:
                stop, checkpoint = pending[0]
                last = max([round_.started_at, *read.values()])
                if now > last + timedelta(seconds=stop.allowance_s) and await _exception(
                        session, round_, stop.position, "stalled", now):
                    raises.append(_alarm(round_, route, checkpoint, stop.position, "stalled",
                                         now))
        for alarm, created in await raise_alarms(session, raises, now):
            if created:
                opened.append(alarm.id)
    return opened


def _alarm(round_: Round, route: Route, checkpoint: Checkpoint, position: int, kind: str,
           now: datetime) -> AlarmRaise:
    params: dict[str, Any] = {"round": round_.id, "route": route.code,
                              "checkpoint": f"{checkpoint.code} {checkpoint.name}",
                              "guard": round_.guard or "-"}
    code = f"alarm_msg.patrol_{kind}"
    return AlarmRaise(site_id=round_.site_id, dedup_key=_key(round_.id, position, kind),
                      type=f"patrol_{kind}", severity="major",
                      message=render(code, params, "en"), ts=now, rule="patrol",
                      message_code=code, message_params=params)


__all__ = ["PatrolError", "ReadingIn", "ReadingRefused", "due_times", "record_reading",
           "refusal_alarm", "start_round", "start_scheduled", "stops_of", "sweep"]
