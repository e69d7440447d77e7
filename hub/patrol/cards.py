"""Door readers in checkpoint mode: a guard's card presented at a door a checkpoint names is
that checkpoint's reading in the guard's open round (granted or refused at the door alike:
the card was at the reader). Done at the hub on ingest, in the ingest's transaction; the
access event's id is the reading's id, so a redelivered event records nothing twice."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Door, User
from hub.patrol.models import Checkpoint, GuardCard, Round, RouteStop
from hub.patrol.rounds import PatrolError, ReadingIn, record_reading

log = logging.getLogger(__name__)

# built once (its construction cost more than its execution, once per ingest batch)
_DOOR_CHECKPOINTS = (
    select(Checkpoint, User.username, Checkpoint.site_id, Door.name, GuardCard.card_number)
    .join(Door, Door.id == Checkpoint.door_id)
    .join(GuardCard, GuardCard.site_id == Checkpoint.site_id)
    .join(User, User.id == GuardCard.user_id)
    .where(Checkpoint.site_id.in_(bindparam("sites", expanding=True)),
           Checkpoint.kind == "door"))


async def record_card_readings(session: AsyncSession, access_rows: Sequence[dict[str, Any]],
                               now: datetime) -> int:
    """Record the checkpoint readings among access-event rows; returns how many were new."""
    cards = [r for r in access_rows if r.get("credential_type") == "card"]
    if not cards:
        return 0
    # one query for the batch (a query per access event cost the ingest ~200 µs an event):
    # every guard card and checkpoint door of the batch's sites, usually a handful
    known = {
        (site, door, card): (checkpoint, guard)
        for checkpoint, guard, site, door, card in await session.execute(
            _DOOR_CHECKPOINTS, {"sites": sorted({r["site_id"] for r in cards})})}
    if not known:
        return 0
    made = 0
    for row in cards:
        found = known.get((row["site_id"], row["door"], row["credential"]))
        if found is None:
            continue
        checkpoint, guard = found
        round_ = await session.scalar(
            select(Round).join(RouteStop, RouteStop.route_id == Round.route_id)
            .where(Round.site_id == row["site_id"], Round.guard == guard,
                   Round.state == "open", RouteStop.checkpoint_id == checkpoint.id)
            .order_by(Round.started_at.desc()).limit(1))
        if round_ is None:
            continue
        try:
            _, new = await record_reading(
                session, round_, guard, ReadingIn(id=row["id"], checkpoint=checkpoint.code,
                                                  ts=row["ts"]), now, method="card")
        except PatrolError as exc:  # e.g. read twice in a round: the first one counts
            log.info("patrol: card at %s not recorded: %s", row["door"], exc)
            continue
        made += new
    return made


__all__ = ["record_card_readings"]
