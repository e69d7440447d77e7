"""A lane whose barrier hangs on a Modbus relay module (a real pymodbus TCP server): an open
decision pulses the coil, a refusal does not, the arm rising with no decision is reported
forced, and a unit that does not answer is reported as a failed barrier."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.outbox import Outbox
from edge.vehicles import LaneServer, VehicleLanes
from harness.services import free_port
from simulators.barrier import RAISE_COIL, UP_INPUT, BarrierSimulator
from simulators.lpr import push_plate
from tests.support.waiting import until
from wire.events import parse_event
from wire.vehicles import (
    BlockedPlate,
    LaneConfig,
    ModbusBarrier,
    ResidentVehicle,
    VehiclePermissions,
)

pytestmark = pytest.mark.timeout(60)
SECRET = "lane-secret-2"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()


def lane_events(outbox: Outbox) -> list[dict[str, object]]:
    out = []
    for msg in outbox.pending(limit=1000):
        event = parse_event(msg.payload)
        out.append({"kind": event.kind, **json.loads(event.data.model_dump_json())})
    return out


@pytest.fixture(params=["tcp", "rtu"])
async def gate(request: pytest.FixtureRequest) -> AsyncIterator[BarrierSimulator]:
    """The barrier's relay unit over Modbus TCP, or on an RS-485 line of its own (RTU)."""
    async with BarrierSimulator(hold_s=0.6, transport=request.param) as sim:
        yield sim


def modbus_lane(gate: BarrierSimulator | int) -> LaneConfig:
    if isinstance(gate, int) or gate.transport == "tcp":
        port = gate if isinstance(gate, int) else gate.tcp_port
        where: dict[str, object] = {"host": "127.0.0.1", "tcp_port": port}
    else:  # as ConfigContent.resolved fills it in from the lane's line
        where = {"transport": "rtu", "line": "gate-485", "port": gate.port, "baudrate": 9600}
    return LaneConfig(id="gate-in", direction="entry", camera_secret_sha256=DIGEST,
                      barrier=ModbusBarrier(coil=RAISE_COIL, up_input=UP_INPUT, pulse_s=0.2,
                                            forced_after_s=1.5, **where))  # type: ignore[arg-type]


async def test_modbus_barrier_raised_on_open_and_forced_rise_reported(
        tmp_path: Path, gate: BarrierSimulator) -> None:
    outbox = Outbox(tmp_path / "outbox.db", site="s1", edge="gate")
    vehicles = VehicleLanes(outbox.add_event)
    vehicles.apply(VehiclePermissions(
        residents=[ResidentVehicle(plate="粤B12345", household_id=7)],
        blocked=[BlockedPlate(plate="粤B99999", reason="stolen")]))
    lane = modbus_lane(gate)
    try:
        await vehicles.set_lanes([lane])
        output = vehicles.barriers["gate-in"]
        await until(lambda: output.up is False)  # the up input read once: the arm is down
        async with LaneServer([lane], vehicles.on_reading, vehicles.on_refused,
                              host="127.0.0.1", port=0) as server:
            url = f"http://127.0.0.1:{server.port}/lpr/gate-in"
            refused = await asyncio.to_thread(push_plate, url, "粤B99999", secret=SECRET)
            assert not refused.opened and gate.raised == 0
            got = await asyncio.to_thread(push_plate, url, "粤B12345", secret=SECRET)
            assert got.opened
            assert gate.raised == 1 and gate.up  # the coil pulsed before the answer
            await until(lambda: not gate.coil)  # and released after pulse_s
            await until(lambda: output.up is False, timeout=15)  # the car passed, the arm fell
            assert output.forced == 0  # a rise the edge commanded is no forced rise
            await asyncio.sleep(1.6)  # past forced_after_s
            gate.force()
            await until(lambda: output.forced == 1)
        forced = [e for e in lane_events(outbox) if e["kind"] == "lane"]
        assert [(e["lane"], e["event"]) for e in forced] == [("gate-in", "forced")]
        # a changed lane without the Modbus barrier stops driving it
        await vehicles.set_lanes([lane.model_copy(update={"barrier": "camera_relay"})])
        assert vehicles.barriers == {}
    finally:
        await vehicles.close()
        outbox.close()


async def test_unreachable_barrier_reported_failed(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", site="s1", edge="gate")
    vehicles = VehicleLanes(outbox.add_event)
    vehicles.apply(VehiclePermissions(
        residents=[ResidentVehicle(plate="粤B12345", household_id=7)]))
    lane = modbus_lane(free_port())  # nobody listens there
    try:
        await vehicles.set_lanes([lane])
        async with LaneServer([lane], vehicles.on_reading, vehicles.on_refused,
                              host="127.0.0.1", port=0) as server:
            url = f"http://127.0.0.1:{server.port}/lpr/gate-in"
            got = await asyncio.to_thread(push_plate, url, "粤B12345", secret=SECRET)
            assert got.opened  # the decision stands; the camera's answer still says open
        failed = [e for e in lane_events(outbox) if e["kind"] == "lane"]
        assert [e["event"] for e in failed] == ["barrier_failed"]
    finally:
        await vehicles.close()
        outbox.close()


async def test_a_guard_opens_a_camera_relay_lane_at_its_next_push(tmp_path: Path) -> None:
    """A camera's relay cannot be worked from the edge at will: the guard's open is the
    answer to that camera's next push (the held car seen again), recorded as guard_open."""
    outbox = Outbox(tmp_path / "outbox.db", site="s1", edge="gate")
    vehicles = VehicleLanes(outbox.add_event)
    vehicles.apply(VehiclePermissions(settings={"temporary_entry": "guard"}))  # type: ignore[arg-type]
    lane = LaneConfig(id="gate-in", direction="entry", camera_secret_sha256=DIGEST)
    try:
        await vehicles.set_lanes([lane])
        assert vehicles.guard_open("nowhere", None, "x", "guard1") == (False,
                                                                       "unknown lane nowhere")
        async with LaneServer([lane], vehicles.on_reading, vehicles.on_refused,
                              host="127.0.0.1", port=0) as server:
            url = f"http://127.0.0.1:{server.port}/lpr/gate-in"
            held = await asyncio.to_thread(push_plate, url, "粤A77777", secret=SECRET)
            assert not held.opened
            done, how = vehicles.guard_open("gate-in", None, "送货 delivery", "guard1")
            assert done and "next heartbeat or push" in how
            again = await asyncio.to_thread(push_plate, url, "粤A77777", secret=SECRET)
            assert again.opened
            later = await asyncio.to_thread(push_plate, url, "粤A88888", secret=SECRET)
            assert not later.opened  # one open, one car
        events = lane_events(outbox)
        decisions = [(e["plate"], e["result"], e["reason"]) for e in events
                     if e["kind"] == "vehicle"]
        assert decisions == [("粤A77777", "held", "temporary"), ("粤A77777", "open", "guard_open"),
                             ("粤A88888", "held", "temporary")]
        [opened] = [e for e in events if e["kind"] == "lane"]
        assert (opened["event"], opened["reason"], opened["by"]) == (
            "guard_open", "送货 delivery", "guard1")
        assert "粤A77777" in vehicles.decider.inside
    finally:
        await vehicles.close()
        outbox.close()
