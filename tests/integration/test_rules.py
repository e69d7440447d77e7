"""The built-in rules end to end: libosdp doors and pymodbus devices, the edge agent,
Mosquitto, the hub with its rules engine; timers driven by a clock the test moves forward.
Alarms are read through the API and the guards' live feed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from hub.models import Building, Edge
from hub.rules.clock import ShiftedClock
from hub.service import Hub
from hub.workorders import WorkOrder
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.support.building import ADMIN_PASSWORD, demo_building
from tests.support.building import Building as Site
from tests.support.live import live_socket
from tests.support.services import MosquittoServer
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]
MODELS = load_models()


async def alarms(b: Site, **query: str) -> list[dict[str, Any]]:
    return list((await b.call("GET", "/alarms?" + "&".join(f"{k}={v}" for k, v in query.items())
                              ))["items"])


async def one_alarm(b: Site, timeout: float = 10.0, **query: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        items = await alarms(b, **query)
        return items[0] if items else None
    return await until(found, f"an alarm {query}", timeout=timeout)  # type: ignore[no-any-return]


async def login(b: Site, role: str) -> str:
    await b.call("POST", "/users", {"username": role, "password": ADMIN_PASSWORD, "role": role,
                                    "site_id": "demo"}, status=201)
    async with b.http.post(f"{b.api}/auth/login",
                           json={"username": role, "password": ADMIN_PASSWORD}) as resp:
        assert resp.status == 200
        return str((await resp.json())["token"])


async def as_user(b: Site, token: str, method: str, path: str, body: Any = None,
                  status: int = 200) -> Any:
    async with b.http.request(method, f"{b.api}{path}", json=body,
                              headers={"Authorization": f"Bearer {token}"}) as resp:
        payload = await resp.json()
        assert resp.status == status, (resp.status, payload)
        return payload


async def test_door_rules_and_the_alarm_lifecycle(tmp_path: Path,
                                                  mosquitto: MosquittoServer) -> None:
    clock = ShiftedClock()
    async with demo_building(tmp_path, mqtt_port=mosquitto.port,
                             database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db",
                             clock=clock, rules_check_interval_s=0.1) as b:
        guard = await login(b, "guard")
        async with live_socket(b.http, b.hub.url, ["alarms"], token=guard) as feed:
            # five refused cards within a minute at one door
            for _ in range(5):
                b.sim.present_card("9999")
                await asyncio.sleep(0.15)
            pushed = await feed.next("alarms", timeout=10, event="raised")
            assert pushed["alarm"]["type"] == "repeated_denials"
            assert pushed["alarm"]["door"] == "B1-main" and pushed["alarm"]["door_id"]

            # opened without a grant: forced open at once, held open once 60 s have passed
            b.sim.set_door_contact(True)
            pushed = await feed.next("alarms", timeout=10, event="raised")
            assert pushed["alarm"]["type"] == "door_forced_open"
            assert pushed["alarm"]["severity"] == "critical"
            await asyncio.sleep(0.5)
            assert await alarms(b, type="door_held_open") == []
            clock.advance(61)
            pushed = await feed.next("alarms", timeout=10, event="raised")
            assert pushed["alarm"]["type"] == "door_held_open"
            b.sim.set_door_contact(False)
            cleared = await feed.next("alarms", timeout=10, event="cleared")
            assert cleared["alarm"]["type"] == "door_held_open"
            assert cleared["alarm"]["cleared_by"] == "rule:door-held-open"

            # forced again while the alarm is open: the same alarm counts it
            b.sim.set_door_contact(True)
            repeated = await feed.next("alarms", timeout=10, event="repeated")
            b.sim.set_door_contact(False)
            forced = repeated["alarm"]
            assert forced["type"] == "door_forced_open" and forced["count"] == 2

            # the guard acknowledges, comments and clears; each step pushed and recorded
            done = await as_user(b, guard, "POST", f"/alarms/{forced['id']}/acknowledge",
                                 {"note": "on my way"})
            assert (done["state"], done["acknowledged_by"]) == ("acknowledged", "guard")
            assert (await feed.next("alarms", event="acknowledged"))["alarm"]["id"] == forced["id"]
            await as_user(b, guard, "POST", f"/alarms/{forced['id']}/acknowledge", {}, 409)
            await as_user(b, guard, "POST", f"/alarms/{forced['id']}/comments",
                          {"text": "door pushed by a delivery cart"}, 201)
            done = await as_user(b, guard, "POST", f"/alarms/{forced['id']}/clear",
                                 {"note": "closed it"})
            assert done["state"] == "cleared" and done["cleared_by"] == "guard"
            detail = await as_user(b, guard, "GET", f"/alarms/{forced['id']}")
            assert [(s["action"], s["actor"]) for s in detail["history"]] == [
                ("raised", "rule:door-forced-open"), ("acknowledged", "guard"),
                ("cleared", "guard")]
            assert [c["text"] for c in detail["comments"]] == ["door pushed by a delivery cart"]

        # cleared: the next forced opening is a new alarm
        b.sim.set_door_contact(True)
        fresh = await one_alarm(b, type="door_forced_open", state="active")
        assert fresh["id"] != forced["id"] and fresh["count"] == 1
        assert len(await alarms(b, type="repeated_denials")) == 1
        # the report sees the acknowledged and cleared one
        report = await b.call("GET", "/reports/alarms")
        row = next(r for r in report["items"] if r["type"] == "door_forced_open")
        assert row["alarms"] == 2 and row["acknowledged"] == 1 and row["cleared"] == 1
        assert row["mean_ack_s"] is not None and row["mean_ack_s"] >= 0


@contextlib.asynccontextmanager
async def devices() -> AsyncIterator[dict[str, ModbusDeviceSimulator]]:
    async with contextlib.AsyncExitStack() as stack:
        sims = {
            "lift-1": await stack.enter_async_context(ModbusDeviceSimulator(
                MODELS["elevator-vvvf-a"], name="lift-1", transport="tcp")),
            "fire-1": await stack.enter_async_context(ModbusDeviceSimulator(
                MODELS["fire-panel-8z"], name="fire-1", transport="rtu",
                serial=SerialSettings(baudrate=9600, parity="N"))),
            "pump-1": await stack.enter_async_context(ModbusDeviceSimulator(
                MODELS["pressure-sprinkler-pt"], name="pump-1", transport="rtu")),
        }
        yield sims


def device_configs(sims: dict[str, ModbusDeviceSimulator]) -> list[dict[str, Any]]:
    fast = {"poll_interval_s": 0.1, "offline_after": 2, "timeout_s": 0.2}
    return [
        {"id": "lift-1", "model": "elevator-vvvf-a", "transport": "tcp", "host": "127.0.0.1",
         "tcp_port": sims["lift-1"].tcp_port, **fast},
        {"id": "fire-1", "model": "fire-panel-8z", "transport": "rtu",
         "port": sims["fire-1"].port, "serial": {"parity": "N"}, **fast},
        {"id": "pump-1", "model": "pressure-sprinkler-pt", "transport": "rtu",
         "port": sims["pump-1"].port, **fast},
    ]


async def test_device_rules_through_modbus(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    clock = ShiftedClock()

    async def lonely_edge(hub: Hub) -> None:  # a second edge of B1, run as its own process
        async with hub.sessions() as session, session.begin():
            b1 = await session.scalar(select(Building.id).where(Building.code == "B1"))
            session.add(Edge(site_id="demo", name="lonely", building_id=b1))

    async with devices() as sims, demo_building(
            tmp_path, mqtt_port=mosquitto.port,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db", clock=clock,
            rules_check_interval_s=0.1, devices=device_configs(sims), prepare=lonely_edge,
            ready=lambda agent: bool(agent.cache.version) and agent.devices is not None) as b:
        lift, fire, pump = sims["lift-1"], sims["fire-1"], sims["pump-1"]

        # fire: a zone in alarm raises the critical alarm; the panel's reset clears it
        fire.zone(2, "fire")
        alarm = await one_alarm(b, type="fire_alarm")
        assert alarm["severity"] == "critical" and alarm["message"] == "Fire alarm at fire-1"
        fire.reset_panel()
        await until(lambda: _state(b, alarm["id"], "cleared"), "fire alarm cleared")

        # a fault: an alarm and a work order for the fault's skill; the device clears it
        lift.fault("Err41")
        fault = await one_alarm(b, type="device_fault")
        assert fault["device"] == "lift-1" and "Err41" in fault["message"]
        assert fault["device_id"] is not None
        orders = await until(lambda: _orders(b), "a work order")
        assert [(o.fault_code, o.skill, o.device_id) for o in orders] == [
            ("Err41", "elevator_safety", fault["device_id"])]
        lift.fault("Err41", active=False)
        await until(lambda: _state(b, fault["id"], "cleared"), "fault alarm cleared")

        # pressure below 0.10 MPa: the transmitter's own LOW fault at once, and after five
        # minutes the sustained-low alarm; restored pressure clears it
        pump.set_pressure(0.05)
        await until(lambda: _any(b, type="device_fault", state="active"), "LOW fault")
        await asyncio.sleep(0.5)
        assert await alarms(b, type="pressure_low") == []
        clock.advance(301)
        low = await one_alarm(b, type="pressure_low")
        assert low["severity"] == "critical" and low["device"] == "pump-1"
        pump.set_pressure(0.35)
        await until(lambda: _state(b, low["id"], "cleared"), "pressure alarm cleared")

        # the elevator out of service for ten minutes: the building's residents are told,
        # and told again when it returns
        lift.set("service_mode", 3)
        await asyncio.sleep(1.0)
        clock.advance(601)
        notices = await until(lambda: _notices(b, 1), "out-of-service notice")
        lift.set("service_mode", 0)
        notices = await until(lambda: _notices(b, 2), "back-in-service notice")
        assert [n["title"] for n in notices] == [
            "Elevator back in service: lift-1", "Elevator out of service: lift-1"]
        assert {n["building_id"] for n in notices} == {alarm["building_id"]}

        # a device that stops answering: offline, an alarm at once (no hub-side wait)
        lift.silent = True
        async def lift_offline() -> dict[str, Any] | None:
            # on a loaded machine another device may miss a poll too: find the lift's alarm
            items = await alarms(b, type="device_offline")
            return next((a for a in items if a["device"] == "lift-1"), None)

        offline = await until(lift_offline, "lift-1's device_offline alarm", timeout=10)
        lift.silent = False
        await until(lambda: _state(b, offline["id"], "cleared"), "device back online")

        # an edge that dies (its will): critical alarm at once; back online clears it
        await _edge_offline_and_back(b, tmp_path, mosquitto)


async def _edge_offline_and_back(b: Site, tmp_path: Path, mosquitto: MosquittoServer) -> None:
    config = tmp_path / "lonely.yaml"
    config.write_text(f"site: demo\nedge: lonely\ndata_dir: {tmp_path / 'lonely'}\n"
                      f"mqtt: {{port: {mosquitto.port}, username: lonely}}\n")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "lintel.cli", "edge", "--config",
                                 str(config)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    edge = start()
    try:
        await until(lambda: _edge_status(b, "online"), "the lonely edge online", timeout=20)
        edge.send_signal(signal.SIGKILL)
        edge.wait(timeout=10)
        await until(lambda: _edge_status(b, "offline"), "the will", timeout=10)
        alarm = await one_alarm(b, type="edge_offline", timeout=10)  # at that moment
        assert alarm["edge"] == "lonely" and alarm["severity"] == "critical"
        edge = start()
        await until(lambda: _state(b, alarm["id"], "cleared"), "edge back online", timeout=20)
    finally:
        edge.kill()
        edge.wait(timeout=10)


async def _state(b: Site, alarm_id: int, state: str) -> bool:
    return bool((await b.call("GET", f"/alarms/{alarm_id}"))["state"] == state)


async def _any(b: Site, **query: str) -> bool:
    return bool(await alarms(b, **query))


async def _orders(b: Site) -> list[WorkOrder]:
    async with b.hub.sessions() as session:
        return list(await session.scalars(select(WorkOrder)))


async def _notices(b: Site, n: int) -> list[dict[str, Any]] | None:
    items = (await b.call("GET", "/notices"))["items"]
    return items if len(items) >= n else None


async def _edge_status(b: Site, status: str) -> bool:
    async with b.hub.sessions() as session:
        found = await session.scalar(select(Edge.status).where(Edge.name == "lonely"))
    return found == status
