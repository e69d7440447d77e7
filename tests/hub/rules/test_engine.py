"""The rules engine on a real database (SQLite and PostgreSQL), fed events as the ingest
stores them, with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.rules.clock import ManualClock
from hub.rules.engine import RuleEngine
from hub.rules.loader import load_rules
from hub.rules.models import AlarmHistory, Notice, RuleState
from hub.texts import render
from tests.hub.rules.support import (
    T0,
    alarms,
    at,
    denied,
    device,
    door,
    feed,
    row,
    seed_site,
    telemetry,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[RuleEngine]:
    await seed_site(sessions)
    yield RuleEngine(load_rules(), sessions, clock=ManualClock(T0))


def clock(engine: RuleEngine) -> ManualClock:
    assert isinstance(engine.clock, ManualClock)
    return engine.clock


async def test_forced_door_raises_once_and_repeats_count(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    await feed(engine, sessions, door("forced_open", at(0)))
    await feed(engine, sessions, door("forced_open", at(5)), door("opened", at(6), "B1-garage"))
    [alarm] = await alarms(sessions)
    assert (alarm.type, alarm.severity, alarm.state, alarm.count) == (
        "door_forced_open", "critical", "active", 2)
    assert alarm.dedup_key == "door-forced:B1-main" and alarm.door == "B1-main"
    assert alarm.last_seen == at(5) and alarm.first_seen == at(0)
    assert alarm.message == "Door B1-main forced open" and alarm.building_id is not None
    async with sessions() as session:
        steps = list(await session.scalars(select(AlarmHistory.action)))
    assert steps == ["raised"]


async def test_five_denied_within_a_minute_at_one_door(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    # four at B1-main spread over 2 minutes, four at the garage: nothing yet
    await feed(engine, sessions, *[denied(at(i * 40)) for i in range(4)])
    await feed(engine, sessions, *[denied(at(i), "B1-garage") for i in range(4)])
    assert await alarms(sessions) == []
    await feed(engine, sessions, denied(at(4), "B1-garage"))
    [alarm] = await alarms(sessions)
    assert alarm.type == "repeated_denials" and alarm.door == "B1-garage"
    assert alarm.message.startswith("5 refused attempts at door B1-garage")


async def test_held_open_fires_after_60_s_and_closing_clears(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    await feed(engine, sessions, door("opened", at(0)))
    clock(engine).advance(59)
    assert await engine.check_timers() == 0
    await feed(engine, sessions, door("held_open", at(30)))  # the edge's own, changes nothing
    clock(engine).advance(2)
    assert await engine.check_timers() == 1
    assert await engine.check_timers() == 0  # fired once
    [alarm] = await alarms(sessions)
    assert alarm.type == "door_held_open" and alarm.state == "active"
    assert alarm.message == "Door B1-main held open for more than 60 s"
    await feed(engine, sessions, door("closed", at(70)))
    [alarm] = await alarms(sessions)
    assert alarm.state == "cleared" and alarm.cleared_by == "rule:door-held-open"
    # opened and closed within the minute: no alarm
    await feed(engine, sessions, door("opened", at(100)), door("closed", at(110)))
    clock(engine).advance(300)
    assert await engine.check_timers() == 0
    assert len(await alarms(sessions)) == 1


async def test_pressure_low_for_five_minutes(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    await feed(engine, sessions, telemetry({"pressure": 0.05}, at(0)))
    await feed(engine, sessions, telemetry({"pressure": 0.04}, at(60)))
    clock(engine).advance(299)
    assert await engine.check_timers() == 0
    clock(engine).advance(2)
    assert await engine.check_timers() == 1
    [alarm] = await alarms(sessions)
    assert alarm.type == "pressure_low" and "0.05 MPa" in alarm.message
    await feed(engine, sessions, telemetry({"pressure": 0.3}, at(400)))
    [alarm] = await alarms(sessions)
    assert alarm.state == "cleared"


async def test_fault_raises_and_clear_event_clears(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    fault = {"code": "Err41", "severity": "critical", "skill": "elevator_safety",
             "text": "Safety circuit open"}
    await feed(engine, sessions, device("fault_raised", at(0), **fault))
    await feed(engine, sessions, device("fault_raised", at(1), **fault))
    [alarm] = await alarms(sessions)
    assert alarm.count == 2 and alarm.message == "lift-1 fault Err41: Safety circuit open"
    await feed(engine, sessions, device("fault_cleared", at(2), code="Err41"))
    # raised anew after clearing: a new alarm
    await feed(engine, sessions, device("fault_raised", at(3), **fault))
    first, second = await alarms(sessions)
    assert first.state == "cleared" and first.cleared_by == "rule:device-fault-cleared"
    assert second.state == "active" and second.count == 1


async def test_elevator_out_of_service_notices(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    oos = {"service_mode": "out_of_service", "floor": 1}
    await feed(engine, sessions, telemetry(oos, at(0), "lift-1", "elevator"))
    clock(engine).advance(601)
    assert await engine.check_timers() == 1
    await feed(engine, sessions, telemetry(oos, at(620), "lift-1", "elevator"))
    await feed(engine, sessions, telemetry({"service_mode": "normal"}, at(700), "lift-1",
                                           "elevator"))
    async with sessions() as session:
        notices = list(await session.scalars(select(Notice).order_by(Notice.id)))
    assert [n.title for n in notices] == [
        "Elevator out of service: lift-1", "Elevator back in service: lift-1"]
    # kept as codes: each reader reads them in their language
    assert [render(f"{n.text_code}.title", n.text_params, "zh") for n in notices] == [
        "电梯停用：lift-1", "电梯恢复：lift-1"]
    assert render(f"{notices[0].text_code}.body", notices[0].text_params, "zh") == (
        "电梯 lift-1 暂停服务，维修人员正在处理。")
    assert all(n.building_id is not None and n.source == "rule:elevator-out-of-service"
               for n in notices)


async def test_late_event_does_not_restart_a_reset_timer(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    await feed(engine, sessions, door("opened", at(0)), door("closed", at(10)))
    await feed(engine, sessions, door("opened", at(5)))  # arrives late, already over
    clock(engine).advance(600)
    assert await engine.check_timers() == 0
    async with sessions() as session:
        st = (await session.scalars(select(RuleState))).one()
    assert st.state == "idle"


async def test_fault_opens_one_work_order_per_device_and_code(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    from hub.models import Device
    from hub.workorders import WorkOrder

    async with sessions() as session, session.begin():
        session.add(Device(site_id="demo", edge="b1-edge", name="lift-1", device_type="elevator",
                           model="elevator-vvvf-a", status="online"))
    fault = {"code": "Err41", "severity": "critical", "skill": "elevator_safety",
             "text": "Safety circuit open"}
    await feed(engine, sessions, device("fault_raised", at(0), **fault))
    await feed(engine, sessions, device("fault_raised", at(1), **fault),
               device("fault_raised", at(2), code="Err30", skill="elevator_mechanical",
                      text="Levelling"))
    async with sessions() as session:
        orders = list(await session.scalars(select(WorkOrder).order_by(WorkOrder.id)))
    assert [(o.fault_code, o.skill, o.priority, o.source, o.state[:4]) for o in orders] == [
        ("Err41", "elevator_safety", "urgent", "rule:device-fault", "open"),  # a lift, critical
        ("Err30", "elevator_mechanical", "high", "rule:device-fault", "open")]
    assert orders[0].title == "lift-1: Err41 Safety circuit open"
    # the fault's Chinese is the device model's own (text_zh); absent here, English stands in
    assert render(orders[0].title_code, orders[0].title_params, "zh") == (
        "lift-1：Err41 Safety circuit open")
    [first, _] = list(await alarms(sessions))
    assert first.device_id == orders[0].device_id


class RecordingSender:
    """Stands in for hub.commands.CommandSender at the engine's edge."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    async def send(self, **command: object) -> None:
        self.sent.append(command)


async def test_a_site_rule_sends_a_lockdown_after_the_commit(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    await seed_site(sessions)
    (tmp_path / "demo.yaml").write_text("""
site: demo
rules:
  - name: forced-lockdown
    match: {kind: door, where: {data.event: forced_open, data.door: B1-main}}
    actions:
      - send_command: {command: lockdown, reason: "door {data.door} forced"}
      - post_notice: {audience: site, title: 封闭 Lockdown, body: "{edge} locked down"}
""")
    sender = RecordingSender()
    engine = RuleEngine(load_rules(tmp_path), sessions, clock=ManualClock(T0), commands=sender)
    await feed(engine, sessions, door("forced_open", at(0), "B1-garage"))
    assert sender.sent == []
    async with sessions() as session, session.begin():
        after = await engine.evaluate(session, [door("forced_open", at(1))])
        assert sender.sent == []  # nothing leaves before the commit
    assert after is not None
    await after()
    assert sender.sent == [{"site": "demo", "edge": "b1-edge", "command": "lockdown",
                            "door": None, "reason": "door B1-main forced",
                            "issued_by": "rule:forced-lockdown", "duration_s": None}]
    async with sessions() as session:
        notice = (await session.scalars(select(Notice))).one()
    assert (notice.building_id, notice.body) == (None, "b1-edge locked down")
    assert len(await alarms(sessions)) == 2  # the built-in forced-open rule still raised


async def test_absence_fires_on_silence_and_resets_when_heard(
        sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    await seed_site(sessions)
    (tmp_path / "silence.yaml").write_text("""
rules:
  - name: pump-silent
    match: {kind: telemetry, where: {data.device_type: pressure_sensor}}
    absence: {for_s: 600, by: [site, edge, device]}
    actions:
      - raise_alarm: {type: telemetry_silent, severity: minor, key: "silent:{device}",
                      message: "{device} silent for {for_s} s"}
    on_reset:
      - clear_alarm: {key: "silent:{device}", note: heard again}
""")
    engine = RuleEngine(load_rules(tmp_path), sessions, clock=ManualClock(T0))
    await feed(engine, sessions, telemetry({"pressure": 0.4}, at(0)))
    clock(engine).advance(500)
    await feed(engine, sessions, telemetry({"pressure": 0.4}, at(500)))  # re-armed
    clock(engine).advance(500)
    assert await engine.check_timers() == 0
    clock(engine).advance(101)
    assert await engine.check_timers() == 1
    [alarm] = [a for a in await alarms(sessions) if a.type == "telemetry_silent"]
    assert alarm.message == "pump-1 silent for 600 s" and alarm.severity == "minor"
    await feed(engine, sessions, telemetry({"pressure": 0.4}, at(1200)))
    [alarm] = [a for a in await alarms(sessions) if a.type == "telemetry_silent"]
    assert alarm.state == "cleared"


async def test_fault_alarm_takes_the_faults_own_severity(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    await feed(engine, sessions,
               device("fault_raised", at(0), code="Err41", severity="critical", text="x"),
               device("fault_raised", at(0), name="lift-2", code="Err30", text="y"))
    assert sorted((a.device, a.severity) for a in await alarms(sessions)) == [
        ("lift-1", "critical"), ("lift-2", "major")]


async def test_camera_motion_links_its_snapshot_and_tamper_opens_an_order(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    from hub.models import Device
    from hub.workorders import WorkOrder

    snapshot = "0190cccc-0000-7000-8000-000000000001"
    motion = row("camera", {"camera": "cam-1", "event": "motion", "zone": "lobby",
                            "area": 0.2, "snapshot_id": snapshot}, ts=at(0), device="cam-1")
    await feed(engine, sessions, motion)
    [alarm] = await alarms(sessions)
    assert (alarm.type, alarm.snapshot_id) == ("camera_motion", snapshot)
    assert alarm.message == "Motion seen by camera cam-1 in zone lobby"
    async with sessions() as session, session.begin():
        session.add(Device(site_id="demo", edge="b1-edge", name="cam-1", device_type="camera",
                           model="cam", status="online"))
    await feed(engine, sessions, device("fault_raised", at(1), name="cam-1",
                                        device_type="camera", code="camera_covered"))
    tamper = [a for a in await alarms(sessions) if a.type != "camera_motion"]
    assert [(a.type, a.severity) for a in tamper] == [("camera_tamper", "major")]  # no double
    async with sessions() as session:
        order = (await session.scalars(select(WorkOrder))).one()
    # a camera is no lift: its major tamper is a normal order (was urgent)
    assert (order.fault_code, order.skill, order.priority) == ("camera_covered", "camera",
                                                               "normal")
    await feed(engine, sessions, device("fault_cleared", at(2), name="cam-1",
                                        device_type="camera", code="camera_covered"))
    assert [a.state for a in await alarms(sessions) if a.type == "camera_tamper"] == ["active"]
    clock(engine).advance(125)  # the view stayed normal for two minutes: cleared then
    assert await engine.check_timers() == 1
    assert [a.state for a in await alarms(sessions) if a.type == "camera_tamper"] == ["cleared"]


async def test_a_flapping_camera_counts_on_one_alarm(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    """The demo's camera raised 16-19 tamper alarms in 6 minutes, each cleared within a
    second: now one alarm counts them, and clears once the view stays normal."""
    cam = {"name": "cam-1", "device_type": "camera", "code": "camera_moved"}
    for i in range(18):
        await feed(engine, sessions,
                   device("fault_raised", at(20 * i), text="moved", text_zh="被移动", **cam),
                   device("fault_cleared", at(20 * i + 1), **cam))
        clock(engine).advance(20)
        await engine.check_timers()
    [alarm] = await alarms(sessions)
    assert (alarm.type, alarm.state, alarm.count) == ("camera_tamper", "active", 18)
    assert alarm.last_seen == at(20 * 17)
    clock(engine).advance(121)
    assert await engine.check_timers() == 1
    [alarm] = await alarms(sessions)
    assert alarm.state == "cleared"
    async with sessions() as session:
        steps = list(await session.scalars(select(AlarmHistory).order_by(AlarmHistory.id)))
    assert [s.action for s in steps] == ["raised", "cleared"]
    assert render(steps[1].note_code, steps[1].note_params, "zh") == "摄像头画面已恢复正常 120 秒"


@pytest.mark.parametrize(("device_type", "severity", "priority"), [
    ("elevator", "critical", "urgent"), ("elevator", "major", "high"),
    ("elevator", "minor", "normal"), ("fire_panel", "critical", "urgent"),
    ("camera", "critical", "high"), ("camera", "major", "normal"), ("reader", "minor", "low"),
    ("elevator", None, "high"),  # no rating from the device: the rule's own priority
])
async def test_fault_order_priority_follows_severity_and_device_type(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession], device_type: str,
        severity: str | None, priority: str) -> None:
    from hub.models import Device
    from hub.workorders import WorkOrder

    async with sessions() as session, session.begin():
        session.add(Device(site_id="demo", edge="b1-edge", name="dev-1", device_type=device_type,
                           model="m", status="online"))
    rating = {"severity": severity} if severity else {}
    await feed(engine, sessions, device("fault_raised", at(0), name="dev-1",
                                        device_type=device_type, code="E1", text="t", **rating))
    async with sessions() as session:
        order = (await session.scalars(select(WorkOrder))).one()
    assert order.priority == priority


async def test_disk_low_and_ok(engine: RuleEngine,
                               sessions: async_sessionmaker[AsyncSession]) -> None:
    await feed(engine, sessions, row("agent", {"event": "disk_low", "detail": "312 MB free"},
                                     ts=at(0), device="agent"))
    [alarm] = await alarms(sessions)
    assert alarm.message == "Edge b1-edge: disk nearly full"
    assert render(alarm.message_code, alarm.message_params, "zh") == "边缘网关 b1-edge 磁盘将满"
    await feed(engine, sessions, row("agent", {"event": "disk_ok", "detail": ""}, ts=at(9),
                                     device="agent"))
    assert [a.state for a in await alarms(sessions)] == ["cleared"]


async def test_a_duress_grant_raises_a_critical_alarm_a_normal_grant_none(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    def granted(ts: datetime, warning: str | None) -> dict[str, Any]:
        return row("access", {"door": "B1-bikes", "credential_type": "card", "credential": "1001",
                              "resident_id": 101, "result": "granted", "reason": "granted",
                              "decision_us": 4000, "warning": warning}, ts=ts, device="B1-bikes")

    await feed(engine, sessions, granted(at(0), None))
    assert await alarms(sessions) == []
    await feed(engine, sessions, granted(at(5), "duress"))
    [alarm] = await alarms(sessions)
    assert (alarm.type, alarm.severity) == ("duress", "critical")
    assert "DURESS at door B1-bikes (resident 101)" in alarm.message
    assert "胁迫" in render(alarm.message_code, alarm.message_params, "zh")


@pytest.mark.parametrize(("raised", "cleared", "kind"), [
    ("reader_tamper", "reader_tamper_cleared", "reader_tamper"),
    ("reader_power_fail", "reader_power_ok", "reader_power_fail"),
])
async def test_reader_tamper_and_power_raise_and_clear(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession], raised: str,
        cleared: str, kind: str) -> None:
    await feed(engine, sessions, door(raised, at(0)))
    [alarm] = await alarms(sessions)
    assert alarm.type == kind and "B1-main" in alarm.message
    await feed(engine, sessions, door(cleared, at(3)))
    assert [a.state for a in await alarms(sessions)] == ["cleared"]


async def test_wrong_pins_in_a_row_raise_a_door_alarm(
        engine: RuleEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    await feed(engine, sessions, door("pin_failures", at(0)))
    [alarm] = await alarms(sessions)
    assert (alarm.type, alarm.severity) == ("pin_failures", "major")
