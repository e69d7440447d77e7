"""open_fault_order: one open order per device and fault code, decided by the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import create_engine, create_sessionmaker
from hub.workorders import Actor, WorkOrder, WorkOrderHistory, open_fault_order, transition
from hub.workorders.models import WorkOrderOutbox
from tests.hub.workorders.support import T0, Place, orders

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def _open(session: AsyncSession, place: Place, device: str = "lift-1",
                code: str = "Err48", **kw: Any) -> tuple[WorkOrder, bool]:
    args: dict[str, Any] = {
        "site_id": "sunrise", "device_id": place.devices[device], "fault_code": code,
        "skill": "elevator_door", "priority": "high", "title": f"{device} {code}", "now": T0}
    args.update(kw)
    return await open_fault_order(session, **args)


async def test_opens_once_assigns_and_records(sessions: async_sessionmaker[AsyncSession],
                                              place: Place) -> None:
    async with sessions() as session, session.begin():
        order, created = await _open(session, place)
    assert created
    assert order.state == "assigned" and order.assignee_id == place.technicians["wang"]
    assert order.due_at == T0 + timedelta(hours=24)  # high
    async with sessions() as session, session.begin():
        again, created = await _open(session, place, now=T0 + timedelta(minutes=5))
    assert not created and again.id == order.id
    async with sessions() as session:
        steps = list(await session.scalars(
            select(WorkOrderHistory).where(WorkOrderHistory.order_id == order.id)
            .order_by(WorkOrderHistory.id)))
        outbox = list(await session.scalars(select(WorkOrderOutbox)))
    assert [(s.action, s.from_state, s.to_state, s.actor) for s in steps] == [
        ("opened", None, "open", "system:rule"), ("assigned", "open", "assigned", "system:assignment")]
    assert [(o.event, o.payload["users"]) for o in outbox] == [
        ("assigned", [place.technicians["wang"]])]
    assert len(await orders(sessions)) == 1


async def test_least_workload_wins_then_a_new_order_after_resolve(
        sessions: async_sessionmaker[AsyncSession], place: Place) -> None:
    async with sessions() as session, session.begin():
        first, _ = await _open(session, place, "lift-1")
        second, _ = await _open(session, place, "lift-2")  # wang has one: li gets it
        other_code, created = await _open(session, place, "lift-1", code="Err49")
    assert created
    assert (first.assignee_id, second.assignee_id) == (place.technicians["wang"],
                                                       place.technicians["li"])
    assert other_code.assignee_id == place.technicians["wang"]  # 1 each: the lower id
    wang = Actor("wang", place.technicians["wang"], "technician")
    async with sessions() as session, session.begin():
        order = await session.get(WorkOrder, first.id)
        assert order is not None
        await transition(session, order, "start", wang, T0)
        await transition(session, order, "resolve", wang, T0 + timedelta(hours=1))
    async with sessions() as session, session.begin():
        reopened, created = await _open(session, place, "lift-1", now=T0 + timedelta(hours=2))
    assert created and reopened.id != first.id


async def test_no_technician_with_the_skill_leaves_it_open(
        sessions: async_sessionmaker[AsyncSession], place: Place) -> None:
    async with sessions() as session, session.begin():
        order, created = await _open(session, place, "pump-1", code="LOW",
                                     skill="fire_systems", priority="urgent")
    assert created and order.state == "open" and order.assignee_id is None
    async with sessions() as session:
        outbox = list(await session.scalars(select(WorkOrderOutbox)))
    assert [(o.event, o.payload["managers"]) for o in outbox] == [("unassigned", True)]


async def test_bad_arguments_change_nothing(sessions: async_sessionmaker[AsyncSession],
                                            place: Place) -> None:
    from hub.errors import InvalidInput, NotFound
    async with sessions() as session, session.begin():
        with pytest.raises(InvalidInput, match="priority"):
            await _open(session, place, priority="soon")
        with pytest.raises(InvalidInput, match="not in site"):
            await _open(session, place, "away")
        with pytest.raises(NotFound):
            await open_fault_order(session, site_id="sunrise", device_id=999_999, fault_code="x",
                                   skill="s", priority="low", title="t", now=T0)
    assert await orders(sessions) == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_workers_racing_open_one_order(db_url: str,
                                                 sessions: async_sessionmaker[AsyncSession],
                                                 place: Place) -> None:
    """Two sessions on separate engines (as two hub processes): the second blocks on the
    unique key until the first commits, then returns the first's order."""
    engine_b = create_engine(db_url)
    worker_b = create_sessionmaker(engine_b)
    try:
        async with sessions() as a:
            async with a.begin():
                order_a, created_a = await _open(a, place)

                async def b_opens() -> tuple[int, bool]:
                    async with worker_b() as b, b.begin():
                        order, created = await _open(b, place)
                        return order.id, created

                racing = asyncio.create_task(b_opens())
                await asyncio.sleep(0.5)
                assert not racing.done(), "the second worker should wait for the first's commit"
            assert await asyncio.wait_for(racing, 10) == (order_a.id, False)
        assert created_a
        # and many at once: still exactly one
        async def one(i: int) -> bool:
            async with worker_b() as s, s.begin():
                return (await _open(s, place, "lift-2", code="Err02"))[1]
        results = await asyncio.gather(*(one(i) for i in range(8)))
        assert sum(results) == 1
        assert len(await orders(sessions)) == 2
    finally:
        await engine_b.dispose()
