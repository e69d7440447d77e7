"""The work-order webhook against a real aiohttp server on 127.0.0.1: retries, giving up
without touching the order, and two notifiers never sending a row twice."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.live import Listener, LiveBus
from hub.workorders import WorkOrder
from hub.workorders.dispatch import WorkOrderNotifier
from hub.workorders.models import WorkOrderOutbox
from hub.workorders.service import Actor, create_order
from tests.hub.workorders.conftest import Receiver
from tests.hub.workorders.support import T0, Place
from tests.support.services import free_port
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def _order(sessions: async_sessionmaker[AsyncSession], place: Place,
                 title: str = "水泵异响") -> int:
    async with sessions() as session, session.begin():
        order = await create_order(session, site_id="sunrise", kind="manual", source="manager",
                                   title=title, skill="plumbing", priority="high", now=T0,
                                   actor=Actor("boss", place.managers[0], "manager"))
        return order.id


async def _outbox(sessions: async_sessionmaker[AsyncSession]) -> list[WorkOrderOutbox]:
    async with sessions() as session:
        return list(await session.scalars(select(WorkOrderOutbox).order_by(WorkOrderOutbox.id)))


async def test_a_failing_webhook_is_retried_and_the_push_sent_once(
        sessions: async_sessionmaker[AsyncSession], place: Place, receiver: Receiver) -> None:
    receiver.answers = [500, 503]
    bus = LiveBus()
    li, wang = (Listener(role="technician", user_id=place.technicians[name],
                         channels=frozenset({"work_orders"}), site_id="sunrise")
                for name in ("li", "wang"))
    bus.listen(li)
    bus.listen(wang)
    async with WorkOrderNotifier(sessions, bus, webhook_url=receiver.url, retry_base_s=0.05,
                                 poll_s=0.05) as notifier:
        order_id = await _order(sessions, place)

        async def settled() -> bool:
            return all(row.done for row in await _outbox(sessions))
        await until(settled)
    assert [event for event, _ in receiver.got] == ["work_order.assigned"] * 3
    body = receiver.got[-1][1]
    assert (body["event"], body["work_order"]["id"], body["notify_user_ids"]) == (
        "assigned", order_id, [place.technicians["li"]])  # li has plumbing
    assert (notifier.sent, notifier.failed) == (1, 2)
    row = (await _outbox(sessions))[0]
    assert (row.webhook_attempts, row.live_sent) == (2, True)
    # pushed once, whatever the webhook's retries; to li only (and the managers)
    assert (li.queue.qsize(), wang.queue.qsize()) == (1, 0)
    assert li.queue.get_nowait().data["id"] == order_id


async def test_a_dead_webhook_is_given_up_and_the_order_kept(
        sessions: async_sessionmaker[AsyncSession], place: Place) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    async with WorkOrderNotifier(sessions, None, webhook_url=dead, webhook_attempts=3,
                                 webhook_timeout_s=1, retry_base_s=0.05,
                                 poll_s=0.05) as notifier:
        order_id = await _order(sessions, place)

        async def settled() -> bool:
            return all(row.done for row in await _outbox(sessions))
        await until(settled)
    assert notifier.failed == 3 and notifier.sent == 0
    async with sessions() as session:
        order = await session.get(WorkOrder, order_id)
    assert order is not None and order.state == "assigned"


async def test_two_notifiers_send_each_row_once(sessions: async_sessionmaker[AsyncSession],
                                                place: Place, receiver: Receiver) -> None:
    async with WorkOrderNotifier(sessions, None, webhook_url=receiver.url, poll_s=0.02), \
            WorkOrderNotifier(sessions, None, webhook_url=receiver.url, poll_s=0.02):
        ids = [await _order(sessions, place, f"order {i}") for i in range(10)]

        async def settled() -> bool:
            rows = await _outbox(sessions)
            return len(rows) == 10 and all(row.done for row in rows)
        await until(settled)
        await asyncio.sleep(0.1)  # a double send would land now
    assert sorted(body["work_order"]["id"] for _, body in receiver.got) == ids
