"""Edge liveness: what each edge last said on `state`, and which edges have gone silent.

An edge says "online" when it connects and again every half keepalive (wire.state); the
broker says "offline" for it (its will) 1.5 keepalives after it last heard from it. The
hub keeps, per edge, when it will count it silent (`silent_at`, 1.25 keepalives after the
last word), and a sweep in any hub worker marks the silent ones offline with one UPDATE:
the will may never come, when the broker itself died. A worker working off a backlog does
not sweep (state messages then wait in the broker's queue behind events): another worker, or
the same once caught up, does. Only a change of status goes to the
rules (the edge-offline alarm at that moment), decided by the row update itself, so it
happens once whichever workers see the message or run the sweep.

A retained "online" (what the broker hands a worker that subscribes) says nothing about
now: it is not counted as a word from the edge. A retained "offline" is the will or the
edge's goodbye, true until the edge speaks again: it counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.live import LiveBus, LiveItem
from hub.models import Edge, utcnow
from hub.mqtt import Message
from hub.rules.engine import RuleEngine
from hub.tasks import Periodic
from wire import EdgeState, topics
from wire.state import silent_after_s

log = logging.getLogger(__name__)

StateChange = tuple[str, str, EdgeState]  # site, edge, the state it changed to


def received_at(message: Message, default: datetime) -> datetime:
    """When the hub's MQTT client took the message off the wire (not when a busy ingest
    got to it): a backlog in the hub must not look like a silent edge."""
    if message.received_at <= 0:
        return default
    return datetime.fromtimestamp(message.received_at, UTC)


async def record_states(
    session: AsyncSession, states: Sequence[tuple[Message, topics.TopicParts, EdgeState]],
    now: datetime,
) -> tuple[list[StateChange], list[tuple[Message, topics.TopicParts, EdgeState]]]:
    """Record the state messages of a batch; returns the changes of status (in arrival order
    per edge) and the messages of edges the registry does not know."""
    changes: list[StateChange] = []
    unknown = []
    by_edge: dict[tuple[str, str], list[tuple[Message, topics.TopicParts, EdgeState]]] = {}
    for item in states:
        by_edge.setdefault((item[1].site, item[1].edge), []).append(item)
    for site, edge in sorted(by_edge):  # one lock order for every worker
        for message, parts, state in by_edge[(site, edge)]:
            where = (Edge.site_id == site, Edge.name == edge)
            if message.retain and state.status == "online":
                if await session.scalar(select(Edge.id).where(*where)) is None:
                    unknown.append((message, parts, state))
                continue
            heard = received_at(message, now)
            silent_at = (heard + timedelta(seconds=silent_after_s(state.keepalive_s))
                         if state.status == "online" and state.keepalive_s else None)
            # Every worker sees every state; one that lags must not replay an old one over a
            # newer one: only the newest word (by receipt) sets the edge's state.
            newer = or_(Edge.last_seen.is_(None), Edge.last_seen <= heard)
            # what waits in its outbox (hub.stored): from an online report only, not from a
            # will written when the edge connected
            outbox = ({"outbox_waiting": case((newer, state.outbox_waiting),
                                              else_=Edge.outbox_waiting),
                       "outbox_last_seq": case((newer, state.outbox_last_seq),
                                               else_=Edge.outbox_last_seq),
                       "downlink_refused": case((newer, state.downlink_refused),
                                                else_=Edge.downlink_refused),
                       # the configuration it runs, and the last it refused (hub.edgeconfig)
                       "config_version_held": case((newer, state.config_version),
                                                   else_=Edge.config_version_held),
                       "config_refused_version": case((newer, state.config_refused_version),
                                                      else_=Edge.config_refused_version),
                       "config_refused": case((newer, state.config_refused),
                                              else_=Edge.config_refused)}
                      if state.status == "online" else {})
            result = await session.execute(
                update(Edge).where(*where)
                .values(agent_version=case((newer, state.agent_version),
                                           else_=Edge.agent_version),
                        perm_version_held=case((newer, state.perm_version),
                                               else_=Edge.perm_version_held),
                        keepalive_s=case((newer, state.keepalive_s), else_=Edge.keepalive_s),
                        silent_at=case((newer, silent_at), else_=Edge.silent_at),
                        last_seen=case((newer, heard), else_=Edge.last_seen), **outbox)
                .execution_options(synchronize_session=False))
            if not cast(CursorResult[Any], result).rowcount:
                unknown.append((message, parts, state))
                continue
            changed = await session.scalar(
                update(Edge).where(*where, Edge.status != state.status, Edge.last_seen == heard)
                .values(status=state.status).returning(Edge.id)
                .execution_options(synchronize_session=False))
            if changed is not None:
                changes.append((site, edge, state))
    return changes, unknown


async def sweep_silent(session: AsyncSession, now: datetime, since: datetime
                       ) -> list[StateChange]:
    """Mark offline every online edge not heard from in time; `since`: when this worker
    started (an edge gets its full time after that: the hub itself may have been away)."""
    due = await session.execute(
        select(Edge.id, Edge.keepalive_s).where(Edge.status == "online", Edge.silent_at < now))
    ids = [edge_id for edge_id, keepalive in due
           if now >= since + timedelta(seconds=silent_after_s(keepalive or 0))]
    if not ids:
        return []
    rows = await session.execute(
        update(Edge)
        .where(Edge.id.in_(ids), Edge.status == "online", Edge.silent_at < now)
        .values(status="offline", silent_at=None)
        .returning(Edge.site_id, Edge.name, Edge.agent_version, Edge.perm_version_held,
                   Edge.keepalive_s, Edge.last_seen)
        .execution_options(synchronize_session=False))
    changes = []
    for site, name, version, perm_version, keepalive, last_seen in sorted(rows):
        log.warning("edge %s/%s silent since %s: counted offline", site, name, last_seen)
        changes.append((site, name, EdgeState(
            status="offline", agent_version=version or "-", perm_version=perm_version,
            keepalive_s=keepalive, ts=last_seen)))
    return changes


def live_items(changes: Sequence[StateChange]) -> list[LiveItem]:
    return [LiveItem("edges", {"edge": edge, "status": state.status,
                               "perm_version": state.perm_version}, site_id=site)
            for site, edge, state in changes]


class SilenceSweep(Periodic):
    """`async with SilenceSweep(...)`: counts silent edges offline every `interval_s`, and
    runs the rules on them in the same transaction (any worker may; each edge once)."""

    task_name = "edge-silence-sweep"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval_s: float, *,
                 rules: RuleEngine | None = None, live: LiveBus | None = None,
                 caught_up: Callable[[], bool] = lambda: True) -> None:
        super().__init__(interval_s)
        self._sessions = sessions
        self._rules = rules
        self._live = live
        self._caught_up = caught_up  # the ingest's: silence means nothing while it lags
        self._since = utcnow()
        self.counted_offline = 0
        self.skipped = 0

    async def run_once(self) -> None:
        if not self._caught_up():
            self.skipped += 1
            return
        after = None
        async with self._sessions() as session, session.begin():
            changes = await sweep_silent(session, utcnow(), self._since)
            if changes and self._rules is not None:
                after = await self._rules.evaluate(session, [], changes)
        if not changes:
            return
        self.counted_offline += len(changes)
        if self._live is not None:
            await self._live.publish(live_items(changes))
        if after is not None:
            await after()


__all__ = ["SilenceSweep", "StateChange", "live_items", "received_at", "record_states",
           "sweep_silent"]
