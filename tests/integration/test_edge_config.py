"""The hub pushes each edge its configuration (issue 15.2), on real parts: the hub's publisher
signs it onto the broker, the edge agent applies it live against libosdp door simulators and
pymodbus device simulators, and the hub's API shows what the edge runs or refused."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from edge.agent import EdgeAgent
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from hub.credentials.downlink import DownlinkSigner
from hub.credentials.keys import seed_b64
from hub.models import AccessGroup, Door
from hub.service import Hub
from hub.texts import render
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.osdp_door import OsdpDoorSimulator
from tests.support.building import Building, broker, demo_building
from tests.support.mqtt import Collector
from tests.support.services import PostgresServer
from tests.support.waiting import until
from wire import ConfigContent, ConfigSnapshot, topics

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]
SITE, EDGE = "demo", "b1-edge"
CONFIG = topics.config(SITE, EDGE)


async def _garage_in_the_main_group(hub: Hub) -> None:
    """Card 1001 opens B1-garage too once the edge drives that door."""
    async with hub.sessions() as session, session.begin():
        group = await session.scalar(  # the demo's group of card 1001, holding B1-main
            select(AccessGroup).where(AccessGroup.doors.any(Door.name == "B1-main"))
            .options(selectinload(AccessGroup.doors)))
        garage = await session.scalar(select(Door).where(Door.name == "B1-garage"))
        assert group is not None and garage is not None
        group.doors.append(garage)


@contextlib.asynccontextmanager
async def building(tmp_path: Path, kind: str, request: pytest.FixtureRequest,
                   **extra: Any) -> AsyncIterator[Building]:
    broker_kind, db_kind = kind.split("+")
    if db_kind == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database_url = server.create_database(f"edgeconf_{secrets.token_hex(4)}")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with broker(broker_kind) as mqtt_port, demo_building(
        tmp_path, mqtt_port=mqtt_port, database_url=database_url,
        shared_group="hub" if broker_kind == "mosquitto" else None,
        signing_key=SecretStr(seed_b64(Ed25519PrivateKey.generate())),
        prepare=_garage_in_the_main_group, **extra,
    ) as b:
        yield b


def installation(b: Building, *doors: dict[str, Any], devices: list[dict[str, Any]] | None = None,
                 lines: list[dict[str, Any]] | None = None) -> ConfigContent:
    """The edge's current doors (as its file gives them) plus `doors`."""
    own = [d.model_dump(exclude_none=True) for d in b.agent.config.doors]
    return ConfigContent.model_validate({
        "site": SITE, "edge": EDGE, "doors": own + list(doors), "devices": devices or [],
        "lines": lines or []})


def reader_door(sim: OsdpDoorSimulator, door: str, line: str | None = None) -> dict[str, Any]:
    where = {"line": line} if line else {"port": sim.port}
    assert sim.scbk is not None
    return {"id": door, "unlock_s": 1.0,
            "reader": {**where, "address": sim.address, "scbk": sim.scbk.hex()}}


async def push(b: Building, content: ConfigContent) -> int:
    async with b.hub.sessions() as session, session.begin():
        result = await b.hub.edge_configs.publish(session, SITE, EDGE, content)
    return result.version


async def edge_detail(b: Building) -> dict[str, Any]:
    edges = await b.call("GET", "/edges")
    [edge] = [e for e in edges["items"] if e["name"] == EDGE]
    return await b.call("GET", f"/edges/{edge['id']}")  # type: ignore[no-any-return]


async def swipe_opens(sim: OsdpDoorSimulator, card: str = "1001") -> None:
    sim.present_card(card)
    assert await asyncio.to_thread(sim.wait_relay, True, 15) is not None, "the relay stayed"
    assert await asyncio.to_thread(sim.wait_relay, False, 15) is not None


@pytest.mark.parametrize("kind", ["mosquitto+postgres", "amqtt+sqlite"])
async def test_a_pushed_door_works_at_once_and_a_bad_config_is_refused_whole(
        tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    async with building(tmp_path, kind, request) as b, \
            OsdpDoorSimulator(address=5, scbk=secrets.token_bytes(16), name="garage") as garage:
        main = b.agent.doors["B1-main"]
        # the garage reader on a line of its own, named by id
        lines = [{"id": "bus-garage", "port": garage.port, "protocol": "osdp"}]
        v1 = await push(b, installation(b, reader_door(garage, "B1-garage", "bus-garage"),
                                        lines=lines))
        await until(lambda: b.agent.configs.version == v1 and garage.online,
                    "the garage door online",
                    timeout=15)
        assert b.agent.doors["B1-main"] is main and main.bus is b.agent.doors["B1-main"].bus
        await swipe_opens(garage)
        await swipe_opens(b.sim)  # the door already there was not disturbed
        detail = await until(lambda: _config_is(b, v1, v1), "the hub to see v1 running", timeout=20)
        assert detail["config"]["refused"] is None

        # a configuration naming a serial port this edge does not have: refused whole
        broken = installation(b, reader_door(garage, "B1-garage", "bus-garage"),
                              {"id": "B1-side", "reader": {"port": "/dev/ttyLINTEL-none",
                                                           "scbk": "11" * 16}}, lines=lines)
        v2 = await push(b, broken)
        detail = await until(lambda: _refused(b, v2), "the refusal at the hub", timeout=20)
        assert detail["config"]["running_version"] == v1
        assert "serial_port_missing" in detail["config"]["refused"]
        assert "/dev/ttyLINTEL-none" in detail["config"]["refused"]
        assert b.agent.configs.version == v1 and "B1-side" not in b.agent.doors
        [listed] = [e for e in (await b.call("GET", "/edges"))["items"] if e["name"] == EDGE]
        assert listed["config_version_held"] == v1  # what the console's edge table shows
        assert listed["config_refused"] == detail["config"]["refused"]
        await swipe_opens(garage)  # the previous configuration runs on
        alarms = await until(lambda: _alarms(b, "config_refused"), "the alarm", timeout=20)
        assert f"v{v2}" in alarms[0]["message"] and "serial port missing" in alarms[0]["message"]
        zh = render(alarms[0]["message_code"], alarms[0]["message_params"], "zh")
        assert "拒绝" in zh and "串口不存在" in zh

        # a device model the edge's firmware does not know: refused whole, too
        v3 = await push(b, installation(b, reader_door(garage, "B1-garage", "bus-garage"),
                                        lines=lines, devices=[{
                                            "id": "lift-x", "model": "elevator-nope",
                                            "transport": "tcp", "host": "127.0.0.1"}]))
        detail = await until(lambda: _refused(b, v3), "the second refusal", timeout=20)
        assert detail["config"]["refused"].startswith("unknown_model")
        assert b.agent.configs.version == v1

        # the garage removed again: its reader is no longer served, the main door runs on
        v4 = await push(b, installation(b))
        await until(lambda: b.agent.configs.version == v4, "v4 applied", timeout=20)
        assert "B1-garage" not in b.agent.doors and b.agent.doors["B1-main"] is main
        await until(lambda: not garage.online, "the garage reader dropped", timeout=15)
        await swipe_opens(b.sim)
        await until(lambda: _config_is(b, v4, v4), "the hub to see v4 running", timeout=20)
        await until(lambda: _refusal_cleared(b), "the refusal cleared at the hub", timeout=20)


async def _config_is(b: Building, version: int, running: int) -> dict[str, Any] | None:
    detail = await edge_detail(b)
    config = detail["config"]
    return detail if (config["version"], config["running_version"]) == (version, running) else None


async def _refused(b: Building, version: int) -> dict[str, Any] | None:
    detail = await edge_detail(b)
    return detail if detail["config"]["refused_version"] == version else None


async def _refusal_cleared(b: Building) -> bool:
    return (await edge_detail(b))["config"]["refused"] is None


async def _alarms(b: Building, kind: str) -> list[dict[str, Any]]:
    page = await b.call("GET", f"/alarms?type={kind}&limit=10")
    return page["items"]  # type: ignore[no-any-return]


def _counting(sim: ModbusDeviceSimulator) -> list[int]:
    """Count the replies `sim` sends (the line asks each unit whether to garble its reply)."""
    count = [0]
    take = sim.take_garble

    def counted() -> bool:
        count[0] += 1
        return take()
    sim.take_garble = counted  # type: ignore[method-assign]
    return count


async def test_a_removed_device_stops_being_polled_and_the_others_run_on(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    models = load_models()
    pty = SerialSettings(baudrate=9600, parity="N")  # ptys take no parity
    async with ModbusDeviceSimulator(models["elevator-vvvf-a"], name="lift", serial=pty) as lift, \
            ModbusDeviceSimulator(models["fire-panel-8z"], name="fire", serial=pty) as fire:
        lift_polls, fire_polls = _counting(lift), _counting(fire)
        devices = [
            {"id": "lift", "model": "elevator-vvvf-a", "transport": "rtu", "line": "bus-lift",
             "poll_interval_s": 0.2},  # its line says how it is wired
            {"id": "fire", "model": "fire-panel-8z", "transport": "rtu", "port": fire.port,
             "poll_interval_s": 0.2, "serial": {"baudrate": 9600, "parity": "N"}}]
        lines = [{"id": "bus-lift", "port": lift.port, "protocol": "modbus", "baudrate": 9600,
                  "parity": "N"}]
        async with building(tmp_path, "mosquitto+sqlite", request) as b:
            v1 = await push(b, installation(b, devices=devices, lines=lines))
            await until(lambda: b.agent.configs.version == v1, "v1 applied", timeout=20)
            await until(lambda: lift_polls[0] > 3 and fire_polls[0] > 3, "both polled", timeout=20)
            fire_line = b.agent.devices.devices["fire"].link
            v2 = await push(b, installation(b, devices=devices[1:]))
            await until(lambda: b.agent.configs.version == v2, "v2 applied", timeout=20)
            await asyncio.sleep(0.5)  # a poll under way when the line closed may still land
            stopped_at, fire_at = lift_polls[0], fire_polls[0]
            await asyncio.sleep(1.5)
            assert lift_polls[0] == stopped_at, "the removed lift is still polled"
            assert fire_polls[0] > fire_at + 3, "the fire panel stopped being polled"
            assert set(b.agent.devices.devices) == {"fire"}
            assert b.agent.devices.devices["fire"].link is fire_line  # untouched


async def test_the_stored_config_runs_at_restart_without_a_broker(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    async with OsdpDoorSimulator(address=5, scbk=secrets.token_bytes(16), name="g") as garage:
        async with building(tmp_path, "mosquitto+sqlite", request) as b:
            # the garage instead of the main door (whose simulator goes with the building)
            only = ConfigContent(site=SITE, edge=EDGE, doors=[reader_door(garage, "B1-garage")])
            v1 = await push(b, only)
            await until(lambda: b.agent.configs.version == v1 and garage.online,
                        "v1 runs",
                        timeout=15)
            config = b.agent.config
        # the hub and the broker are gone; the edge restarts from its file (which still names
        # the main door) and its data folder, where the hub's configuration wins
        offline = config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"port": 1})})
        async with EdgeAgent(offline) as agent:
            assert agent.configs.version == v1
            assert set(agent.doors) == {"B1-garage"}
            await until(lambda: garage.online, "the garage reader back", timeout=15)
            garage.present_card("1001")  # decided from the cached permissions, offline
            assert await asyncio.to_thread(garage.wait_relay, True, 15) is not None


async def test_a_config_signed_by_a_wrong_key_is_refused_as_a_forgery(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    async with OsdpDoorSimulator(address=5, scbk=secrets.token_bytes(16), name="g") as garage, \
            building(tmp_path, "mosquitto+postgres", request) as b:
        forger = await asyncio.to_thread(Collector, "127.0.0.1", b.mqtt_port, CONFIG,
                                         client_id="forger")
        try:
            stranger = DownlinkSigner(Ed25519PrivateKey.generate())
            forged = ConfigSnapshot.build(installation(b, reader_door(garage, "B1-garage")),
                                          99, datetime.now(UTC))
            before = b.agent.downlink.verifier.refused["unknown_key"]
            await asyncio.to_thread(forger.publish, CONFIG, stranger.sign(CONFIG, forged.payload()),
                                    retain=True)
            await until(lambda: b.agent.downlink.verifier.refused["unknown_key"] > before,
                        "the refusal",
                        timeout=20)
            assert b.agent.configs.version is None and "B1-garage" not in b.agent.doors
            alarms = await until(lambda: _alarms(b, "downlink_refused"), "the alarm", timeout=15)
            assert any(CONFIG in a["message"] for a in alarms)
            # the hub's own configuration still gets through, replacing the forged retained one
            v1 = await push(b, installation(b, reader_door(garage, "B1-garage")))
            await until(lambda: b.agent.configs.version == v1, "the hub's v1", timeout=20)
            # a genuine older configuration replayed once a newer one runs: refused, alarmed
            genuine_v1 = b.hub.downlink.sign(CONFIG, ConfigSnapshot.build(
                installation(b, reader_door(garage, "B1-garage")), v1,
                datetime.now(UTC)).payload()) if b.hub.downlink else b""
            v2 = await push(b, installation(b))
            await until(lambda: b.agent.configs.version == v2, "the hub's v2", timeout=20)
            before = b.agent.downlink.verifier.refused["version_regress"]
            await asyncio.to_thread(forger.publish, CONFIG, genuine_v1)
            await until(lambda: b.agent.downlink.verifier.refused["version_regress"] > before,
                        "the replay refused",
                        timeout=20)
            assert b.agent.configs.version == v2 and "B1-garage" not in b.agent.doors
        finally:
            forger.close()
