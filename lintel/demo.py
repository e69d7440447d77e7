"""`lintel demo`: the embedded broker, the hub on SQLite, one simulated building and its edge."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import secrets
import shlex
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from edge.sensors.loader import load_models
from hub.cameras.store import issue_upload_token
from hub.installation.compile import edge_config as hub_edge_config
from hub.live import Listener
from hub.models import Edge
from hub.seed import (
    DEMO_BLOCKED_PLATE,
    DEMO_CAR,
    DEMO_DOORS,
    DEMO_GUARD,
    DEMO_RESIDENT,
    DEMO_ROUTE,
    DEMO_TECHNICIAN,
    DEMO_VISITOR_CAR,
    DemoWiring,
    commission_demo,
    seed_demo,
    seed_demo_logins,
    seed_patrol,
    seed_vehicles,
)
from hub.service import Hub
from hub.settings import HubSettings
from lintel.broker import EmbeddedBroker
from lintel.demo_feed import DoorFeed
from lintel.demo_lanes import LaneFeed
from simulators.barrier import BarrierSimulator
from simulators.camera_scene import MjpegServer, Step
from simulators.control import create_control_app
from simulators.modbus_control import add_device_routes
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.osdp_door import OsdpDoorSimulator
from simulators.patrol_displays import add_display_routes

log = logging.getLogger(__name__)

SITE = "demo"
EDGE = "b1-edge"
# The demo building's doors (the seed's): door id, OSDP address, label.
DOORS = [(door, address, label) for door, label, address, _ in DEMO_DOORS]
ADMIN = "admin"
# The demo building's Modbus devices: device id, firmware model, transport.
DEVICES: list[tuple[str, str, Literal["rtu", "tcp"]]] = [
    ("B1-lift-1", "elevator-vvvf-a", "tcp"), ("B1-fire", "fire-panel-8z", "rtu")]
# The lobby camera: someone crosses the lobby every 20 s; its zone alerts at most once a minute.
CAMERA_SCENE = [Step("walk", 45), Step("idle", 150)]
# How long the hub may take to record the stopped edge's "offline" state.
EDGE_GOODBYE_S = 5.0
# Whose password is kept in which file of the data folder (<role>-password).
_LOGIN_ROLES = {DEMO_RESIDENT: "resident", DEMO_GUARD: "guard", DEMO_TECHNICIAN: "technician"}


@dataclass(frozen=True)
class PortChoice:
    """What a port serves and how a person picks another (lintel.cli reads the same names)."""

    what: str
    flag: str
    env: str


HTTP_PORT = PortChoice("the web console and API", "--http-port", "LINTEL_DEMO_HTTP_PORT")
MQTT_PORT = PortChoice("the MQTT broker", "--mqtt-port", "LINTEL_DEMO_MQTT_PORT")


class PortInUse(Exception):
    """A port the demo was asked to serve on is taken; the message says how to pick another."""

    def __init__(self, port: int, choice: PortChoice, reason: str) -> None:
        super().__init__(f"port {port} for {choice.what} {reason}; choose another with "
                         f"{choice.flag} PORT or {choice.env}=PORT (0: any free port)")
        self.port = port


def check_port_free(port: int, choice: PortChoice) -> None:
    """Raise PortInUse unless `port` can be listened on at 127.0.0.1 (0 always can)."""
    if port == 0:
        return
    with socket.socket() as sock:
        # as asyncio's servers do: a port left in TIME_WAIT by the last run counts as free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            reason = ("is already in use" if exc.errno == errno.EADDRINUSE
                      else f"cannot be used ({exc.strerror or exc})")
            raise PortInUse(port, choice, reason) from exc


@contextlib.asynccontextmanager
async def _taken_as(port: int, choice: PortChoice) -> AsyncIterator[None]:
    """Another program took the port since check_port_free: say so the same way."""
    try:
        yield
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None:  # amqtt wraps the OSError in a BrokerError
            if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
                raise PortInUse(port, choice, "is already in use") from exc
            cause = cause.__cause__ or cause.__context__
        raise


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _secret(path: Path, make: Callable[[], str]) -> str:
    """A per-installation secret kept in the data folder, so restarts keep working."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.write_text(value)
    os.chmod(path, 0o600)
    return value


async def _upload_token(sessions: async_sessionmaker[AsyncSession]) -> str:
    """The demo edge's snapshot upload token (a new one at each start)."""
    async with sessions() as session, session.begin():
        edge_id = await session.scalar(
            select(Edge.id).where(Edge.site_id == SITE, Edge.name == EDGE))
        assert edge_id is not None, "the demo seed makes the edge"
        return await issue_upload_token(session, edge_id)


async def _commission(hub: Hub, wiring: DemoWiring) -> dict[str, object]:
    """Wire the demo building to the simulators and return its installation as compiled."""
    async with hub.sessions() as session, session.begin():
        await commission_demo(session, wiring)
        edge_id = await session.scalar(
            select(Edge.id).where(Edge.site_id == SITE, Edge.name == EDGE))
        assert edge_id is not None, "the demo seed makes the edge"
        content = await hub_edge_config(session, edge_id)
    if hub.config_pusher is not None:  # the retained configuration says the same (not the
        hub.config_pusher.edges_changed(SITE, [edge_id])  # last run's ptys, which are gone)
    return content.model_dump(mode="json", include={"lines", "doors", "devices", "cameras"})


async def _login(url: str, password: str) -> str:
    async with aiohttp.ClientSession() as http, http.post(
            f"{url}/api/v1/auth/login", json={"username": ADMIN, "password": password}) as resp:
        resp.raise_for_status()
        return str((await resp.json())["token"])


@contextlib.asynccontextmanager
async def _edge_heard_out(hub: Hub, config: EdgeConfig) -> AsyncIterator[None]:
    """The edge agent; once it stopped, the hub takes in its last words (its "offline" state)
    before anything else stops: stopping the hub would cut that write short."""
    # told to the consoles once the state is committed (hub.liveness.live_items)
    goodbye = Listener(role="admin", user_id=0, channels=frozenset({"edges"}))
    async with EdgeAgent(config):
        yield
        hub.live.listen(goodbye)
    try:
        async with asyncio.timeout(EDGE_GOODBYE_S):
            while (await goodbye.queue.get()).data.get("status") != "offline":
                pass
            await hub.ingest.wait_idle(EDGE_GOODBYE_S)  # what follows the commit, too
    except TimeoutError:
        log.debug("the hub did not hear the edge go offline within %s s", EDGE_GOODBYE_S)
    finally:
        hub.live.unlisten(goodbye)


async def run_demo(data: Path, stop: asyncio.Event, *, http_port: int = 8080,
                   mqtt_port: int = 1883) -> None:
    # before anything is made: a taken port stops the demo with one line (lintel.cli)
    check_port_free(http_port, HTTP_PORT)
    check_port_free(mqtt_port, MQTT_PORT)
    if mqtt_port == 0:  # the broker's port must be known before the hub and edge connect
        mqtt_port = _free_port()
    data = data.resolve()  # noqa: ASYNC240 (start-up: nothing else runs yet)
    data.mkdir(parents=True, exist_ok=True)
    password = _secret(data / "admin-password", lambda: secrets.token_urlsafe(12))
    keys = {door: _secret(data / f"scbk-{door}", lambda: secrets.token_hex(16)) for door, _, _ in DOORS}

    async with contextlib.AsyncExitStack() as stack:
        async with _taken_as(mqtt_port, MQTT_PORT):
            await stack.enter_async_context(EmbeddedBroker(port=mqtt_port))
        settings = HubSettings(
            database_url=f"sqlite+aiosqlite:///{data / 'hub.db'}",
            mqtt_host="127.0.0.1", mqtt_port=mqtt_port, mqtt_username="hub",
            mqtt_shared_group=None, http_host="127.0.0.1", http_port=http_port,
            admin_username=ADMIN, admin_password=SecretStr(password), data_dir=data,
        )
        async with _taken_as(http_port, HTTP_PORT):
            hub = await stack.enter_async_context(Hub(settings))
        await seed_demo(hub.sessions)
        # each login its own password, kept in the data folder like the admin's
        logins = {user: _secret(data / f"{role}-password", lambda: secrets.token_urlsafe(12))
                  for user, role in _LOGIN_ROLES.items()}
        await seed_demo_logins(hub.sessions, logins)
        displays = await seed_patrol(hub.sessions)
        await seed_vehicles(hub.sessions)
        # what the checkpoints' displays were given at installation, for `lintel sim patrol`
        (data / "patrol-displays.json").write_text(json.dumps(displays))
        os.chmod(data / "patrol-displays.json", 0o600)

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
                models[model], name=device, transport=transport,
                serial=models[model].transport.serial.model_copy(update={"parity": "N"}),
            ))
        control_app = create_control_app(sims)
        add_device_routes(control_app, devices)
        add_display_routes(control_app, SITE, displays)
        runner = web.AppRunner(control_app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        control_port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", control_port).start()
        (data / "sim.json").write_text(json.dumps({"control_url": f"http://127.0.0.1:{control_port}"}))
        stack.callback((data / "sim.json").unlink, missing_ok=True)

        camera = await stack.enter_async_context(MjpegServer(CAMERA_SCENE, fps=10))
        # the car gate: the exit lane's barrier on a Modbus TCP relay; the cameras push to the
        # edge's lane port with their password (kept in the data folder like the others)
        barrier = await stack.enter_async_context(BarrierSimulator(hold_s=4.0))
        lane_secret = _secret(data / "lane-camera-secret", lambda: secrets.token_urlsafe(12))
        lanes_port = _free_port()
        # the building is wired to the simulators: the hub's installation says where, as an
        # installer would set it through the API, and the edge runs what the hub compiled
        installation = await _commission(hub, DemoWiring(
            reader_ports={door: sims[door].port for door, _, _ in DOORS}, reader_keys=keys,
            fire_port=str(devices["B1-fire"].port), lift_tcp_port=int(
                devices["B1-lift-1"].tcp_port or 0), camera_source=camera.url,
            lane_secret=lane_secret, barrier_port=barrier.tcp_port))
        await hub.publisher.publish_site(SITE)
        edge_config = EdgeConfig.model_validate({
            "site": SITE, "edge": EDGE, "data_dir": str(data / "edge"),
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "username": EDGE},
            **installation,
            "uploads": {"url": hub.url, "token": await _upload_token(hub.sessions)},
            "lanes_host": "127.0.0.1", "lanes_port": lanes_port,
            # the edge obeys only what this hub signs (its key in <data>/hub-signing-key)
            "hub_keys": hub.downlink.public_keys if hub.downlink is not None else [],
        })
        await stack.enter_async_context(_edge_heard_out(hub, edge_config))
        await stack.enter_async_context(DoorFeed(hub.live, hub.sessions))
        lanes_url = f"http://127.0.0.1:{lanes_port}"
        await stack.enter_async_context(LaneFeed(lanes_url, lane_secret))
        token = await _login(hub.url, password)
        print(f"Lintel demo is running (data in {data}).", flush=True)
        print(f"web: {hub.url}", flush=True)
        print(f"login: {ADMIN} / {password}", flush=True)
        print(f"resident login (张伟, for /api/v1/me/qr): {DEMO_RESIDENT} / "
              f"{logins[DEMO_RESIDENT]}", flush=True)
        print(f"guard login (console /guard): {DEMO_GUARD} / {logins[DEMO_GUARD]}", flush=True)
        print(f"patrol: the guard's phone page {hub.url}/guard/patrol, the checkpoints' "
              f"displays http://127.0.0.1:{control_port}/patrol/displays, the supervisor's "
              f"{hub.url}/manage/patrol; a simulated walk: LINTEL_PATROL_PASSWORD=... lintel sim "
              f"patrol --guard {DEMO_GUARD} --route {DEMO_ROUTE} --secrets "
              f"{data / 'patrol-displays.json'}", flush=True)
        print(f"technician login (console /tech): {DEMO_TECHNICIAN} / "
              f"{logins[DEMO_TECHNICIAN]}", flush=True)
        print(f"token: {token}", flush=True)
        print("try:  lintel sim swipe --door B1-main --card 1001", flush=True)
        print("      lintel sim zone --device B1-fire --zone 3 fire   (then: lintel sim fire-reset "
              "--device B1-fire)", flush=True)
        print(f"car gate: the guard's lane panel {hub.url}/guard/lanes (a car every 25 s: "
              f"{DEMO_CAR} is 张伟's, {DEMO_BLOCKED_PLATE} is blocked, {DEMO_VISITOR_CAR} a "
              f"visitor the resident can issue a visitor-car pass for); one more: lintel sim "
              # `=`: a secret may start with "-", which argparse takes for an option
              f"plate --lane gate-in --plate 粤A12345 --secret={shlex.quote(lane_secret)} "
              f"--edge {lanes_url}", flush=True)
        print(f"      curl -H 'Authorization: Bearer {token}' {hub.url}/api/v1/access-events",
              flush=True)
        print(f"      curl -H 'Authorization: Bearer {token}' {hub.url}/api/v1/camera-alerts"
              "   (the lobby camera's alerts and snapshot links)", flush=True)
        await stop.wait()
        # the stack closes in reverse: the door feed, the edge agent (its "offline" state goes
        # out while the broker runs and the hub stores it), the simulators, the hub, the broker
        print("stopping", flush=True)
    print("Lintel demo stopped.", flush=True)
