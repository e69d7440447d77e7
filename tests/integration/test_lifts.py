"""Lifts (梯控) end to end on real parts: the hub (PostgreSQL) compiles a resident's floors
(their unit's, and a group's) into the signed snapshot, Mosquitto carries it, the edge agent
decides a card at a car reader (libosdp) and enables exactly those floors on each lift model
(pymodbus, both lifts on one RS-485 line); a lift in fire recall enables nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from hub.models import Door, Edge, Unit
from hub.service import Hub
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.modbus_line import ModbusLineSimulator
from tests.support.building import broker, demo_building
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
MODELS = load_models()
PTY = SerialSettings(baudrate=9600, parity="N")  # Linux ptys refuse parity bits


def enabled(sim: ModbusDeviceSimulator) -> list[int]:
    """The floors the lift controller has enabled now, read from its own tables."""
    fa = sim.model.floor_access
    assert fa is not None
    if sim.model.model == "elevator-vvvf-a":
        mask = int(sim.raw("floor_enable"))
        return [fa.floor(b) for b in range(fa.floors) if mask >> b & 1]
    return [fa.floor(b) for b in range(fa.floors) if sim.raw(f"floor_enable_{b + 1}")]


async def _car_readers(hub: Hub) -> None:
    """Two car readers on the demo's edge; 张伟's unit 101 is on 12F."""
    async with hub.sessions() as session, session.begin():
        edge = await session.scalar(select(Edge).where(Edge.name == "b1-edge"))
        assert edge is not None
        session.add_all([Door(site_id="demo", edge_id=edge.id, name="B1-car-a", label="A梯 轿厢"),
                         Door(site_id="demo", edge_id=edge.id, name="B1-car-b", label="B梯 轿厢")])
        await session.execute(update(Unit).where(Unit.number == "101").values(floor=12))


async def test_a_card_in_each_car_enables_the_residents_floors(
        tmp_path: Path, postgres_url: str) -> None:
    lifts = {"lift-a": ModbusDeviceSimulator(MODELS["elevator-vvvf-a"], name="lift-a", unit_id=1),
             "lift-b": ModbusDeviceSimulator(MODELS["elevator-mrl-b"], name="lift-b", unit_id=2)}
    async with ModbusLineSimulator(lifts.values(), transport="rtu", serial=PTY) as line:
        devices: list[dict[str, Any]] = [{
            "id": name, "model": sim.model.model, "transport": "rtu", "port": line.port,
            "unit_id": sim.unit_id, "serial": {"baudrate": 9600, "parity": "N", "stopbits": 1},
            "poll_interval_s": 0.2, "timeout_s": 0.3} for name, sim in lifts.items()]
        async with broker("mosquitto") as mqtt_port, demo_building(
                tmp_path, mqtt_port=mqtt_port, database_url=postgres_url, prepare=_car_readers,
                doors=(("B1-main", 101), ("B1-car-a", 102), ("B1-car-b", 103)),
                cars={"B1-car-a": "lift-a", "B1-car-b": "lift-b"}, devices=devices,
        ) as b:
            groups = (await b.call("GET", "/access-groups?site_id=demo"))["items"]
            home = next(g for g in groups if g["name"] == "1号楼大门")
            await b.call("PATCH", f"/access-groups/{home['id']}",
                         {"doors": ["B1-main", "B1-car-a", "B1-car-b"]})
            garage = await b.call("POST", "/access-groups", {
                "site_id": "demo", "name": "车库", "doors": ["B1-car-a", "B1-car-b"],
                "floors": ["B1"]}, status=201)
            zhang = next(r for r in (await b.call("GET", "/residents?site_id=demo"))["items"]
                         if r["name"] == "张伟")
            await b.call("PATCH", f"/residents/{zhang['id']}",
                         {"groups": [home["id"], garage["id"]]})

            def held() -> list[int] | None:
                state = b.agent.cache.state
                cred = None if state is None else state.credentials.get("1001")
                return None if cred is None or len(cred.groups) < 2 else list(cred.floors)

            await until(lambda: held() == [12], "the snapshot with 张伟's floors")
            supervisor = b.agent.devices
            await until(lambda: all(d.values is not None for d in supervisor.devices.values()),
                        "both lifts polled")

            b.sims["B1-car-a"].present_card("1001")
            # lift A serves 1F-18F: 12F only (it has no B1)
            await until(lambda: enabled(lifts["lift-a"]) == [12], "lift A's floors")
            b.sims["B1-car-b"].present_card("1001")
            await until(lambda: enabled(lifts["lift-b"]) == [-1, 12], "lift B's floors")
            assert lifts["lift-b"].writes[-1][:2] == ("coil", 0)
            # 李娜 (card 1002) is in no group: the car refuses her and enables nothing
            writes = len(lifts["lift-b"].writes)
            b.sims["B1-car-b"].present_card("1002")
            await asyncio.sleep(0.5)
            assert len(lifts["lift-b"].writes) == writes

            # in fire recall (the recall coil read back), a granted card enables nothing
            await until(lambda: enabled(lifts["lift-b"]) == [],
                        "lift B's floors off again",
                        timeout=15)
            lifts["lift-b"].set("fire_recall", True)
            await until(lambda: supervisor.floors_refused("lift-b") is not None, "recall seen")
            b.sims["B1-car-b"].present_card("1001")
            await asyncio.sleep(0.8)
            assert enabled(lifts["lift-b"]) == []
