"""The whole edge agent with its building devices, the hub unreachable: a fire alarm releases the
fail-safe egress door (a libosdp door controller) and recalls the elevators (pymodbus servers);
a card in the elevator car enables only the resident's floors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.osdp_door import OsdpDoorSimulator
from tests.support.services import free_port
from tests.support.waiting import until
from wire import AccessGroupRule, CardCredential, DoorInfo, PermissionSnapshot, SnapshotContent

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MODELS = load_models()


@dataclass
class Building:
    agent: EdgeAgent
    exit_door: OsdpDoorSimulator
    car_reader: OsdpDoorSimulator
    lift: ModbusDeviceSimulator
    fire: ModbusDeviceSimulator

    def device_events(self, event: str) -> list[dict[str, object]]:
        out = []
        for msg in self.agent.outbox.pending(limit=100_000):
            if msg.topic.endswith("/evt/device"):
                body = json.loads(msg.payload)
                if body["data"]["event"] == event:
                    out.append(body)
        return out


@pytest.fixture
async def building(tmp_path: Path) -> AsyncIterator[Building]:
    keys = {name: secrets.token_bytes(16) for name in ("B1-exit", "B1-car-1")}
    async with contextlib.AsyncExitStack() as stack:
        exit_door = OsdpDoorSimulator(address=101, scbk=keys["B1-exit"], name="B1-exit")
        car = OsdpDoorSimulator(address=102, scbk=keys["B1-car-1"], name="B1-car-1")
        for sim in (exit_door, car):
            sim.start()
            stack.callback(sim.close)
        lift = await stack.enter_async_context(ModbusDeviceSimulator(
            MODELS["elevator-vvvf-a"], name="lift-a", transport="tcp"))
        fire = await stack.enter_async_context(ModbusDeviceSimulator(
            MODELS["fire-panel-8z"], name="fire-1", transport="rtu",
            serial=SerialSettings(baudrate=9600, parity="N")))
        config = EdgeConfig.model_validate({
            "site": "demo", "edge": "b1-edge", "data_dir": str(tmp_path / "edge"),
            # Nothing listens there: the hub and its broker are unreachable throughout.
            "mqtt": {"port": free_port(), "backoff_min_s": 1, "backoff_max_s": 2},
            "doors": [
                {"id": "B1-exit", "fail_safe_egress": True, "unlock_s": 1.0,
                 "reader": {"port": exit_door.port, "address": 101, "scbk": keys["B1-exit"].hex()}},
                {"id": "B1-car-1", "elevator": "lift-a", "floor_enable_s": 0.5,
                 "reader": {"port": car.port, "address": 102, "scbk": keys["B1-car-1"].hex()}},
            ],
            "devices": [
                {"id": "lift-a", "model": "elevator-vvvf-a", "transport": "tcp",
                 "host": "127.0.0.1", "tcp_port": lift.tcp_port, "poll_interval_s": 0.1},
                {"id": "fire-1", "model": "fire-panel-8z", "transport": "rtu", "port": fire.port,
                 "serial": {"parity": "N"}, "poll_interval_s": 0.1},
            ],
        })
        agent = await stack.enter_async_context(EdgeAgent(config))
        snapshot = PermissionSnapshot.build(SnapshotContent(
            site="demo", edge="b1-edge",
            doors=[DoorInfo(id="B1-exit", name="exit"), DoorInfo(id="B1-car-1", name="car")],
            groups=[AccessGroupRule(id=1, doors=["B1-car-1"], floors=[3, 7]),
                    AccessGroupRule(id=2, doors=["B1-exit"], floors=[9])],
            credentials=[CardCredential(card="1001", resident_id=1, groups=[1, 2]),
                         CardCredential(card="2002", resident_id=2, groups=[2])],
        ), version=1, issued_at=datetime.now(UTC))
        agent.cache.apply(snapshot)
        b = Building(agent, exit_door, car, lift, fire)
        await until(lambda: exit_door.online and car.online, timeout=15)
        await until(lambda: b.device_events("online") and len(b.device_events("online")) == 2)
        yield b


async def test_fire_alarm_releases_egress_and_recalls_elevator_with_hub_down(
    building: Building,
) -> None:
    b = building
    assert not b.exit_door.relay
    start = time.monotonic()
    b.fire.zone(2, "fire")
    relay_at = await asyncio.to_thread(b.exit_door.wait_relay, True, 10.0)
    assert relay_at is not None, "the egress door was not released"
    await until(lambda: ("coil", 0, [True]) in b.lift.writes, timeout=10)
    released_in = time.monotonic() - start
    await until(lambda: b.device_events("life_safety"))
    detail = b.device_events("life_safety")[0]["data"]["detail"]
    assert "B1-exit" in detail and "lift-a" in detail and "zone(s) 2" in detail
    assert "B1-car-1" not in detail  # not configured fail-safe
    assert not b.car_reader.relay
    # Held released: a later grant pulse cannot relock it.
    await asyncio.sleep(1.5)
    assert b.exit_door.relay
    b.fire.reset_panel()
    relocked = await asyncio.to_thread(b.exit_door.wait_relay, False, 10.0)
    assert relocked is not None, "reset did not relock the door"
    await until(lambda: ("coil", 0, [False]) in b.lift.writes)
    await until(lambda: b.device_events("life_safety_reset"))
    print(f"fire zone to egress released and recall written: {released_in * 1000:.0f} ms")


async def test_car_reader_enables_only_the_residents_floors(building: Building) -> None:
    b = building
    b.car_reader.present_card("1001")
    # floors 3 and 7 from group 1 (the car reader's group); group 2's floor 9 is another door's
    await until(lambda: ("holding", 20, [0, (1 << 2) | (1 << 6)]) in b.lift.writes, timeout=10)
    await until(lambda: b.lift.writes[-1] == ("holding", 20, [0, 0]), timeout=10)
    writes = len(b.lift.writes)
    b.car_reader.present_card("2002")  # not permitted in the car: nothing is written
    await asyncio.sleep(0.8)
    assert len(b.lift.writes) == writes


async def test_hub_recall_command_and_release_never_undo_a_fire_recall(building: Building) -> None:
    from wire import EdgeCommand

    b = building
    now = datetime.now(UTC)
    head = {"site": "demo", "edge": "b1-edge", "ts": now, "expires": now + timedelta(seconds=30)}
    result = b.agent.execute(EdgeCommand(id="c1", **head, command="elevator_recall", reason="drill"))
    assert result == ("ok", "recall sent to [lift-a]")
    await until(lambda: b.lift.writes[-1:] == [("coil", 0, [True])])
    b.agent.execute(EdgeCommand(id="c2", **head, command="release"))
    await until(lambda: b.lift.writes[-1:] == [("coil", 0, [False])])
    b.fire.zone(1, "fire")
    await until(lambda: b.lift.writes[-1:] == [("coil", 0, [True])] and b.exit_door.relay)
    writes = len(b.lift.writes)
    b.agent.execute(EdgeCommand(id="c3", **head, command="release"))  # the hub cannot end it
    b.agent.execute(EdgeCommand(id="c4", **head, command="lock", door="B1-exit"))
    await asyncio.sleep(0.5)
    assert len(b.lift.writes) == writes and b.exit_door.relay
