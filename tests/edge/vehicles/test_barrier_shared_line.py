"""A lane's Modbus barrier on the RS-485 line of a polled lift (pymodbus simulators on one pty
line): the barrier's unit joins the line the device supervisor owns, the arm rises while the
lift's polls go on, the lift's telemetry keeps flowing, no request collides (no garbled or
missing reply), and a raise waiting goes on the wire before the polls still to be sent."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.config import DeviceConfig
from edge.devices import DeviceSupervisor
from edge.outbox import Outbox
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from edge.vehicles import LaneServer, VehicleLanes
from simulators.barrier import RAISE_COIL, UP_INPUT, BarrierSimulator
from simulators.lpr import push_plate
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.edge.test_devices import Recorder
from tests.edge.vehicles.test_barrier import lane_events, until
from wire.vehicles import LaneConfig, ModbusBarrier, ResidentVehicle, VehiclePermissions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
MODELS = load_models()
PTY = SerialSettings(baudrate=9600, parity="N")  # Linux ptys refuse parity bits
SECRET = "lane-secret-3"
LIFT_UNIT, BARRIER_UNIT = 1, 5
WRITE_COIL = (5, 15)  # Modbus functions that write coils


@dataclass
class Bus:
    gate: BarrierSimulator
    lift: ModbusDeviceSimulator
    sup: DeviceSupervisor
    vehicles: VehicleLanes
    lane: LaneConfig
    rec: Recorder
    outbox: Outbox


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[Bus]:
    lift = ModbusDeviceSimulator(MODELS["elevator-vvvf-a"], name="lift-a", unit_id=LIFT_UNIT,
                                 serial=PTY)
    rec = Recorder()
    outbox = Outbox(tmp_path / "outbox.db", site="s1", edge="gate")
    async with BarrierSimulator(unit_id=BARRIER_UNIT, hold_s=0.6, transport="rtu",
                                others=[lift]) as gate:
        assert gate.port is not None
        device = DeviceConfig.model_validate({
            "id": "lift-a", "model": "elevator-vvvf-a", "transport": "rtu", "port": gate.port,
            "unit_id": LIFT_UNIT, "serial": {"baudrate": 9600, "parity": "N", "stopbits": 1},
            "poll_interval_s": 0.1, "timeout_s": 2.0, "telemetry_every_s": 1})
        # as ConfigContent.resolved fills the barrier in from the line both name
        lane = LaneConfig(id="gate-in", direction="entry",
                          camera_secret_sha256=hashlib.sha256(SECRET.encode()).hexdigest(),
                          barrier=ModbusBarrier(transport="rtu", line="riser-485",
                                                port=gate.port, baudrate=9600,
                                                unit_id=BARRIER_UNIT, coil=RAISE_COIL,
                                                up_input=UP_INPUT, pulse_s=0.2,
                                                forced_after_s=1.5))
        async with DeviceSupervisor([device], rec) as sup:
            vehicles = VehicleLanes(outbox.add_event, lines=sup)
            try:
                await vehicles.set_lanes([lane])
                yield Bus(gate, lift, sup, vehicles, lane, rec, outbox)
            finally:
                await vehicles.close()
    outbox.close()


async def test_the_barrier_rises_on_the_lifts_line_while_its_polls_go_on(bus: Bus) -> None:
    output = bus.vehicles.barriers["gate-in"]
    lift = bus.sup.devices["lift-a"].link
    assert lift is not None
    assert output.link.line is lift.line  # one bus owner for the port
    assert set(lift.line.links) == {"lift-a", "barrier-gate-in"}
    await until(lambda: output.up is False and bus.rec.telemetry("lift-a"))
    bus.vehicles.apply(VehiclePermissions(
        residents=[ResidentVehicle(plate="粤B12345", household_id=7)]))
    async with LaneServer([bus.lane], bus.vehicles.on_reading, bus.vehicles.on_refused,
                          host="127.0.0.1", port=0) as server:
        url = f"http://127.0.0.1:{server.port}/lpr/gate-in"
        for n in range(1, 6):
            polled = lift.counters.ok
            got = await asyncio.to_thread(push_plate, url, "粤B12345", secret=SECRET)
            assert got.opened and bus.gate.raised == n  # the coil pulsed before the answer
            bus.lift.move_elevator(n + 1)  # the car moves meanwhile: its polls must see it
            await until(lambda n=n, polled=polled: bus.rec.telemetry("lift-a")[-1]["floor"]
                        == n + 1 and lift.counters.ok > polled + 2, timeout=10)
            await until(lambda: not bus.gate.coil and output.up is False, timeout=10)
    # nothing collided on the bus: every request of either unit had its reply
    for link in (lift, output.link):
        assert (link.counters.timeouts, link.counters.crc_errors, link.counters.write_errors,
                link.counters.exceptions) == (0, 0, 0, 0), link.counters
    assert output.forced == 0
    assert not [e for e in lane_events(bus.outbox) if e["kind"] == "lane"]
    assert not bus.rec.device("lift-a", "offline")


async def test_a_waiting_raise_goes_before_the_polls_still_to_send(bus: Bus) -> None:
    """The lift's read is held on the wire (the simulator answers when told); the raise asked
    for meanwhile is the next request on the line, before any further poll."""
    output = bus.vehicles.barriers["gate-in"]
    lift = bus.sup.devices["lift-a"].link
    assert lift is not None
    await until(lambda: bus.rec.telemetry("lift-a") and output.up is False)
    hold = bus.gate.held[LIFT_UNIT] = asyncio.Event()
    await until(lambda: bus.gate.holding == LIFT_UNIT)  # a lift read on the wire
    opening = asyncio.create_task(output.open())
    await until(lambda: lift.line._writes == 1)  # the raise waits for the wire
    seen = len(bus.gate.requests)
    assert bus.gate.raised == 0
    del bus.gate.held[LIFT_UNIT]
    hold.set()
    assert await opening
    unit, function, address = bus.gate.requests[seen]
    assert unit == BARRIER_UNIT and function in WRITE_COIL and address == RAISE_COIL, (
        bus.gate.requests[seen - 2:])
    assert bus.gate.raised == 1
    polled = lift.counters.ok
    await until(lambda: lift.counters.ok > polled + 2)  # and the polls go on


async def test_the_barrier_stays_on_its_line_as_the_devices_change(bus: Bus) -> None:
    """A new installation rebuilds the line (a device changed, then gone): the barrier's unit
    moves onto the new line, keeps its counters, and still rises."""
    output = bus.vehicles.barriers["gate-in"]
    device = bus.sup.devices["lift-a"].config
    first = output.link.line
    await until(lambda: output.up is False)
    await bus.sup.reconcile([device.model_copy(update={"poll_interval_s": 0.2})])
    lift = bus.sup.devices["lift-a"].link
    assert lift is not None and output.link.line is lift.line is not first
    assert first.closed
    assert await output.open() and bus.gate.raised == 1
    await until(lambda: not bus.gate.coil and output.up is False, timeout=10)
    await bus.sup.reconcile([])  # no device left on the port: the barrier's line is its own
    assert not bus.sup.devices and not output.link.line.closed
    assert set(output.link.line.links) == {"barrier-gate-in"}
    assert await output.open() and bus.gate.raised == 2
    polled = output.link.counters.ok
    await until(lambda: output.link.counters.ok > polled + 2)
    await bus.vehicles.set_lanes([])  # the lane gone: its line closes with it
    assert not bus.sup._lines
