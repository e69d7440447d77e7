"""Opening, assigning and moving work orders; every step recorded in the history and, for the
people concerned, in the notification outbox (sent after the commit, see dispatch.py).

Functions here take the caller's session and never commit: the caller's transaction holds
the order, its history and its notifications together, or none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Table, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import Conflict, InvalidInput, NotFound
from hub.models import Device, Site, User
from hub.texts import marker, word
from hub.workorders.cycles import check_complete, cycles_done
from hub.workorders.ledger import local_date, maintained, site_zone
from hub.workorders.models import (
    TechnicianSkill,
    WorkOrder,
    WorkOrderHistory,
    WorkOrderOutbox,
)

# How long each priority gives until the order is due (and escalated when still not resolved).
PRIORITY_DUE: Final[dict[str, timedelta]] = {
    "urgent": timedelta(hours=4),
    "high": timedelta(hours=24),
    "normal": timedelta(hours=72),
    "low": timedelta(days=7),
}
PRIORITIES: Final = tuple(PRIORITY_DUE)
STATES: Final = ("open", "assigned", "in_progress", "resolved", "closed")
ACTIVE_STATES: Final = frozenset({"open", "assigned", "in_progress"})  # not resolved/closed
WORKLOAD_STATES: Final = frozenset({"assigned", "in_progress"})
KINDS: Final = ("fault", "preventive", "repair", "manual")

# action -> (states it may start from, the state it leads to)
TRANSITIONS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "assign": (frozenset({"open", "assigned", "in_progress"}), "assigned"),
    "accept": (frozenset({"open"}), "assigned"),
    "start": (frozenset({"assigned"}), "in_progress"),
    "resolve": (frozenset({"in_progress"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
}
# how each step is named in the history
DONE: Final = {"accept": "accepted", "start": "started", "resolve": "resolved",
               "close": "closed"}
# the session.info flag that tells dispatchers, after the commit, that the outbox has rows
OUTBOX_FLAG: Final = "lintel_workorder_outbox"


@dataclass(frozen=True)
class Actor:
    """Who takes a step: a signed-in user, or the hub itself (`user_id` None)."""

    name: str
    user_id: int | None = None
    role: str | None = None

    @classmethod
    def system(cls, source: str) -> Actor:
        return cls(name=f"system:{source}")


class IllegalTransition(Conflict):
    """The order's state does not allow the step (an HTTP 409)."""

    def __init__(self, order: WorkOrder, action: str) -> None:
        allowed = sorted(TRANSITIONS[action][0]) if action in TRANSITIONS else []
        super().__init__(
            f"work order {order.id} is {order.state}: cannot {action} it "
            f"({action} needs the order to be {' or '.join(allowed)})")
        self.order_id = order.id
        self.state = order.state
        self.action = action
        self.text = ("error.wo_transition", {
            "id": order.id, "state": word(f"wo_state.{order.state}", order.state),
            "action": word(f"wo_action.{action}", action)})


def due_at(priority: str, opened: datetime) -> datetime:
    if priority not in PRIORITY_DUE:
        raise InvalidInput("priority", f"unknown priority {priority!r}; one of {list(PRIORITIES)}",
                           "invalid.known_are", value=priority, known=", ".join(PRIORITIES))
    return opened + PRIORITY_DUE[priority]


def fault_key(device_id: int, fault_code: str) -> str:
    return f"{device_id}:{fault_code}"


def order_data(order: WorkOrder) -> dict[str, Any]:
    """The JSON an order is pushed and posted as (live push, webhook)."""
    return {
        "id": order.id, "site_id": order.site_id, "kind": order.kind, "source": order.source,
        "title": marker(order.title_code, order.title_params, order.title),
        "state": order.state, "priority": order.priority,
        "skill": order.skill, "device_id": order.device_id, "unit_id": order.unit_id,
        "fault_code": order.fault_code, "assignee_id": order.assignee_id,
        "created_at": order.created_at.isoformat(), "due_at": order.due_at.isoformat(),
        "escalated": order.escalated_at is not None,
    }


def notify(session: AsyncSession, order: WorkOrder, event: str, now: datetime, *,
           users: list[int] | None = None, managers: bool = False,
           requester: bool = False) -> None:
    """Queue a notification: live push to `users` (and always the site's managers, who see
    all), to the managers alone, and/or to the resident who asked; plus the webhook."""
    payload = {"event": event, "order": order_data(order), "users": sorted(set(users or [])),
               "managers": managers,
               "requester": order.requested_by if requester and order.household_id else None,
               "household_id": order.household_id}
    session.add(WorkOrderOutbox(order_id=order.id, site_id=order.site_id, event=event,
                                payload=payload, created_at=now, next_attempt_at=now,
                                live_sent=False, webhook_attempts=0, done=False))
    session.info[OUTBOX_FLAG] = True


def record(session: AsyncSession, order: WorkOrder, actor: Actor, action: str, now: datetime,
           from_state: str | None, note: str | None = None, *, note_code: str | None = None,
           note_params: dict[str, Any] | None = None) -> None:
    """A step of the order's history; a note the hub writes goes as a hub/texts code too."""
    session.add(WorkOrderHistory(
        order_id=order.id, at=now, user_id=actor.user_id, actor=actor.name[:64], action=action,
        from_state=from_state, to_state=order.state, assignee_id=order.assignee_id, note=note,
        note_code=note_code, note_params=note_params))


async def workload(session: AsyncSession, user_ids: list[int]) -> dict[int, int]:
    """Open orders (assigned or in progress) per technician."""
    rows = await session.execute(
        select(WorkOrder.assignee_id, func.count())
        .where(WorkOrder.assignee_id.in_(user_ids), WorkOrder.state.in_(WORKLOAD_STATES))
        .group_by(WorkOrder.assignee_id))
    found = {uid: n for uid, n in rows if uid is not None}
    return {uid: found.get(uid, 0) for uid in user_ids}


async def technicians_with(session: AsyncSession, site_id: str, skill: str) -> list[int]:
    """Active technicians of the site who have the skill, by id."""
    ids = await session.scalars(
        select(User.id)
        .join(TechnicianSkill, and_(TechnicianSkill.user_id == User.id,
                                    TechnicianSkill.skill == skill))
        .where(User.role == "technician", User.site_id == site_id, User.disabled_at.is_(None))
        .order_by(User.id))
    return list(ids)


async def skills_of(session: AsyncSession, user_id: int) -> list[str]:
    return sorted(await session.scalars(
        select(TechnicianSkill.skill).where(TechnicianSkill.user_id == user_id)))


async def pick_technician(session: AsyncSession, site_id: str, skill: str,
                          exclude: int | None = None) -> int | None:
    """The active technician of the site with the skill and the fewest open orders (the
    lowest id among equals), or None when the site has nobody (but `exclude`) with it."""
    candidates = [uid for uid in await technicians_with(session, site_id, skill)
                  if uid != exclude]
    if not candidates:
        return None
    loads = await workload(session, candidates)
    return min(candidates, key=lambda uid: (loads[uid], uid))


async def check_technician(session: AsyncSession, order: WorkOrder, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or user.role != "technician" or user.site_id != order.site_id:
        raise InvalidInput("technician_id",
                           f"user {user_id} is not a technician of site {order.site_id!r}",
                           "invalid.not_technician", user=user_id)
    if user.disabled_at is not None:
        raise InvalidInput("technician_id", f"technician {user.username!r} is disabled",
                           "invalid.technician_disabled", user=user.username)
    return user


async def assign(session: AsyncSession, order: WorkOrder, actor: Actor, now: datetime, *,
                 technician_id: int | None = None, note: str | None = None) -> bool:
    """Assign to `technician_id`, or automatically by skill and workload; False when the
    automatic choice found nobody (the order stays as it was and the managers are told)."""
    if order.state not in TRANSITIONS["assign"][0]:
        raise IllegalTransition(order, "assign")
    if technician_id is None:
        technician_id = await pick_technician(session, order.site_id, order.skill,
                                              exclude=order.assignee_id)
        if technician_id is None:
            notify(session, order, "unassigned", now, managers=True)
            return False
    else:
        await check_technician(session, order, technician_id)
    if order.assignee_id == technician_id and order.state != "open":
        raise Conflict(f"work order {order.id} is already assigned to user {technician_id}",
                       "error.wo_already_assigned", id=order.id, who=f"#{technician_id}")
    before, previous = order.state, order.assignee_id
    order.assignee_id, order.assigned_at, order.state = technician_id, now, "assigned"
    action = "assigned" if previous is None else "reassigned"
    record(session, order, actor, action, now, before, note)
    notify(session, order, action, now, users=[technician_id], requester=previous is None)
    if previous is not None:
        notify(session, order, "unassigned", now, users=[previous])
    return True


async def create_order(session: AsyncSession, *, site_id: str, kind: str, source: str,
                       title: str, skill: str, priority: str, now: datetime, actor: Actor,
                       description: str = "", device_id: int | None = None,
                       unit_id: int | None = None, household_id: int | None = None,
                       requested_by: int | None = None,
                       technician_id: int | None = None) -> WorkOrder:
    """Open an order and assign it (to `technician_id`, else automatically)."""
    order = WorkOrder(site_id=site_id, kind=kind, source=source, title=title,
                      description=description, skill=skill, priority=priority, state="open",
                      device_id=device_id, unit_id=unit_id, household_id=household_id,
                      requested_by=requested_by, created_at=now, due_at=due_at(priority, now))
    session.add(order)
    await session.flush()
    await opened(session, order, actor, now, technician_id)
    return order


async def opened(session: AsyncSession, order: WorkOrder, actor: Actor, now: datetime,
                  technician_id: int | None = None) -> None:
    record(session, order, actor, "opened", now, None)
    by = actor if technician_id is not None else Actor.system("assignment")
    await assign(session, order, by, now, technician_id=technician_id)


_TABLE = cast(Table, WorkOrder.__table__)


async def open_fault_order(session: AsyncSession, *, site_id: str, device_id: int,
                           fault_code: str, skill: str, priority: str, title: str,
                           now: datetime, source: str = "rule", title_code: str | None = None,
                           title_params: dict[str, Any] | None = None
                           ) -> tuple[WorkOrder, bool]:
    """The open order for this device's fault, opening (and assigning) one if there is none:
    (order, True) when created. Safe under concurrency: the database's unique `open_key`
    decides between two hub workers, and the loser returns the winner's order."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    for field, value, longest in (("fault_code", fault_code, 32), ("skill", skill, 64)):
        if not value or len(value) > longest:
            raise InvalidInput(field, f"must be 1 to {longest} characters, not {value!r}",
                               "invalid.length", max=longest)
    device = await session.get(Device, device_id)
    if device is None:
        raise NotFound("device", device_id)
    if device.site_id != site_id:
        raise InvalidInput("device_id", f"device {device_id} is not in site {site_id!r}",
                           "invalid.not_in_site", thing=word("thing.device", "device"),
                           key=device_id)
    key = fault_key(device_id, fault_code)
    existing = await session.scalar(select(WorkOrder).where(WorkOrder.open_key == key))
    if existing is not None:
        return existing, False
    values = {"site_id": site_id, "kind": "fault", "source": source[:32], "device_id": device_id,
                  "fault_code": fault_code, "open_key": key, "title": title[:200],
                  "title_code": title_code, "title_params": title_params, "description": "",
                  "skill": skill, "priority": priority, "state": "open", "created_at": now,
                  "due_at": due_at(priority, now)}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(_TABLE) if dialect == "postgresql" else sqlite.insert(_TABLE)
    # ON CONFLICT DO NOTHING rather than catching IntegrityError: no savepoint needed, and
    # the caller's transaction (the rules engine's) stays usable whoever won.
    new_id = await session.scalar(
        insert.values(**values).on_conflict_do_nothing().returning(_TABLE.c.id))
    if new_id is None:
        winner = await session.scalar(select(WorkOrder).where(WorkOrder.open_key == key))
        if winner is None:  # it was resolved between the insert and this read
            raise Conflict(f"work order for {key} changed while opening; try again",
                           "error.wo_changed")
        return winner, False
    order = await session.get(WorkOrder, new_id)
    assert order is not None
    await opened(session, order, Actor.system(source), now)
    return order, True


def _may_act(order: WorkOrder, actor: Actor, action: str) -> None:
    """A technician works only their own orders (and picks unassigned ones)."""
    if actor.role == "technician" and action != "accept" and order.assignee_id != actor.user_id:
        raise Conflict(f"work order {order.id} is not assigned to you", "error.wo_not_yours",
                       id=order.id)


async def transition(session: AsyncSession, order: WorkOrder, action: str, actor: Actor,
                     now: datetime, *, note: str | None = None,
                     technician_id: int | None = None) -> WorkOrder:
    """Move the order one step (accept/start/resolve/close, or assign); 409 when its state
    does not allow the step. Resolving a preventive order moves the ledger's due date on."""
    if action == "assign":
        if not await assign(session, order, actor, now, technician_id=technician_id, note=note):
            other = " other" if order.assignee_id is not None else ""
            raise Conflict(f"no{other} active technician of site {order.site_id!r} has skill "
                           f"{order.skill!r}; name one, or give someone the skill",
                           "error.wo_no_other_technician" if other else "error.wo_no_technician",
                           skill=order.skill)
        return order
    if action not in TRANSITIONS:
        raise InvalidInput("action", f"unknown action {action!r}; one of {sorted(TRANSITIONS)}",
                           "invalid.known_are", value=action, known=", ".join(sorted(TRANSITIONS)))
    sources, target = TRANSITIONS[action]
    if order.state not in sources:
        raise IllegalTransition(order, action)
    _may_act(order, actor, action)
    before = order.state
    if action == "accept":
        if actor.user_id is None:
            raise InvalidInput("action", "accept is a technician picking an order for themselves",
                               "invalid.accept_own")
        user = await check_technician(session, order, actor.user_id)
        if order.skill not in await skills_of(session, user.id):
            raise Conflict(f"work order {order.id} needs skill {order.skill!r}, "
                           f"which {user.username!r} does not have", "error.wo_lacks_skill",
                           id=order.id, skill=order.skill, who=user.username)
        order.assignee_id, order.assigned_at = actor.user_id, now
    elif action == "start":
        order.started_at = now
    elif action == "resolve":
        check_complete(order)  # a preventive visit is done when every item is ticked
        order.resolved_at, order.open_key = now, None
    elif action == "close":
        order.closed_at, order.open_key = now, None
    order.state = target
    record(session, order, actor, DONE[action], now, before, note)
    if action == "resolve" and order.kind == "preventive":
        await maintained(session, order, now)
        site = await session.get(Site, order.site_id)
        today = local_date(now, site_zone(site.timezone if site else None))
        await cycles_done(session, order, today, now)
    notify(session, order, order.state, now, managers=True, requester=True)
    return order


__all__ = [
    "ACTIVE_STATES",
    "KINDS",
    "PRIORITIES",
    "PRIORITY_DUE",
    "STATES",
    "TRANSITIONS",
    "Actor",
    "IllegalTransition",
    "assign",
    "create_order",
    "due_at",
    "open_fault_order",
    "pick_technician",
    "transition",
    "workload",
]
