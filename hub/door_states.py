"""Each door's state as its edge last reported it, kept by the ingest from the door events.

The edge decides at the door and reports what happened (`opened`, `forced_open`, `lockdown`,
`released` for fire ...); the guard's building panel needs where that left each door. The
ingest folds every newly stored door event into one row per door, in the edge's sequence
order (an event older than the row's last one changes nothing: a backlog arriving late
cannot undo a newer state). What a guard reads is `shown_state`: the edge being offline,
then the most urgent of the door's own conditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import BigInteger, Boolean, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hub.bulk import insert_ignore
from hub.models import Base, UtcDateTime

ShownState = Literal["normal", "open", "held_open", "forced", "locked_down", "fire_released",
                     "offline"]
# most urgent first: the legend lists them in this order
SHOWN_STATES: tuple[ShownState, ...] = (
    "fire_released", "forced", "locked_down", "held_open", "open", "offline", "normal")


class DoorState(Base):
    """Where the door events of one door have left it."""

    __tablename__ = "door_states"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # site/edge/door
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    edge: Mapped[str] = mapped_column(String(64))
    door: Mapped[str] = mapped_column(String(64))
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    held_open: Mapped[bool] = mapped_column(Boolean, default=False)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_down: Mapped[bool] = mapped_column(Boolean, default=False)
    fire_released: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=-1)
    changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def state_key(site_id: str, edge: str, door: str) -> str:
    return f"{site_id}/{edge}/{door}"


def apply_event(state: DoorState, event: str, cause: str | None) -> bool:
    """Fold one door event into the state; True when it changed."""
    before = (state.is_open, state.held_open, state.forced, state.locked_down,
              state.fire_released)
    if event == "opened":
        state.is_open = True
    elif event == "closed":  # a closed door is no longer held or forced open
        state.is_open = state.held_open = state.forced = False
    elif event == "held_open":
        state.held_open = True
    elif event == "forced_open":
        state.forced = True
    elif event == "lockdown":
        state.locked_down = True
    elif event == "released":
        if cause == "fire":
            state.fire_released = True
        else:
            state.locked_down = False
    elif event == "locked":  # nothing relocks a fire-released door but the fire reset
        state.fire_released = False
    return before != (state.is_open, state.held_open, state.forced, state.locked_down,
                      state.fire_released)


async def record_door_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Fold newly stored `door` events (event_log rows as the ingest builds them) into the
    door states, within the ingest's transaction."""
    events = sorted((r for r in rows if r["kind"] == "door"),
                    key=lambda r: (r["site_id"], r["edge"], r["seq"]))
    if not events:
        return
    keys = {state_key(r["site_id"], r["edge"], r["data"]["door"]):
            (r["site_id"], r["edge"], r["data"]["door"]) for r in events}
    await insert_ignore(session, cast(Table, DoorState.__table__), [
        {"key": k, "site_id": s, "edge": e, "door": d, "is_open": False, "held_open": False,
         "forced": False, "locked_down": False, "fire_released": False, "last_seq": -1,
         "changed_at": None}
        for k, (s, e, d) in sorted(keys.items())], key="key")
    # locked in key order (every worker takes them in the same order: no deadlock)
    states = {s.key: s for s in await session.scalars(
        select(DoorState).where(DoorState.key.in_(sorted(keys))).order_by(DoorState.key)
        .with_for_update())}
    for row in events:
        state = states[state_key(row["site_id"], row["edge"], row["data"]["door"])]
        if row["seq"] <= state.last_seq:
            continue
        state.last_seq = row["seq"]
        if apply_event(state, row["data"]["event"], row["data"].get("cause")):
            state.changed_at = row["ts"]


def shown_state(state: DoorState | None, *, edge_online: bool, mode: str) -> ShownState:
    """What the guard sees: offline first (the door's state is not known now), then the most
    urgent condition."""
    if not edge_online:
        return "offline"
    if state is not None:
        if state.fire_released:
            return "fire_released"
        if state.forced:
            return "forced"
    if mode == "locked_down" or (state is not None and state.locked_down):
        return "locked_down"
    if state is not None:
        if state.held_open:
            return "held_open"
        if state.is_open:
            return "open"
    return "normal"


__all__ = ["SHOWN_STATES", "DoorState", "ShownState", "apply_event", "record_door_events",
           "shown_state", "state_key"]
