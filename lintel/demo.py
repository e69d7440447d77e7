"""`lintel demo`: the embedded broker, the hub on SQLite, one simulated building and its edge."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from edge.sensors.loader import load_models
from hub.api import create_user
from hub.cameras.store import issue_upload_token
from hub.models import Edge, Resident, ResidentAccount, User
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from hub.workorders.models import TechnicianSkill
from lintel.broker import EmbeddedBroker
from simulators.camera_scene import MjpegServer, Step
from simulators.control import create_control_app
from simulators.modbus_control import add_device_routes
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.osdp_door import OsdpDoorSimulator

SITE = "demo"
EDGE = "b1-edge"
# The demo building: door id, OSDP address, label.
DOORS = [("B1-main", 101, "1号楼 正门"), ("B1-garage", 102, "1号楼 车库门")]
ADMIN = "admin"
RESIDENT = "zhang"
# The control room's guard and the technician who gets the building's work orders.
GUARD = "wang"
TECHNICIAN = "li"
TECHNICIAN_SKILLS = ("elevator_drive", "elevator_electrical", "elevator_mechanical",
                     "elevator_safety", "elevator_door", "elevator_rescue", "fire_water",
                     "fire_electrical", "fire_alarm", "cctv", "general")
# The demo building's Modbus devices: device id, firmware model, transport.
DEVICES = [("B1-lift-1", "elevator-vvvf-a", "tcp"), ("B1-fire", "fire-panel-8z", "rtu")]
FAIL_SAFE_DOORS = {"B1-main"}  # released for egress on a fire alarm
# The lobby camera: someone crosses the lobby every 20 s; its zone alerts at most once a minute.
CAMERA = "B1-cam-lobby"
CAMERA_SCENE = [Step("walk", 45), Step("idle", 150)]


def _port_or_free(preferred: int) -> int:
    """The preferred port if it is free on loopback, else any free one."""
    for candidate in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def _secret(path: Path, make: callable) -> str:  # type: ignore[valid-type]
    """A per-installation secret kept in the data folder, so restarts keep working."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.write_text(value)
    os.chmod(path, 0o600)
    return value


async def _resident_login(sessions: async_sessionmaker[AsyncSession], password: str) -> None:
    """The demo resident's app login, linked to 张伟 so the dynamic QR code works."""
    async with sessions() as session, session.begin():
        if await session.scalar(select(User.id).where(User.username == RESIDENT)):
            return
        zhang = await session.scalar(
            select(Resident).where(Resident.site_id == SITE, Resident.name == "张伟"))
        if zhang is None:
            return
        user = await create_user(session, RESIDENT, password, "resident", SITE)
        user.household_id = zhang.household_id
        session.add(ResidentAccount(user_id=user.id, resident_id=zhang.id))


async def _staff_logins(sessions: async_sessionmaker[AsyncSession], password: str) -> None:
    """The demo's guard and technician (with the skills of the demo building's faults)."""
    async with sessions() as session, session.begin():
        if await session.scalar(select(User.id).where(User.username == GUARD)):
            return
        await create_user(session, GUARD, password, "guard", SITE)
        tech = await create_user(session, TECHNICIAN, password, "technician", SITE)
        session.add_all(TechnicianSkill(user_id=tech.id, skill=s) for s in TECHNICIAN_SKILLS)


async def _upload_token(sessions: async_sessionmaker[AsyncSession]) -> str:
    """The demo edge's snapshot upload token (a new one at each start)."""
    async with sessions() as session, session.begin():
        edge_id = await session.scalar(
            select(Edge.id).where(Edge.site_id == SITE, Edge.name == EDGE))
        assert edge_id is not None, "the demo seed makes the edge"
        return await issue_upload_token(session, edge_id)


async def _login(url: str, password: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/v1/auth/login",
                             json={"username": ADMIN, "password": password}) as resp:
            resp.raise_for_status()
            return str((await resp.json())["token"])


async def run_demo(data: Path, stop: asyncio.Event, *, http_port: int = 8080,
                   mqtt_port: int = 1883) -> None:
    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    mqtt_port = _port_or_free(mqtt_port)
    http_port = _port_or_free(http_port)
    password = _secret(data / "admin-password", lambda: secrets.token_urlsafe(12))
    keys = {door: _secret(data / f"scbk-{door}", lambda: secrets.token_hex(16)) for door, _, _ in DOORS}

    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(EmbeddedBroker(port=mqtt_port))
        settings = HubSettings(
            database_url=f"sqlite+aiosqlite:///{data / 'hub.db'}",
            mqtt_host="127.0.0.1", mqtt_port=mqtt_port, mqtt_username="hub",
            mqtt_shared_group=None, http_host="127.0.0.1", http_port=http_port,
            admin_username=ADMIN, admin_password=password, data_dir=data,
        )
        hub = await stack.enter_async_context(Hub(settings))
        await seed_demo(hub.sessions)
        resident_password = _secret(data / "resident-password", lambda: secrets.token_urlsafe(12))
        await _resident_login(hub.sessions, resident_password)
        staff_password = _secret(data / "staff-password", lambda: secrets.token_urlsafe(12))
        await _staff_logins(hub.sessions, staff_password)
        await hub.publisher.publish_site(SITE)

        sims: dict[str, OsdpDoorSimulator] = {}
        for door, address, _ in DOORS:
            sim = OsdpDoorSimulator(address=address, scbk=bytes.fromhex(keys[door]), name=door)
            sim.start()
            stack.callback(sim.close)
            sims[door] = sim
        models = load_models()
        devices: dict[str, ModbusDeviceSimulator] = {}
        for device, model, transport in DEVICES:
            devices[device] = await stack.enter_async_context(ModbusDeviceSimulator(
                models[model], name=device, transport=transport,  # type: ignore[arg-type]
                serial=models[model].transport.serial.model_copy(update={"parity": "N"}),
            ))
        control_app = create_control_app(sims)
        add_device_routes(control_app, devices)
        runner = web.AppRunner(control_app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        control_port = _port_or_free(0)
        await web.TCPSite(runner, "127.0.0.1", control_port).start()
        (data / "sim.json").write_text(json.dumps({"control_url": f"http://127.0.0.1:{control_port}"}))
        stack.callback((data / "sim.json").unlink, missing_ok=True)

        camera = await stack.enter_async_context(MjpegServer(CAMERA_SCENE, fps=10))
        edge_config = EdgeConfig.model_validate({
            "site": SITE, "edge": EDGE, "data_dir": str(data / "edge"),
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "username": EDGE},
            "doors": [
                {"id": door, "name": label, "fail_safe_egress": door in FAIL_SAFE_DOORS,
                 "reader": {"port": sims[door].port, "address": address, "scbk": keys[door]}}
                for door, address, label in DOORS
            ],
            "devices": [
                {"id": device, "model": model, "transport": transport,
                 "port": devices[device].port, "host": "127.0.0.1",
                 "tcp_port": devices[device].tcp_port, "serial": {"parity": "N"}}
                for device, model, transport in DEVICES
            ],
            "cameras": [{"id": CAMERA, "name": "1号楼 大堂", "source": camera.url, "zones": [
                {"name": "lobby", "polygon": [[0, 0.25], [1, 0.25], [1, 1], [0, 1]],
                 "cooldown_s": 60}]}],
            "uploads": {"url": hub.url, "token": await _upload_token(hub.sessions)},
            # the edge obeys only what this hub signs (its key in <data>/hub-signing-key)
            "hub_keys": hub.downlink.public_keys if hub.downlink is not None else [],
        })
        await stack.enter_async_context(EdgeAgent(edge_config))
        token = await _login(hub.url, password)
        print(f"Lintel demo is running (data in {data}).", flush=True)
        print(f"web: {hub.url}", flush=True)
        print(f"login: {ADMIN} / {password}", flush=True)
        print(f"resident login (张伟, for /api/v1/me/qr): {RESIDENT} / {resident_password}",
              flush=True)
        print(f"guard login (console /guard): {GUARD} / {staff_password}", flush=True)
        print(f"technician login (console /tech): {TECHNICIAN} / {staff_password}", flush=True)
        print(f"token: {token}", flush=True)
        print("try:  lintel sim swipe --door B1-main --card 1001", flush=True)
        print("      lintel sim zone --device B1-fire --zone 3 fire   (then: lintel sim fire-reset "
              "--device B1-fire)", flush=True)
        print(f"      curl -H 'Authorization: Bearer {token}' {hub.url}/api/v1/access-events",
              flush=True)
        print(f"      curl -H 'Authorization: Bearer {token}' {hub.url}/api/v1/camera-alerts"
              "   (the lobby camera's alerts and snapshot links)", flush=True)
        await stop.wait()
        print("stopping", flush=True)
