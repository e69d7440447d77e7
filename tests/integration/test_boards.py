"""LED notice boards (issue 18), on real parts: a board and a fire panel commissioned from the
hub as devices of an edge; a notice marked for the boards reaches the board through the edge's
signed configuration within seconds and leaves at its expiry; the edge's fire alarm and the
hub's lockdown take the board over with a bilingual instruction until they clear, and a fire at
another edge of the site reaches it through the hub; a rule's notice (a unit's smoke) shows like
a manager's; the board's own fault is a work order;
what the board shows (its dots, read back by the edge) reaches the hub."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import select

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from edge.sensors.loader import load_models
from hub.credentials.keys import seed_b64
from hub.models import Building as BuildingRow
from hub.models import Device, utcnow
from hub.models import Unit as UnitRow
from hub.workorders.models import WorkOrder
from simulators.led_board import LedBoardSimulator
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.support.building import Building, broker, demo_building
from tests.support.services import PostgresServer
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]


async def _board_at_hub(b: Building) -> dict[str, Any]:
    async with b.hub.sessions() as session:
        device = await session.scalar(select(Device).where(Device.name == "B1-board",
                                                           Device.edge == "b1-lobby"))
        return dict(device.telemetry or {}) if device is not None else {}


@pytest.mark.parametrize("kind", ["mosquitto+postgres", "amqtt+sqlite"])
async def test_a_notice_reaches_the_board_leaves_at_expiry_and_fire_or_lockdown_take_over(
        tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    broker_kind, db_kind = kind.split("+")
    if db_kind == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database_url = server.create_database(f"boards_{secrets.token_hex(4)}")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    models = load_models()
    async with broker(broker_kind) as mqtt_port, demo_building(
            tmp_path, mqtt_port=mqtt_port, database_url=database_url,
            shared_group="hub" if broker_kind == "mosquitto" else None, publish_debounce_s=0.05,
            signing_key=SecretStr(seed_b64(Ed25519PrivateKey.generate()))) as b, \
            LedBoardSimulator(models["led-board-t192"], name="B1-board") as board, \
            ModbusDeviceSimulator(models["fire-panel-8z"], name="B1-fire-2",
                                  transport="tcp") as panel:
        async with b.hub.sessions() as session:
            b1 = await session.scalar(select(BuildingRow.id).where(BuildingRow.code == "B1"))
        edge = await b.call("POST", "/edges", {"site_id": "demo", "name": "b1-lobby",
                                               "building_id": b1}, status=201)
        for name, model, port in (("B1-board", "led-board-t192", board.tcp_port),
                                  ("B1-fire-2", "fire-panel-8z", panel.tcp_port)):
            await b.call("POST", "/devices", {
                "edge_id": edge["id"], "name": name, "model": model, "transport": "tcp",
                "host": "127.0.0.1", "tcp_port": port, "poll_interval_s": 0.2}, status=201)
        config = EdgeConfig.model_validate({
            "site": "demo", "edge": "b1-lobby", "data_dir": str(tmp_path / "lobby-edge"),
            "mqtt": {"port": mqtt_port, "username": "b1-lobby", "backoff_min_s": 1,
                     "backoff_max_s": 2},
            "board_rotate_s": 2,
            "hub_keys": b.hub.downlink.public_keys if b.hub.downlink else []})
        async with EdgeAgent(config) as agent:
            await until(lambda: board.lines[0] == "欢迎回家", "the idle page", timeout=20)

            # a notice for the building's boards, valid a few seconds
            await b.call("POST", "/notices", {
                "site_id": "demo", "building_id": b1, "title": "明天9点至12点停水",
                "body": "Water off tomorrow 9-12", "on_boards": True,
                "valid_until": (utcnow() + timedelta(seconds=20)).isoformat()}, status=201)
            # 20 s: room for a loaded machine to show it (in about a second on a quiet one)
            await until(lambda: board.lines[0] == "明天9点至12点停水",
                        "the notice on the board",
                        timeout=15)
            assert board.lines[1] == "Water off tomorrow 9-12" and not board.emergency

            # the hub sees what the board shows: its text and its own dots
            shown = await until(lambda: _shown(b, "明天9点至12点停水"), "the board's report", timeout=10)
            dots = cv2.imdecode(np.frombuffer(base64.b64decode(shown["frame_png"]["value"]),
                                              np.uint8), cv2.IMREAD_GRAYSCALE)
            assert dots.shape == (64, 192)
            assert np.array_equal(dots, cv2.imdecode(np.frombuffer(board.png, np.uint8),
                                                     cv2.IMREAD_GRAYSCALE))

            # the manager's console shows the same dots
            async with b.http.get(f"{b.hub.url}/manage/boards") as resp:
                assert resp.status == 200
                html = await resp.text()
            assert f'src="data:image/png;base64,{shown["frame_png"]["value"]}"' in html

            # expiry: the edge's own clock takes it off
            await until(lambda: board.lines[0] == "欢迎回家",
                        "the notice leaving at expiry",
                        timeout=30)

            # a standing notice, then the fire alarm: the instruction replaces it
            await b.call("POST", "/notices", {
                "site_id": "demo", "title": "电梯保养", "body": "Lift service on Friday",
                "on_boards": True}, status=201)
            await until(lambda: board.lines[0] == "电梯保养", "the site's notice", timeout=10)
            panel.zone(1, "fire")
            await until(lambda: board.emergency, "the fire instruction", timeout=10)
            assert board.lines == ["火警！请走楼梯疏散", "切勿乘坐电梯",
                                   "FIRE! Leave by the stairs", "Do not use the lifts"]
            await until(lambda: _shown(b, "火警！请走楼梯疏散"), "the fire page at the hub", timeout=10)
            await asyncio.sleep(2.5)  # past a rotation: the instruction stays while the fire does
            assert board.emergency and board.lines[0] == "火警！请走楼梯疏散"
            panel.zone(1, "normal")
            await until(lambda: board.lines[0] == "电梯保养" and not board.emergency,
                        "the notices back after the fire cleared",
                        timeout=10)

            # the guards lock the building's edge down: the boards say so until released
            await b.call("POST", f"/edges/{edge['id']}/lockdown", {"reason": "演练"}, status=202)
            await until(lambda: board.lines[0] == "紧急封闭 请留在室内", "the lockdown page", timeout=10)
            assert board.emergency and board.lines[2] == "LOCKDOWN - stay indoors"
            await b.call("POST", f"/edges/{edge['id']}/release", {"reason": "结束"}, status=202)
            await until(lambda: board.lines[0] == "电梯保养",
                        "the notice after the release",
                        timeout=10)

            # the board's own failure: a device fault, and a work order for it
            board.fail(0)
            await until(lambda: _order(b, "LED_MODULE"), "the LED module work order", timeout=15)
            assert agent.boards.boards["B1-board"].failed is False


async def _shown(b: Building, text: str) -> dict[str, Any] | None:
    telemetry = await _board_at_hub(b)
    shown = telemetry.get("shown_text", {}).get("value", "")
    return telemetry if shown.startswith(text) else None


async def _order(b: Building, code: str) -> bool:
    async with b.hub.sessions() as session:
        return await session.scalar(select(WorkOrder.id).where(
            WorkOrder.fault_code == code)) is not None


async def test_a_rules_notice_shows_on_the_board_and_a_fire_at_another_edge_takes_it_over(
        tmp_path: Path) -> None:
    """Two edges of the site on Mosquitto: b1-lobby has the board and unit 101's alarm panel,
    b2-lobby (another building) the fire panel. Smoke in unit 101 posts the building's notice
    (rule home-fire), which the board shows like a manager's; a fire at b2-lobby reaches
    b1-lobby's board through the hub (the site's fire in its signed configuration), and leaves
    it when the panel is reset."""
    models = load_models()
    async with broker("mosquitto") as mqtt_port, demo_building(
            tmp_path, mqtt_port=mqtt_port, database_url=f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
            publish_debounce_s=0.05,
            signing_key=SecretStr(seed_b64(Ed25519PrivateKey.generate()))) as b, \
            LedBoardSimulator(models["led-board-t192"], name="B1-board") as board, \
            ModbusDeviceSimulator(models["alarm-panel-8z"], name="panel-101",
                                  transport="tcp") as home, \
            ModbusDeviceSimulator(models["fire-panel-8z"], name="B2-fire",
                                  transport="tcp") as fire:
        async with b.hub.sessions() as session:
            b1 = await session.scalar(select(BuildingRow.id).where(BuildingRow.code == "B1"))
            unit = await session.scalar(select(UnitRow.id).where(UnitRow.number == "101"))
        b2 = (await b.call("POST", "/buildings", {"site_id": "demo", "code": "B2",
                                                  "name": "2号楼"}, status=201))["id"]
        lobby = await b.call("POST", "/edges", {"site_id": "demo", "name": "b1-lobby",
                                                "building_id": b1}, status=201)
        other = await b.call("POST", "/edges", {"site_id": "demo", "name": "b2-lobby",
                                                "building_id": b2}, status=201)
        devices = {}
        for edge, name, model, port in ((lobby, "B1-board", "led-board-t192", board.tcp_port),
                                        (lobby, "panel-101", "alarm-panel-8z", home.tcp_port),
                                        (other, "B2-fire", "fire-panel-8z", fire.tcp_port)):
            devices[name] = await b.call("POST", "/devices", {
                "edge_id": edge["id"], "name": name, "model": model, "transport": "tcp",
                "host": "127.0.0.1", "tcp_port": port, "poll_interval_s": 0.2}, status=201)
        await b.call("POST", "/security-panels", {"device_id": devices["panel-101"]["id"],
                                                  "unit_id": unit}, status=201)

        def edge_config(name: str) -> EdgeConfig:
            return EdgeConfig.model_validate({
                "site": "demo", "edge": name, "data_dir": str(tmp_path / name),
                "mqtt": {"port": mqtt_port, "username": name, "backoff_min_s": 1,
                         "backoff_max_s": 2},
                "board_rotate_s": 2,
                "hub_keys": b.hub.downlink.public_keys if b.hub.downlink else []})
        async with EdgeAgent(edge_config("b1-lobby")) as near, \
                EdgeAgent(edge_config("b2-lobby")) as far:
            await until(lambda: board.lines[0] == "欢迎回家", "the idle page", timeout=20)
            await until(lambda: "panel-101" in near.homesec.units
                        and near.homesec.units["panel-101"].polled,
                        "the unit's panel",
                        timeout=20)

            # smoke in unit 101: the rule posts the building's notice, and the board shows it
            smoked = time.monotonic()
            home.zone(5, "active")
            await until(lambda: board.lines[0] != "欢迎回家" and not board.emergency,
                        "a page of the rule's notice on the board",
                        timeout=10)
            notice_s = time.monotonic() - smoked
            await until(lambda: board.lines[0] == "本楼烟感报警：101 室",
                        "the notice's first page, in its turn",
                        timeout=12)
            # a long notice goes on over pages: the first holds the titles
            assert board.lines[1:] == ["101 室（1 层）烟感报警，", "Smoke alarm in the",
                                       "building: unit 101"]
            assert not board.emergency

            # a fire at the other building's edge: this edge's board takes over
            assert not near.devices.fire_active
            fire.zone(1, "fire")
            await until(lambda: far.devices.fire_active, "the fire at b2-lobby", timeout=10)
            await until(lambda: board.emergency,
                        "the fire instruction relayed to b1-lobby",
                        timeout=10)
            assert board.lines == ["火警！请走楼梯疏散", "切勿乘坐电梯",
                                   "FIRE! Leave by the stairs", "Do not use the lifts"]
            assert not near.devices.fire_active  # b1-lobby's own panels are quiet
            await asyncio.sleep(2.5)  # past a rotation: the instruction stays
            assert board.emergency

            # the far panel reset: the alarm clears at the hub, and the notice comes back
            fire.zone(1, "normal")
            await until(lambda: not board.emergency and board.lines[0] == "本楼烟感报警：101 室",
                        "the board back to the notices after the fire cleared",
                        timeout=15)
    assert notice_s < 5, notice_s
