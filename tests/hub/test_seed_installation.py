"""The demo building is commissioned through the installation's own functions (audited like
an installer's API calls), idempotently, and compiles into the edge's configuration."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from edge.reader_keys import seal_key  # the edge's own sealing, as it reports a key
from hub.audit import AuditEntry
from hub.installation import Installer, create_door
from hub.installation.compile import INSTALL_KEY, edge_config
from hub.installation.specs import DoorSpec
from hub.models import Edge, Lift, Line
from hub.readers.models import ReaderKeyRow
from hub.seed import (
    DEMO_EDGE,
    DEMO_INSTALLER,
    DEMO_SITE,
    DemoWiring,
    seed_demo,
    seed_vehicles,
)

pytestmark = [pytest.mark.timeout(120)]
KEY = "0f" * 16
# the demo's building wired whole, as `lintel demo` does with its simulators
WIRED = DemoWiring(fire_port="/dev/ttyUSB2", lift_tcp_port=1502,
                   camera_source="http://127.0.0.1:8081/stream.mjpg")


async def _trail(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(a.resource, a.name, a.action) for a in rows]


async def test_the_demo_building_is_commissioned_once_and_compiles(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions, WIRED)
    first = await _trail(sessions)
    assert first == [
        ("edge", DEMO_EDGE, "create"), ("line", "B1-main-rs485", "create"),
        ("line", "B1-garage-rs485", "create"), ("line", "B1-modbus", "create"),
        ("door", "B1-main", "create"), ("door", "B1-garage", "create"),
        ("device", "B1-lift-1", "create"), ("lift", "B1-lift-1", "create"),
        ("device", "B1-fire", "create"), ("camera", "B1-cam-lobby", "create")]
    await seed_demo(sessions, WIRED)  # a second start changes nothing
    assert await _trail(sessions) == first
    async with sessions() as session:
        assert set(await session.scalars(select(AuditEntry.actor))) == {
            DEMO_INSTALLER.username}
        edge_id = await session.scalar(select(Edge.id).where(Edge.name == DEMO_EDGE))
        assert edge_id is not None
        content = await edge_config(session, edge_id)
    assert (content.site, content.edge) == (DEMO_SITE, DEMO_EDGE)
    assert [(x.id, x.port, x.protocol) for x in content.lines] == [
        ("B1-garage-rs485", "/dev/ttyUSB1", "osdp"), ("B1-main-rs485", "/dev/ttyUSB0", "osdp"),
        ("B1-modbus", "/dev/ttyUSB2", "modbus")]
    doors = {d.id: d for d in content.doors}
    assert doors["B1-main"].fail_safe_egress and not doors["B1-garage"].fail_safe_egress
    assert (doors["B1-main"].reader.line, doors["B1-main"].reader.address) == (
        "B1-main-rs485", 101)
    assert doors["B1-main"].reader.scbk == INSTALL_KEY  # not commissioned yet
    devices = {d.id: d for d in content.devices}
    assert (devices["B1-fire"].line, devices["B1-fire"].unit_id) == ("B1-modbus", 3)
    assert (devices["B1-lift-1"].host, devices["B1-lift-1"].tcp_port) == ("127.0.0.1", 1502)
    assert [c.id for c in content.cameras] == ["B1-cam-lobby"]
    assert content.cameras[0].zones[0].cooldown_s == 60


async def test_the_demo_rewires_only_what_moved(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """`lintel demo` gives the simulators' ports at each start: only those change."""
    await seed_demo(sessions, WIRED)
    before = len(await _trail(sessions))
    wiring = DemoWiring(reader_ports={"B1-main": "/dev/pts/7", "B1-garage": "/dev/ttyUSB1"},
                        reader_keys={"B1-main": KEY}, lift_tcp_port=15020,
                        fire_port=WIRED.fire_port, camera_source=WIRED.camera_source)
    await seed_demo(sessions, wiring)
    assert (await _trail(sessions))[before:] == [
        ("line", "B1-main-rs485", "update"), ("door", "B1-main", "update"),
        ("device", "B1-lift-1", "update")]
    async with sessions() as session:
        edge_id = await session.scalar(select(Edge.id).where(Edge.name == DEMO_EDGE))
        assert edge_id is not None
        lines = await session.scalar(select(func.count()).select_from(Line))
        content = await edge_config(session, edge_id)
    assert lines == 3
    main = next(d for d in content.doors if d.id == "B1-main")
    assert main.reader.scbk == KEY
    assert next(x for x in content.lines if x.id == "B1-main-rs485").port == "/dev/pts/7"


async def test_the_tests_seed_installs_the_readers_alone(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """Without wiring the building has its edge, reader lines and doors; devices register by
    their first events, as the tests that seed it expect."""
    await seed_demo(sessions)
    assert [(r, a) for r, _, a in await _trail(sessions)] == [
        ("edge", "create"), ("line", "create"), ("line", "create"), ("door", "create"),
        ("door", "create")]


async def test_a_car_reader_names_its_lifts_controller(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions, WIRED)
    async with sessions() as session, session.begin():
        edge = (await session.scalars(select(Edge).where(Edge.name == DEMO_EDGE))).one()
        lift = (await session.scalars(select(Lift))).one()
        line = (await session.scalars(select(Line).where(Line.name == "B1-main-rs485"))).one()
        await create_door(Installer(session, DEMO_INSTALLER), DoorSpec(
            edge_id=edge.id, name="B1-lift-1-car", line_id=line.id, reader_address=7,
            lift_id=lift.id, contact_input=None, rex_input=None))
    async with sessions() as session:
        content = await edge_config(session, edge.id)
    car = next(d for d in content.doors if d.id == "B1-lift-1-car")
    assert (car.elevator, car.floor_enable_s, car.rex_input) == ("B1-lift-1", 10.0, None)


async def test_a_key_the_reader_took_at_the_edge_goes_into_the_configuration(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """The edge commissioned B1-main's reader and reported its key sealed to the hub's key: the
    configuration the hub compiles carries that key (else a recompile would hand the reader
    back the install key), opened only with the hub's signing key."""
    await seed_demo(sessions)
    hub_key = Ed25519PrivateKey.generate()
    own = bytes(range(16))
    public = base64.b64encode(hub_key.public_key().public_bytes_raw()).decode()
    async with sessions() as session, session.begin():
        session.add(ReaderKeyRow(
            site_id=DEMO_SITE, edge=DEMO_EDGE, door="B1-main", address=101,
            sealed_key=seal_key(own, public, f"{DEMO_SITE}/{DEMO_EDGE}/B1-main/101"),
            fingerprint="f" * 16, keyed_at=datetime.now(UTC), event_id="e" * 36))
    async with sessions() as session:
        edge_id = await session.scalar(select(Edge.id).where(Edge.name == DEMO_EDGE))
        assert edge_id is not None
        with_key = await edge_config(session, edge_id, [hub_key])
        without = await edge_config(session, edge_id)
    keys = {d.id: d.reader.scbk for d in with_key.doors}
    assert keys == {"B1-main": own.hex(), "B1-garage": INSTALL_KEY}
    assert {d.reader.scbk for d in without.doors} == {INSTALL_KEY}


async def test_the_demo_car_gate_is_installed_once_with_its_secret_kept_as_a_hash(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    import hashlib
    import json

    from hub.vehicles.models import BlockedPlate, Vehicle

    wiring = dataclasses.replace(WIRED, lane_secret="lane-pass-1", barrier_port=15021)
    await seed_demo(sessions, wiring)
    await seed_vehicles(sessions)
    await seed_vehicles(sessions)  # once
    first = await _trail(sessions)
    assert first[-2:] == [("lane", "gate-in", "create"), ("lane", "gate-out", "create")]
    await seed_demo(sessions, wiring)  # the secret is not given again: nothing changes
    assert await _trail(sessions) == first
    async with sessions() as session:
        edge_id = await session.scalar(select(Edge.id).where(Edge.name == DEMO_EDGE))
        assert edge_id is not None
        content = await edge_config(session, edge_id)
        cars = [(v.plate, v.note) for v in await session.scalars(select(Vehicle))]
        blocked = [b.plate for b in await session.scalars(select(BlockedPlate))]
        trail = await session.scalars(select(AuditEntry).where(AuditEntry.resource == "lane"))
        assert all("lane-pass-1" not in json.dumps(a.after) for a in trail)
    lanes = {lane.id: lane for lane in content.lanes}
    assert (lanes["gate-in"].direction, lanes["gate-out"].direction) == ("entry", "exit")
    assert lanes["gate-in"].barrier.kind == "camera_relay"
    assert lanes["gate-in"].barrier.comet_hold_s == 5  # type: ignore[union-attr]
    assert lanes["gate-out"].barrier.kind == "modbus_coil"
    assert lanes["gate-out"].barrier.tcp_port == 15021  # type: ignore[union-attr]
    assert lanes["gate-in"].camera_secret_sha256 == hashlib.sha256(b"lane-pass-1").hexdigest()
    assert cars == [("粤B12345", "张伟")] and blocked == ["粤B99999"]
