"""Who a work-order notification reaches on the live bus (unit)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.live import Listener
from hub.workorders.dispatch import live_items
from hub.workorders.models import WorkOrderOutbox

ORDER = {"id": 7, "site_id": "sunrise", "title": "漏水", "state": "assigned"}


def row(event: str, users: list[int], *, managers: bool = False,
        requester: int | None = None) -> WorkOrderOutbox:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return WorkOrderOutbox(id=1, order_id=7, site_id="sunrise", event=event, created_at=now,
                           next_attempt_at=now, payload={
                               "event": event, "order": ORDER, "users": users,
                               "managers": managers, "requester": requester,
                               "household_id": 3 if requester else None})


def who(role: str, user_id: int, site: str | None = "sunrise",
        household: int | None = None) -> Listener:
    return Listener(role=role, user_id=user_id, channels=frozenset({"work_orders"}),
                    site_id=site, household_id=household)


def reached(outbox: WorkOrderOutbox, listener: Listener) -> bool:
    return any(listener.admits(item) for item in live_items(outbox))


@pytest.mark.parametrize(("outbox", "listener", "expected"), [
    (row("assigned", [5]), who("technician", 5), True),
    (row("assigned", [5]), who("technician", 6), False),
    (row("assigned", [5]), who("manager", 1), True),
    (row("assigned", [5]), who("manager", 1, site="moonbay"), False),
    (row("assigned", [5]), who("admin", 2, site=None), True),
    (row("assigned", [5]), who("guard", 3), False),
    (row("escalated", [], managers=True), who("manager", 1), True),
    (row("escalated", [], managers=True), who("technician", 5), False),
    (row("escalated", [], managers=True), who("resident", 9, household=3), False),
    (row("resolved", [], managers=True, requester=9), who("resident", 9, household=3), True),
    (row("resolved", [], managers=True, requester=9), who("resident", 10, household=4),
     False),
    (row("resolved", [], managers=True, requester=9), who("technician", 5), False),
])
def test_who_is_told(outbox: WorkOrderOutbox, listener: Listener, expected: bool) -> None:
    assert reached(outbox, listener) is expected
    for item in live_items(outbox):
        assert item.channel == "work_orders" and item.data["event"] == outbox.event
