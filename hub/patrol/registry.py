"""The patrol's registry: adding checkpoints, routes and guards' cards. The API and the demo's
seed both go through here, so a checkpoint or a route is checked the same way wherever it
comes from. Bad input raises PatrolError (the field and why; nothing added)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Door, Site, User
from hub.patrol.models import Checkpoint, GuardCard, Route, RouteStop
from hub.patrol.proof import new_secret
from hub.patrol.rounds import PatrolError
from hub.texts import word


@dataclass(frozen=True)
class Stop:
    checkpoint: str  # its code
    allowance_s: int  # due this long after the previous stop (the first: after the start)


async def _site(session: AsyncSession, site_id: str) -> None:
    if await session.get(Site, site_id) is None:
        raise PatrolError("site_id", f"unknown site {site_id!r}", code="invalid.unknown",
                          what=word("thing.site", "site"), key=site_id)


async def add_checkpoint(session: AsyncSession, site_id: str, code: str, name: str, *,
                         name_zh: str | None = None, location: str | None = None,
                         kind: str = "display", door: str | None = None) -> Checkpoint:
    """A rotating-code display (its `secret` is made here, for the display, shown once) or a
    door whose reader reads guards' cards as this checkpoint."""
    if (kind == "door") != (door is not None):
        raise PatrolError("door", "a door checkpoint names its door; a display none",
                          code="invalid.door_checkpoint")
    await _site(session, site_id)
    door_id = None
    if door is not None:
        door_id = await session.scalar(select(Door.id).where(Door.site_id == site_id,
                                                             Door.name == door))
        if door_id is None:
            raise PatrolError("door", f"no door {door!r} in {site_id!r}", code="invalid.unknown",
                              what=word("thing.door", "door"), key=door)
    if await session.scalar(select(Checkpoint.id).where(
            Checkpoint.site_id == site_id, Checkpoint.code == code)) is not None:
        raise PatrolError("code", f"checkpoint {code!r} exists in {site_id!r}", 409,
                          code="error.exists", what=word("thing.checkpoint", "checkpoint"),
                          key=code)
    row = Checkpoint(site_id=site_id, code=code, name=name, name_zh=name_zh, location=location,
                     kind=kind, secret=new_secret() if kind == "display" else None,
                     door_id=door_id)
    session.add(row)
    await session.flush()
    return row


async def add_route(session: AsyncSession, site_id: str, code: str, name: str,
                    stops: Sequence[Stop], *, name_zh: str | None = None,
                    every_min: int | None = None, from_hour: int | None = None,
                    to_hour: int | None = None) -> Route:
    """A route: its checkpoints in order, each with its allowance, and when it runs (every
    `every_min` minutes from `from_hour` to `to_hour`, site time; or on demand)."""
    if len({every_min is None, from_hour is None, to_hour is None}) != 1:
        raise PatrolError("every_min", "give every_min, from_hour and to_hour together",
                          code="invalid.schedule_together")
    if not stops:
        raise PatrolError("stops", "a route has at least one checkpoint",
                          code="invalid.route_empty")
    await _site(session, site_id)
    if await session.scalar(select(Route.id).where(
            Route.site_id == site_id, Route.code == code)) is not None:
        raise PatrolError("code", f"route {code!r} exists in {site_id!r}", 409,
                          code="error.exists", what=word("thing.route", "route"), key=code)
    codes = [s.checkpoint for s in stops]
    if len(set(codes)) != len(codes):
        raise PatrolError("stops", "a checkpoint appears twice on the route",
                          code="invalid.route_twice")
    found = {c.code: c.id for c in await session.scalars(select(Checkpoint).where(
        Checkpoint.site_id == site_id, Checkpoint.code.in_(codes)))}
    for n, checkpoint in enumerate(codes):
        if checkpoint not in found:
            raise PatrolError(f"stops.{n}.checkpoint",
                              f"no checkpoint {checkpoint!r} in {site_id!r}", code="invalid.unknown",
                              what=word("thing.checkpoint", "checkpoint"), key=checkpoint)
    route = Route(site_id=site_id, code=code, name=name, name_zh=name_zh, every_min=every_min,
                  from_hour=from_hour, to_hour=to_hour)
    session.add(route)
    await session.flush()
    session.add_all(RouteStop(route_id=route.id, position=n, checkpoint_id=found[s.checkpoint],
                              allowance_s=s.allowance_s) for n, s in enumerate(stops, 1))
    await session.flush()
    return route


async def add_guard_card(session: AsyncSession, site_id: str, username: str,
                         card_number: str) -> GuardCard:
    """A guard's card for the door readers in checkpoint mode."""
    await _site(session, site_id)
    user = await session.scalar(select(User).where(
        User.username == username, User.role == "guard", User.site_id == site_id))
    if user is None:
        raise PatrolError("username", f"no guard {username!r} in {site_id!r}",
                          code="invalid.unknown", what=word("thing.guard", "guard"), key=username)
    if await session.scalar(select(GuardCard.id).where(
            GuardCard.site_id == site_id, GuardCard.card_number == card_number)) is not None:
        raise PatrolError("card_number", f"card {card_number} is already a guard's", 409,
                          code="error.patrol_card_taken", card=card_number)
    row = GuardCard(site_id=site_id, user_id=user.id, card_number=card_number)
    session.add(row)
    await session.flush()
    return row


__all__ = ["Stop", "add_checkpoint", "add_guard_card", "add_route"]
