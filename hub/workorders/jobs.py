"""The hub's periodic work-order jobs: preventive orders ahead of due dates, and escalation
of overdue orders to the site's managers.

Both are safe with several hub workers running them at once: a preventive order is unique
per device and due date in the database, and an order is escalated by a conditional UPDATE
that only one worker's statement can win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import Device, Site, utcnow
from hub.tasks import Periodic
from hub.workorders.cycles import open_cycle_orders
from hub.workorders.dispatch import purge_sent
from hub.workorders.ledger import end_of_day, local_date, site_zone
from hub.workorders.models import EquipmentRecord, WorkOrder
from hub.workorders.service import ACTIVE_STATES, Actor, notify, opened, record

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MAX_LEAD_DAYS = 60
ESCALATE_BATCH = 500  # per transaction; a backlog takes several rounds of one pass
_TABLE = cast(Table, WorkOrder.__table__)


async def open_preventive_orders(session: AsyncSession, now: datetime,
                                 default_lead_days: int) -> list[WorkOrder]:
    """Open a preventive order for each ledger device whose due date is within its lead
    time, once per due date; the orders opened by this call."""
    horizon = now.date() + timedelta(days=MAX_LEAD_DAYS + 1)
    rows = (await session.execute(
        select(EquipmentRecord, Device, Site.timezone)
        .join(Device, Device.id == EquipmentRecord.device_id)
        .join(Site, Site.id == Device.site_id)
        .where(EquipmentRecord.cycle_days.is_not(None),
               EquipmentRecord.next_due_on.is_not(None),
               EquipmentRecord.next_due_on <= horizon)
        .order_by(EquipmentRecord.device_id))).all()
    busy = set(await session.scalars(
        select(WorkOrder.device_id).where(WorkOrder.kind == "preventive",
                                          WorkOrder.state.in_(ACTIVE_STATES))))
    insert = (postgresql.insert(_TABLE) if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert(_TABLE))
    opened_now: list[WorkOrder] = []
    for ledger, device, timezone in rows:
        zone = site_zone(timezone)
        due = ledger.next_due_on
        assert due is not None  # the query selects dated ledger rows only
        lead = ledger.lead_days if ledger.lead_days is not None else default_lead_days
        if device.id in busy or local_date(now, zone) < due - timedelta(days=lead):
            continue
        new_id = await session.scalar(insert.values(
            site_id=device.site_id, kind="preventive", source="pm", device_id=device.id,
            pm_due_on=due, title=f"Preventive maintenance: {device.name} (due {due})"[:200],
            title_code="wo_title.preventive", title_params={"device": device.name, "due": str(due)},
            description=f"every {ledger.cycle_days} days", description_code="wo_note.every_days",
            description_params={"days": ledger.cycle_days}, skill=ledger.skill or device.device_type,
            priority="normal", state="open", created_at=now, due_at=end_of_day(due, zone),
        ).on_conflict_do_nothing().returning(_TABLE.c.id))
        if new_id is None:  # another worker opened this cycle's order first
            continue
        order = await session.get(WorkOrder, new_id)
        assert order is not None
        await opened(session, order, Actor.system("pm"), now)
        opened_now.append(order)
    # devices kept by the rules' several cycles (hub/workorders/cycles.py), one visit at a time
    busy |= {o.device_id for o in opened_now}
    for new_id in await open_cycle_orders(session, now, default_lead_days, busy):
        order = await session.get(WorkOrder, new_id)
        assert order is not None
        await opened(session, order, Actor.system("pm"), now)
        opened_now.append(order)
    return opened_now


async def escalate_overdue(session: AsyncSession, now: datetime,
                           limit: int = ESCALATE_BATCH) -> list[WorkOrder]:
    """Mark active orders past their due time escalated (once each; at most `limit`, the
    longest overdue first) and tell the managers."""
    late = (WorkOrder.state.in_(ACTIVE_STATES), WorkOrder.due_at < now,
            WorkOrder.escalated_at.is_(None))
    batch = select(WorkOrder.id).where(*late).order_by(WorkOrder.due_at).limit(limit)
    won = list(await session.scalars(
        update(WorkOrder)
        .where(WorkOrder.id.in_(batch.scalar_subquery()), *late)
        .values(escalated_at=now)
        .returning(WorkOrder.id)
        .execution_options(synchronize_session=False)))
    if not won:
        return []
    escalated = list(await session.scalars(
        select(WorkOrder).where(WorkOrder.id.in_(won)).order_by(WorkOrder.id)
        .execution_options(populate_existing=True)))
    with session.no_autoflush:  # one batch of inserts at the end, not one per order
        for order in escalated:
            overdue = now - order.due_at
            record(session, order, Actor.system("escalation"), "escalated", now, order.state,
                   f"overdue by {_hours(overdue)} (due {order.due_at.isoformat()})",
                   note_code="wo_note.overdue",
                   note_params={"hours": round(overdue.total_seconds() / 3600, 1)})
            notify(session, order, "escalated", now, managers=True)
    await session.flush()
    return escalated


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


class WorkOrderJobs(Periodic):
    """`async with WorkOrderJobs(...)`: runs both jobs every `interval_s` until exit."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval_s: float = 60,
                 lead_days: int = 3, clock: Clock = utcnow) -> None:
        super().__init__(interval_s)
        self._sessions = sessions
        self._lead_days = lead_days
        self._clock = clock

    async def run_once(self) -> tuple[list[WorkOrder], list[WorkOrder]]:
        """One pass: (preventive orders opened, orders escalated)."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            preventive = await open_preventive_orders(session, now, self._lead_days)
        escalated: list[WorkOrder] = []
        while True:
            async with self._sessions() as session, session.begin():
                batch = await escalate_overdue(session, now)
            escalated += batch
            if len(batch) < ESCALATE_BATCH:
                break
        async with self._sessions() as session, session.begin():
            await purge_sent(session, now)
        if preventive or escalated:
            log.info("work orders: %d preventive opened, %d escalated",
                     len(preventive), len(escalated))
        return preventive, escalated

    task_name = "workorder-jobs"


__all__ = ["WorkOrderJobs", "escalate_overdue", "open_preventive_orders"]
