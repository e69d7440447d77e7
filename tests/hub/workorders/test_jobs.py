"""Preventive orders from the equipment ledger and escalation, with a clock moved by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import utcnow
from hub.texts import actor_text, render
from hub.workorders import Actor, EquipmentRecord, WorkOrder, WorkOrderHistory, transition
from hub.workorders.jobs import WorkOrderJobs
from hub.workorders.models import WorkOrderOutbox
from hub.workorders.service import create_order
from tests.hub.workorders.support import FakeClock, Place, orders

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
DUE = date(2026, 3, 20)  # site local (Asia/Shanghai)


async def _ledger(sessions: async_sessionmaker[AsyncSession], device: int, **kw: object) -> None:
    async with sessions() as session, session.begin():
        session.add(EquipmentRecord(device_id=device, install_date=date(2024, 5, 1),
                                    updated_at=utcnow(), **kw))


async def test_an_elevator_gets_its_preventive_order_lead_days_ahead_once(
        sessions: async_sessionmaker[AsyncSession], place: Place) -> None:
    lift = place.devices["lift-1"]
    await _ledger(sessions, lift, cycle_days=15, next_due_on=DUE, skill="elevator")
    # 4 days before the due date, local: 2026-03-16 00:30 Shanghai is 03-15 16:30 UTC
    clock = FakeClock(datetime(2026, 3, 15, 16, 30, tzinfo=UTC))
    worker_a = WorkOrderJobs(sessions, lead_days=3, clock=clock)
    worker_b = WorkOrderJobs(sessions, lead_days=3, clock=clock)
    assert (await worker_a.run_once())[0] == []
    clock.advance(days=1)  # 03-17 local: 3 days ahead
    opened, _ = await worker_a.run_once()
    assert [(o.device_id, o.pm_due_on, o.kind, o.assignee_id) for o in opened] == [
        (lift, DUE, "preventive", place.technicians["wang"])]  # wang has the elevator skill
    # the second worker, and the next rounds, open nothing more for this cycle
    assert (await worker_b.run_once())[0] == []
    clock.advance(days=2)
    assert (await worker_a.run_once())[0] == []
    order = opened[0]
    assert order.due_at.isoformat() == "2026-03-20T16:00:00+00:00"  # end of the local day
    assert render(order.title_code, order.title_params, "zh") == "预防性保养：lift-1（到期 2026-03-20）"
    assert render(order.description_code, order.description_params, "zh") == "每 15 天"
    # the technician works it two days early: next due 15 days after that
    wang = Actor("wang", place.technicians["wang"], "technician")
    async with sessions() as session, session.begin():
        row = await session.get(WorkOrder, order.id)
        assert row is not None
        await transition(session, row, "start", wang, clock())
        await transition(session, row, "resolve", wang, clock())
    async with sessions() as session:
        ledger = await session.get(EquipmentRecord, lift)
    assert ledger is not None
    assert (ledger.last_maintained_on, ledger.next_due_on) == (
        date(2026, 3, 19), date(2026, 4, 3))
    clock.advance(days=11)  # 03-30 local: 4 days ahead of 04-03, not yet
    assert (await worker_a.run_once())[0] == []
    clock.advance(days=1)
    opened, _ = await worker_b.run_once()
    assert [o.pm_due_on for o in opened] == [date(2026, 4, 3)]
    assert [o.pm_due_on for o in await orders(sessions)] == [DUE, date(2026, 4, 3)]


async def test_per_device_lead_days_and_devices_without_a_cycle(
        sessions: async_sessionmaker[AsyncSession], place: Place) -> None:
    await _ledger(sessions, place.devices["lift-1"], cycle_days=15, next_due_on=DUE,
                  lead_days=7)
    await _ledger(sessions, place.devices["lift-2"], next_due_on=DUE)  # no cycle: no orders
    clock = FakeClock(datetime(2026, 3, 13, 0, 0, tzinfo=UTC))
    opened, _ = await WorkOrderJobs(sessions, lead_days=1, clock=clock).run_once()
    assert [o.device_id for o in opened] == [place.devices["lift-1"]]


async def test_overdue_orders_are_escalated_once_to_the_managers(
        sessions: async_sessionmaker[AsyncSession], place: Place) -> None:
    clock = FakeClock()
    async with sessions() as session, session.begin():
        late = await create_order(session, site_id="sunrise", kind="manual", source="manager",
                                  title="door closer", skill="elevator_door", priority="high",
                                  now=clock(), actor=Actor("boss", place.managers[0], "manager"))
        calm = await create_order(session, site_id="sunrise", kind="manual", source="manager",
                                  title="paint", skill="plumbing", priority="low",
                                  now=clock(), actor=Actor("boss", place.managers[0], "manager"))
    jobs = WorkOrderJobs(sessions, clock=clock)
    clock.advance(hours=23)
    assert (await jobs.run_once())[1] == []
    clock.advance(hours=2)
    _, escalated = await jobs.run_once()
    assert [o.id for o in escalated] == [late.id]
    assert (await WorkOrderJobs(sessions, clock=clock).run_once())[1] == []
    clock.advance(days=7)
    assert [o.id for o in (await jobs.run_once())[1]] == [calm.id]
    async with sessions() as session:
        steps = list(await session.scalars(select(WorkOrderHistory).where(
            WorkOrderHistory.action == "escalated").order_by(WorkOrderHistory.id)))
        sent = list(await session.scalars(select(WorkOrderOutbox).where(
            WorkOrderOutbox.event == "escalated").order_by(WorkOrderOutbox.id)))
    assert [(s.order_id, s.actor) for s in steps] == [(late.id, "system:escalation"),
                                                     (calm.id, "system:escalation")]
    assert steps[0].note is not None and steps[0].note.startswith("overdue by 1 h 00 min")
    assert render(steps[0].note_code, steps[0].note_params, "zh") == "已超期 1 小时"
    assert actor_text(steps[0].actor, "zh") == "系统（超期升级）"
    assert [(o.order_id, o.payload["managers"], o.payload["order"]["escalated"])
            for o in sent] == [(late.id, True, True), (calm.id, True, True)]


async def test_resolved_orders_are_not_escalated(sessions: async_sessionmaker[AsyncSession],
                                                 place: Place) -> None:
    clock = FakeClock()
    wang = Actor("wang", place.technicians["wang"], "technician")
    async with sessions() as session, session.begin():
        order = await create_order(session, site_id="sunrise", kind="manual", source="manager",
                                   title="x", skill="elevator", priority="urgent", now=clock(),
                                   actor=wang)
        await transition(session, order, "start", wang, clock())
        await transition(session, order, "resolve", wang, clock() + timedelta(hours=1))
    clock.advance(hours=5)
    assert (await WorkOrderJobs(sessions, clock=clock).run_once())[1] == []
