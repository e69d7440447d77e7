"""Home security (居家安防) end to end on real parts: a unit's alarm panel (pymodbus simulator
on a pty) commissioned from the hub's installation API onto the edge's Modbus line, armed from
the resident's phone (hub -> signed `arm` -> edge), judged at the edge, and the alarms at the
guard (live push) and on the resident's page — PostgreSQL, Mosquitto, the real edge agent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
from sqlalchemy import select

from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from hub.models import Device, EventLog
from hub.rules.models import Notice
from hub.seed import DEMO_GUARD, DEMO_RESIDENT
from simulators.camera_scene import MjpegServer, Step
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.support.building import ADMIN_PASSWORD, Building, broker, demo_building
from tests.support.homesec import PASSWORDS, commission_panels, prepare_home
from tests.support.live import live_socket
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
MODEL = load_models()["alarm-panel-8z"]
FRONT_DOOR, WINDOW, PIR, SMOKE, PANIC = 1, 3, 4, 5, 8


class Person:
    """A login's own HTTP session against the hub's API."""

    def __init__(self, b: Building, token: str) -> None:
        self.b, self.token = b, token

    async def call(self, method: str, path: str, body: Any = None, status: int = 200,
                   lang: str = "en") -> Any:
        async with self.b.http.request(method, f"{self.b.api}{path}", json=body,
                                       headers={"Authorization": f"Bearer {self.token}",
                                                "Accept-Language": lang}) as r:
            payload = await r.json() if r.status != 204 else None
            assert r.status == status, (r.status, payload)
            return payload


async def login(b: Building, username: str) -> Person:
    async with aiohttp.ClientSession() as http, http.post(
            f"{b.api}/auth/login", json={"username": username,
                                         "password": PASSWORDS[username]}) as r:
        return Person(b, (await r.json())["token"])


@contextlib.asynccontextmanager
async def home(tmp_path: Path, postgres_url: str, exit_s: float = 0.5, entry_s: float = 1.0
               ) -> AsyncIterator[tuple[Building, ModbusDeviceSimulator, Person, Person]]:
    """The demo building with unit 101's alarm panel commissioned through the API."""
    async with ModbusDeviceSimulator(MODEL, name="panel-101",
                                     serial=SerialSettings(baudrate=9600, parity="N")) as sim, \
            broker("mosquitto") as mqtt_port, demo_building(
                tmp_path, mqtt_port=mqtt_port, database_url=postgres_url, prepare=prepare_home) as b:
        await commission_panels(b, sim.port or "", [("panel-101", "101", sim.unit_id)],
                                exit_s=exit_s, entry_s=entry_s, poll_s=0.1)
        assert b.agent.homesec.units["panel-101"].settings.unit == "101"
        yield b, sim, await login(b, DEMO_RESIDENT), await login(b, DEMO_GUARD)


async def alarm_of(guard: Person, type_: str) -> dict[str, Any] | None:
    alarms = (await guard.call("GET", "/alarms?state=active"))["items"]
    return next((a for a in alarms if a["type"] == type_), None)


async def test_armed_away_the_front_door_without_a_disarm_alarms_the_guard_and_the_resident(
        tmp_path: Path, postgres_url: str) -> None:
    async with home(tmp_path, postgres_url) as (b, sim, zhang, wang), live_socket(
            b.http, b.hub.url, ["alarms", "homesec"], token=wang.token) as guard_feed, live_socket(
            b.http, b.hub.url, ["homesec"], token=zhang.token) as phone:
        answer = await zhang.call("POST", "/me/home-security/arm", {"mode": "away"})
        assert answer["result"] == "ok" and "exit delay" in answer["reason"]
        await phone.next("homesec", event="armed", mode="away")
        state = await zhang.call("GET", "/me/home-security")
        assert (state["mode"], state["phase"], state["unit"]) == ("away", "armed", "101")

        sim.zone(FRONT_DOOR, "active")  # someone comes in and does not disarm
        await phone.next("homesec", event="entry_delay")
        pushed = await guard_feed.next("alarms", timeout=10)
        alarm = pushed["alarm"]
        assert alarm["type"] == "home_intrusion" and alarm["severity"] == "critical"
        assert "unit 101" in alarm["message"] and "Front door" in alarm["message"]
        assert alarm["building_id"] is not None and alarm["device"] == "panel-101"
        told = await phone.next("homesec", event="alarm")
        assert (told["alarm"], told["zone"], told["zone_zh"]) == ("intrusion", FRONT_DOOR, "入户门")
        state = await zhang.call("GET", "/me/home-security")
        assert state["phase"] == "alarm"
        assert [a["type"] for a in state["alarms"]] == ["home_intrusion"]
        panels = (await wang.call("GET", "/security-panels"))["items"]
        assert [(p["unit"], p["mode"], p["phase"]) for p in panels] == [("101", "away", "alarm")]

        # the door keeps opening and closing: one alarm, counted
        for _ in range(2):
            sim.zone(FRONT_DOOR, "normal")
            await asyncio.sleep(0.3)
            sim.zone(FRONT_DOOR, "active")
            await asyncio.sleep(0.3)
        await until(lambda: alarm_of(wang, "home_intrusion"), "the intrusion alarm")

        async def counted() -> bool:
            found = await alarm_of(wang, "home_intrusion")
            return found is not None and found["count"] >= 3
        await until(counted, "the flapping door counted on one alarm")
        intrusions = [a for a in (await wang.call("GET", "/alarms?state=active"))["items"]
                      if a["type"] == "home_intrusion"]
        assert len(intrusions) == 1


async def test_a_panic_is_silent_at_the_unit_and_smoke_alarms_while_disarmed(
        tmp_path: Path, postgres_url: str) -> None:
    async with home(tmp_path, postgres_url) as (b, sim, zhang, wang), live_socket(
            b.http, b.hub.url, ["homesec"], token=zhang.token) as phone:
        for _ in range(3):  # someone walks about at home, disarmed: that stays in the unit
            sim.zone(PIR, "active")
            await asyncio.sleep(0.25)
            sim.zone(PIR, "normal")
            await asyncio.sleep(0.25)
        sim.zone(PANIC, "active")
        panic = await until(lambda: alarm_of(wang, "home_panic"), "the panic at the guard")
        assert panic["severity"] == "critical" and "unit 101" in panic["message"]
        await phone.nothing(0.5)
        assert (await zhang.call("GET", "/me/home-security"))["alarms"] == []

        sim.zone(SMOKE, "active")  # a 24-hour zone: the unit is disarmed
        fire = await until(lambda: alarm_of(wang, "home_fire"), "the smoke alarm at the guard")
        assert "Smoke detector" in fire["message"]
        told = await phone.next("homesec", event="alarm")
        assert told["alarm"] == "fire"
        state = await zhang.call("GET", "/me/home-security")
        assert state["mode"] == "disarmed" and [a["type"] for a in state["alarms"]] == ["home_fire"]
        async with b.hub.sessions() as session:  # the building is told
            notices = list(await session.scalars(select(Notice)))
            assert any(n.text_code == "notice.home_smoke" for n in notices)
            # privacy: the hub holds no motion history of the unit, in events or readings
            events = list(await session.scalars(
                select(EventLog).where(EventLog.device == "panel-101")))
            panel = await session.scalar(select(Device).where(Device.name == "panel-101"))
        assert panel is not None and set(panel.telemetry or {}) == {"battery_v"}
        homesec = [e.data for e in events if e.kind == "homesec"]
        assert [(d["event"], d["alarm"]) for d in homesec] == [("alarm", "panic"), ("alarm", "fire")]
        assert not any("pir" in str(e.data) for e in events)
        panels = (await wang.call("GET", "/security-panels"))["items"]
        assert set(panels[0]) == {"id", "site_id", "building", "unit_id", "unit", "floor", "mode",
                                  "phase", "mode_at", "mode_by", "panel_status", "alarms"}


async def test_arming_with_a_window_open_is_refused_naming_it(
        tmp_path: Path, postgres_url: str) -> None:
    async with home(tmp_path, postgres_url) as (b, sim, zhang, _):
        sim.zone(WINDOW, "active")
        await until(lambda: WINDOW in b.agent.homesec.units["panel-101"].active, "window seen")
        answer = await zhang.call("POST", "/me/home-security/arm", {"mode": "away"})
        assert answer["result"] == "rejected"
        assert answer["reason"] == ("Not armed: open now: Bedroom window (3). Close them, or arm "
                                    "without them")
        assert "zone 3 (Bedroom window) is open" in answer["answer"]  # the edge's own words
        assert answer["open_zones"] == [{"zone": WINDOW, "name": "Bedroom window"}]
        # every refusal in the resident's language, the zones named in it
        answer = await zhang.call("POST", "/me/home-security/arm", {"mode": "away"}, lang="zh")
        assert answer["reason"] == "未布防：卧室窗（3） 未关闭。请关闭，或旁路后布防"
        assert answer["open_zones"] == [{"zone": WINDOW, "name": "卧室窗"}]
        answer = await zhang.call("POST", "/me/home-security/arm",
                                  {"mode": "away", "bypass": [WINDOW, SMOKE]}, lang="zh")
        assert answer["result"] == "rejected" and answer["open_zones"] == []
        assert answer["reason"] == ("未执行：烟感（5） 是24小时防区（烟感、燃气、漏水或紧急按钮），"
                                    "不能旁路")
        answer = await zhang.call("POST", "/me/home-security/arm",
                                  {"mode": "stay", "bypass": [12]}, lang="zh")
        assert answer["reason"] == "未执行：报警主机没有防区 12"
        assert (await zhang.call("GET", "/me/home-security"))["mode"] == "disarmed"
        # by choice: bypassed, the arm goes through
        answer = await zhang.call("POST", "/me/home-security/arm",
                                  {"mode": "away", "bypass": [WINDOW]})
        assert answer["result"] == "ok"

        # a tampered panel, then a silent one: each a fault with a technician's work order
        sim.fault("TAMPER")

        async def orders() -> set[str]:
            listed = (await b.call("GET", "/work-orders"))["items"]
            return {o["fault_code"] for o in listed if o.get("skill") == "security"}
        await until(lambda: _has(orders(), "TAMPER"), "the tamper's work order")
        sim.silent = True
        await until(lambda: _has(orders(), "offline"), "the silent panel's work order", timeout=15)


async def _has(found: Any, code: str) -> bool:
    return code in await found


async def test_a_home_alarm_carries_the_corridor_cameras_snapshot_to_the_guard(
        tmp_path: Path, postgres_url: str) -> None:
    """A camera installed with the floors whose corridor it sees: unit 101's panel (floor 1)
    takes it; the unit's smoke alarm reaches the guard with that camera's picture, spooled and
    uploaded by the edge, and what the corridor showed (a code held up, read with OpenCV) is
    in the JPEG the guard opens."""
    async def uploads(hub: Any) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            api = f"{hub.url}/api/v1"
            async with http.post(f"{api}/auth/login", json={
                    "username": "admin", "password": ADMIN_PASSWORD}) as resp:
                headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            async with http.get(f"{api}/edges", headers=headers) as resp:
                edge_id = (await resp.json())["items"][0]["id"]
            async with http.post(f"{api}/edges/{edge_id}/upload-token", headers=headers) as resp:
                token = (await resp.json())["token"]
        return {"uploads": {"url": hub.url, "token": token, "backoff_min_s": 0.2,
                            "backoff_max_s": 1}}

    code = "corridor 1F east"
    async with ModbusDeviceSimulator(MODEL, name="panel-101",
                                     serial=SerialSettings(baudrate=9600, parity="N")) as sim, \
            MjpegServer([Step("qr", 50, text=code)], fps=5) as corridor, \
            broker("mosquitto") as mqtt_port, demo_building(
                tmp_path, mqtt_port=mqtt_port, database_url=postgres_url, prepare=prepare_home,
                edge_extra=uploads) as b:
        edge = (await b.call("GET", "/edges"))["items"][0]
        camera = await b.call("POST", "/cameras", {
            "edge_id": edge["id"], "name": "cam-1f", "source": corridor.url, "floors": ["1F"]},
            status=201)
        assert camera["floors"] == [1]
        await commission_panels(b, sim.port or "", [("panel-101", "101", sim.unit_id)],
                                exit_s=0.5, entry_s=1.0, poll_s=0.1)
        assert b.agent.homesec.units["panel-101"].settings.camera == "cam-1f"
        await until(lambda: "cam-1f" in b.agent.cameras.cameras
                    and b.agent.cameras.cameras["cam-1f"].last is not None,
                    "a corridor frame",
                    timeout=20)
        wang = await login(b, DEMO_GUARD)

        sim.zone(SMOKE, "active")
        alarm = await until(lambda: alarm_of(wang, "home_fire"), "the smoke alarm")
        assert alarm["snapshot_url"] == f"/api/v1/snapshots/{alarm['snapshot_id']}"

        async def picture() -> bytes | None:
            async with b.http.get(f"{b.hub.url}{alarm['snapshot_url']}",
                                  headers={"Authorization": f"Bearer {wang.token}"}) as resp:
                return await resp.read() if resp.status == 200 else None
        jpeg = await until(picture, "the snapshot uploaded", timeout=20)
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (480, 640, 3)
        assert cv2.QRCodeDetectorAruco().detectAndDecode(image)[0] == code


async def test_the_resident_sets_the_units_arm_schedule_and_the_edge_keeps_it(
        tmp_path: Path, postgres_url: str) -> None:
    async with home(tmp_path, postgres_url) as (b, _, zhang, wang):
        schedule = [{"days": [1, 2, 3, 4, 5], "at": "08:30", "mode": "away"},
                    {"days": [1, 2, 3, 4, 5], "at": "18:00", "mode": "disarmed"}]
        mine = await zhang.call("POST", "/me/home-security/schedule", {"schedule": schedule})
        assert mine["schedule"] == schedule
        homesec = b.agent.homesec  # its units are replaced when a configuration changes them
        await until(lambda: [s.at for s in homesec.units["panel-101"].settings.schedule]
                    == ["08:30", "18:00"],
                    "the schedule at the edge")
        assert (await zhang.call("GET", "/me/home-security"))["schedule"] == schedule
        # a bad time is refused naming it; the schedule stays
        bad = await zhang.call("POST", "/me/home-security/schedule",
                               {"schedule": [{"days": [8], "at": "25:00", "mode": "away"}]},
                               status=422)
        assert {d["field"] for d in bad["detail"]} >= {"schedule.0.days", "schedule.0.at"}
        assert (await zhang.call("GET", "/me/home-security"))["schedule"] == schedule
        # the guards never see when a home stands empty
        panels = (await wang.call("GET", "/security-panels"))["items"]
        assert "schedule" not in panels[0]
        await wang.call("POST", "/me/home-security/schedule", {"schedule": []}, status=403)
