"""Issue 15's headline, on real parts (Mosquitto, the hub on PostgreSQL, libosdp readers on
one multi-drop line, pymodbus lift and fire panel): an edge provisioned with nothing but its
identity is given a building entirely through the REST API — the edge, an OSDP line with two
door readers and a car reader, a Modbus line with a fire panel, a lift controller and its lift
— and works at the door and in the car without being restarted. Then a configuration it cannot
apply (a serial port it lacks) is refused whole while the doors run on, a device removed
through the API stops being polled, and after the hub's database went back (restored from a
backup) the edge takes the hub's configuration again only on its signed reset."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from hub.models import EdgeConfigVersion
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.osdp_door import OsdpDoorSimulator
from simulators.osdp_line import OsdpLine
from tests.support.building import ADMIN_PASSWORD
from tests.support.services import MosquittoServer, free_port
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]
MODELS = load_models()
PTY = SerialSettings(baudrate=9600, parity="N")  # Linux ptys refuse parity bits


def enabled(lift: ModbusDeviceSimulator) -> list[int]:
    """The floors the lift controller (elevator-vvvf-a: one bit per floor) has enabled."""
    fa = lift.model.floor_access
    assert fa is not None
    mask = int(lift.raw("floor_enable"))
    return [fa.floor(b) for b in range(fa.floors) if mask >> b & 1]


def polls(sim: ModbusDeviceSimulator) -> list[int]:
    """Count the replies `sim` sends (the simulator asks before each whether to garble it)."""
    count, take = [0], sim.take_garble

    def counted() -> bool:
        count[0] += 1
        return take()
    sim.take_garble = counted  # type: ignore[method-assign]
    return count


async def _running(call: Callable[..., Any], edge_id: int, version: int) -> Any:
    detail = await call("GET", f"/edges/{edge_id}")
    return detail if detail["config"]["running_version"] == version else None


async def swipe_opens(sim: OsdpDoorSimulator, card: str = "1001") -> None:
    sim.present_card(card)
    assert await asyncio.to_thread(sim.wait_relay, True, 15) is not None, f"{sim.name} stayed"
    assert await asyncio.to_thread(sim.wait_relay, False, 15) is not None


async def test_a_building_commissioned_through_the_api_works_without_an_edge_restart(
        tmp_path: Path, mosquitto: MosquittoServer, postgres_url: str) -> None:
    settings = HubSettings(
        database_url=postgres_url, mqtt_host="127.0.0.1", mqtt_port=mosquitto.port,
        mqtt_username="hub", mqtt_client_id=f"hub-{secrets.token_hex(3)}",
        http_host="127.0.0.1", http_port=free_port(), admin_username="admin",
        admin_password=ADMIN_PASSWORD, data_dir=tmp_path / "hub")
    keys = {address: secrets.token_bytes(16) for address in (1, 2, 3)}
    line = OsdpLine()
    readers = {name: OsdpDoorSimulator(address=a, scbk=keys[a], name=name, line=line)
               for name, a in (("B9-main", 1), ("B9-side", 2), ("B9-car", 3))}
    for sim in readers.values():
        sim.start()
    try:
        async with Hub(settings) as hub, \
                ModbusDeviceSimulator(MODELS["fire-panel-8z"], name="fire", serial=PTY) as fire, \
                ModbusDeviceSimulator(MODELS["elevator-vvvf-a"], name="lift",
                                      transport="tcp") as lift, \
                aiohttp.ClientSession() as http:
            await seed_demo(hub.sessions)  # the site, its units and residents (张伟: card 1001)
            api = f"{hub.url}/api/v1"

            async def call(method: str, path: str, body: Any = None, status: int = 200) -> Any:
                async with http.request(method, api + path, json=body) as resp:
                    payload = await resp.json() if resp.status != 204 else None
                    assert resp.status == status, (method, path, resp.status, payload)
                    return payload

            login = await call("POST", "/auth/login",
                               {"username": "admin", "password": ADMIN_PASSWORD})
            http.headers["Authorization"] = f"Bearer {login['token']}"
            edge = await call("POST", "/edges", {"site_id": "demo", "name": "b9-edge",
                                                 "label": "9号楼"}, 201)
            # provisioned as `lintel provision edge` writes it: identity and bootstrap only
            config = EdgeConfig.model_validate({
                "site": "demo", "edge": "b9-edge", "data_dir": str(tmp_path / "edge"),
                "mqtt": {"port": mosquitto.port, "username": "b9-edge", "backoff_min_s": 1,
                         "backoff_max_s": 2},
                "hub_keys": hub.downlink.public_keys if hub.downlink else []})
            async with EdgeAgent(config) as agent:
                await until(lambda: agent.configs.version, "the edge's first configuration")
                assert agent.doors == {}
                e = edge["id"]
                osdp = await call("POST", "/lines", {"edge_id": e, "name": "readers",
                                                     "port": line.port, "protocol": "osdp"}, 201)
                modbus = await call("POST", "/lines", {
                    "edge_id": e, "name": "bus", "port": fire.port, "protocol": "modbus",
                    "baudrate": 9600, "parity": "N"}, 201)
                fire_dev = await call("POST", "/devices", {
                    "edge_id": e, "name": "B9-fire", "model": "fire-panel-8z", "transport": "rtu",
                    "line_id": modbus["id"], "poll_interval_s": 0.2}, 201)
                lift_dev = await call("POST", "/devices", {
                    "edge_id": e, "name": "B9-lift-1", "model": "elevator-vvvf-a",
                    "transport": "tcp", "host": "127.0.0.1", "tcp_port": lift.tcp_port,
                    "poll_interval_s": 0.2}, 201)
                car_lift = await call("POST", "/lifts", {
                    "name": "B9-lift-1", "device_id": lift_dev["id"], "floor_enable_s": 5,
                    "floors": [{"floor": n} for n in (1, 2, 3)]}, 201)
                doors = {}
                for name, sim in readers.items():
                    doors[name] = await call("POST", "/doors", {
                        "edge_id": e, "name": name, "line_id": osdp["id"],
                        "reader_address": sim.address, "reader_key": keys[sim.address].hex(),
                        "unlock_s": 1, **({"lift_id": car_lift["id"], "contact_input": None,
                                           "rex_input": None} if name == "B9-car" else {})}, 201)
                group = await call("POST", "/access-groups", {
                    "site_id": "demo", "name": "9号楼", "doors": list(readers),
                    "floors": [3, 5]}, 201)
                residents = (await call("GET", "/residents?site_id=demo"))["items"]
                zhang = next(r for r in residents if r["name"] == "张伟")  # unit 101, floor 1
                await call("PATCH", f"/residents/{zhang['id']}",
                           {"groups": [*zhang["groups"], group["id"]]})

                await until(lambda: all(s.online for s in readers.values()),
                            "three readers online on one line")
                assert set(agent.doors) == set(readers)
                main_door = agent.doors["B9-main"]

                def floors_held() -> list[int]:
                    state = agent.cache.state
                    cred = None if state is None else state.credentials.get("1001")
                    return [] if cred is None else sorted(cred.floors)

                await until(lambda: floors_held() == [1], "card 1001 at the edge")
                await swipe_opens(readers["B9-main"])
                await swipe_opens(readers["B9-side"])
                await until(lambda: agent.devices.devices["B9-lift-1"].values is not None,
                            "the lift polled")
                # the unit's floor and the group's, of those the lift stops at (not 5, which
                # its controller could serve)
                readers["B9-car"].present_card("1001")
                await until(lambda: enabled(lift), "floors enabled")
                assert enabled(lift) == [1, 3]
                fire_polls = polls(fire)
                await until(lambda: fire_polls[0] > 3, "the fire panel polled")

                # a port the edge lacks: refused whole, reported, the doors run on
                running = agent.configs.version
                await call("PATCH", f"/lines/{osdp['id']}", {"port": "/dev/ttyLINTEL-none"})

                async def refused() -> Any:
                    detail = await call("GET", f"/edges/{e}")
                    return detail if detail["config"]["refused"] else None

                detail = await until(refused, "the refusal at the hub")
                assert "serial_port_missing" in detail["config"]["refused"]
                assert detail["config"]["running_version"] == running
                assert agent.configs.version == running and agent.doors["B9-main"] is main_door
                await swipe_opens(readers["B9-main"])
                await call("PATCH", f"/lines/{osdp['id']}", {"port": line.port})
                await until(lambda: agent.configs.version != running, "the port put back")

                # the fire panel removed: no longer polled, the doors untouched
                applied = agent.configs.version
                await call("DELETE", f"/devices/{fire_dev['id']}", status=204)
                await until(lambda: agent.configs.version != applied, "the removal applied")
                await asyncio.sleep(0.5)  # a poll under way as the line closed may land
                stopped_at = fire_polls[0]
                await asyncio.sleep(1.0)
                assert fire_polls[0] == stopped_at, "the removed fire panel is still polled"
                assert "B9-fire" not in agent.devices.devices
                assert agent.doors["B9-main"] is main_door
                await swipe_opens(readers["B9-main"])

                # the hub's database restored from a backup counts versions again from lower:
                # the edge refuses them as a replay until the hub's signed reset names one
                async with hub.sessions() as session, session.begin():
                    await session.execute(update(EdgeConfigVersion).where(
                        EdgeConfigVersion.edge_id == e).values(version=1))
                running, regress = agent.configs.version, agent.downlink.verifier.refused
                before = regress["version_regress"]
                await call("PATCH", f"/doors/{doors['B9-side']['id']}", {"unlock_s": 2})
                await until(lambda: regress["version_regress"] > before, "v2 refused")
                assert agent.configs.version == running
                assert (await call("GET", f"/edges/{e}"))["config"]["reset_needed"]
                command = await call("POST", f"/edges/{e}/reset-config",
                                     {"reason": "数据库从备份恢复 database restored"}, 202)
                assert command["command"] == "reset_config"
                await until(lambda: agent.configs.version == 2, "the hub's v2 taken")
                assert agent.doors["B9-side"].config.unlock_s == 2
                assert agent.doors["B9-main"] is main_door
                detail = await until(lambda: _running(call, e, 2), "the hub to see v2 run")
                assert not detail["config"]["reset_needed"]
    finally:
        for sim in readers.values():
            sim.close()
        line.close()
