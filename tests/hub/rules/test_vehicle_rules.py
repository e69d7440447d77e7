"""The vehicle lanes' rules on a real database (SQLite and PostgreSQL) with a clock the test
moves: a barrier forced, a barrier not answering, a vehicle inside over 3 days (its exit
clears the alarm; one that left in time raises nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.rules.clock import ManualClock
from hub.rules.engine import RuleEngine
from hub.rules.loader import load_rules
from hub.texts import render
from tests.hub.rules.support import T0, alarms, at, feed, row, seed_site

pytestmark = pytest.mark.integration
DAY = 86400


@pytest.fixture
async def engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[RuleEngine]:
    await seed_site(sessions)
    yield RuleEngine(load_rules(), sessions, clock=ManualClock(T0))


def lane(event: str, ts: datetime, **data: Any) -> dict[str, Any]:
    return row("lane", {"lane": "gate-in", "event": event, "detail": "", **data}, ts=ts,
               device="gate-in")


def car(direction: str, plate: str, ts: datetime, result: str = "open") -> dict[str, Any]:
    return row("vehicle", {
        "lane": f"gate-{'in' if direction == 'entry' else 'out'}", "direction": direction,
        "plate": plate, "confidence": 0.95, "result": result, "reason": "resident",
        "decision_us": 20, "offline": False}, ts=ts, device="gate-in")


async def test_forced_and_failing_barriers_raise_their_alarms(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    await feed(engine, sessions, lane("forced", at(0)), lane("forced", at(30)),
               lane("barrier_failed", at(40), detail="no reply (timeout)"))
    forced, failed = await alarms(sessions)
    assert (forced.type, forced.severity, forced.count) == ("gate_forced", "critical", 2)
    assert forced.message == "Barrier of lane gate-in raised with no decision (forced?)"
    assert render(forced.message_code, forced.message_params, "zh") == \
        "车道 gate-in 道闸在无放行决定时抬起（疑似强行闯入）"
    assert failed.type == "lane_barrier_failed"
    assert failed.message == "Barrier of lane gate-in did not answer: no reply (timeout)"


async def test_a_vehicle_inside_over_3_days_raises_and_its_exit_clears(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    assert isinstance(engine.clock, ManualClock)
    await feed(engine, sessions, car("entry", "粤B12345", at(0)),
               car("entry", "粤B55555", at(10)), car("exit", "粤B55555", at(2 * DAY)),
               car("entry", "粤B77777", at(20), result="held"))  # never let in
    engine.clock.advance(3 * DAY - 5)
    assert await engine.check_timers() == 0
    engine.clock.advance(10)
    assert await engine.check_timers() == 1
    [alarm] = await alarms(sessions)
    assert (alarm.type, alarm.severity, alarm.state) == ("vehicle_overstay", "minor", "active")
    assert alarm.message == "Vehicle 粤B12345 inside for more than 3 days"
    assert render(alarm.message_code, alarm.message_params, "zh") == \
        "车辆 粤B12345 在场内已超过 3 天"
    await feed(engine, sessions, car("exit", "粤B12345", at(3 * DAY + 60)))
    [alarm] = await alarms(sessions)
    assert alarm.state == "cleared" and alarm.cleared_by == "rule:vehicle-overstay"
