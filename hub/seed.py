"""Demo data for `lintel demo` and the tests. Idempotent: running it twice changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.core.auth import create_user, hash_password, verify_password
from hub.cameras.models import Camera
from hub.installation import (
    Actor,
    Installer,
    create_camera,
    create_device,
    create_door,
    create_edge,
    create_lift,
    create_line,
    update_camera,
    update_device,
    update_door,
    update_edge,
    update_lift,
    update_line,
)
from hub.installation.cameras import camera_spec
from hub.installation.catalog import load_catalog
from hub.installation.devices import device_spec
from hub.installation.doors import door_spec
from hub.installation.edges import edge_spec
from hub.installation.lanes import create_lane, lane_spec, update_lane
from hub.installation.lifts import lift_spec
from hub.installation.lines import line_spec
from hub.installation.specs import (
    CameraChange,
    CameraSpec,
    DeviceChange,
    DeviceSpec,
    DoorChange,
    DoorSpec,
    EdgeChange,
    EdgeSpec,
    FloorSpec,
    LaneChange,
    LaneSpec,
    LiftChange,
    LiftSpec,
    LineChange,
    LineSpec,
    Protocol,
    Spec,
    ZoneSpec,
)
from hub.models import (
    AccessGroup,
    Base,
    Building,
    CardCredential,
    Device,
    Door,
    Edge,
    Household,
    Lift,
    Line,
    Resident,
    ResidentAccount,
    Schedule,
    Site,
    Unit,
    User,
)
from hub.patrol.models import Checkpoint, GuardCard, Route
from hub.patrol.registry import Stop, add_checkpoint, add_guard_card, add_route
from hub.vehicles.models import BlockedPlate, Lane, Vehicle
from hub.workorders.models import TechnicianSkill
from wire.vehicles import Barrier, CameraRelayBarrier, ModbusBarrier

DEMO_SITE = "demo"
DEMO_EDGE = "b1-edge"
# The demo's logins beside the admin, each with a password of its own (seed_demo_logins).
DEMO_RESIDENT = "zhang"  # 张伟's phone app: his dynamic QR code
DEMO_GUARD = "wang"  # the control room
DEMO_TECHNICIAN = "li"  # gets the building's work orders
DEMO_LOGINS = (DEMO_RESIDENT, DEMO_GUARD, DEMO_TECHNICIAN)
# The technician's skills: those of the demo building's fault codes.
TECHNICIAN_SKILLS = ("elevator_drive", "elevator_electrical", "elevator_mechanical",
                     "elevator_safety", "elevator_door", "elevator_rescue", "fire_water",
                     "fire_electrical", "fire_alarm", "cctv", "general",
                     "general_repair")  # residents' repair requests (hub.api.workorders.schemas)
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}]
# The night patrol (issue 17): code, name, 中文名, location, the door of a door checkpoint.
DEMO_CHECKPOINTS = (
    ("CP1", "North gate house", "北门岗亭", "North gate", None),
    ("CP2", "Car park ramp", "地库坡道", "Basement entrance, B1", None),
    ("CP3", "Building 1 main door", "1号楼正门", "Building 1 lobby", "B1-main"),
    ("CP4", "Garden pavilion", "花园凉亭", "Central garden", None),
)
DEMO_ROUTE = "night-a"  # every 2 hours from 22:00 to 06:00, 10 minutes per checkpoint
DEMO_GUARD_CARD = "9001"  # the guard's card: a patrol reading at B1-main (CP3)
# Who commissions the demo building, in the audit trail.
DEMO_INSTALLER = Actor(username="demo-seed", all_sites=True)


@dataclass(frozen=True)
class DemoWiring:
    """Where the demo building's parts are reached: `lintel demo` gives the simulators' ports.
    The defaults stand for a building whose readers are on the wall and nothing else yet (the
    tests' seed: their devices register by their events); None leaves a part out."""

    reader_ports: Mapping[str, str] = field(default_factory=lambda: {
        "B1-main": "/dev/ttyUSB0", "B1-garage": "/dev/ttyUSB1"})
    reader_keys: Mapping[str, str] = field(default_factory=dict)  # door -> key, once commissioned
    fire_port: str | None = None  # the fire panel's RS-485 line
    lift_host: str = "127.0.0.1"
    lift_tcp_port: int | None = None  # the lift controller's Modbus TCP port
    camera_source: str | None = None
    lane_secret: str | None = None  # the lane cameras' password: the two vehicle lanes
    barrier_port: int | None = None  # the exit lane's barrier (Modbus TCP relay) port
    barrier_host: str = "127.0.0.1"


# The demo building's doors: name, label, OSDP address, released on a fire alarm.
DEMO_DOORS = (("B1-main", "1号楼 正门", 101, True), ("B1-garage", "1号楼 车库门", 102, False))
DEMO_LIFT, DEMO_FIRE, DEMO_CAMERA = "B1-lift-1", "B1-fire", "B1-cam-lobby"
# The compound's car gate: an entry lane on the camera's relay (its heartbeat held, so the
# guard's open is prompt) and an exit lane on a Modbus relay; name, label, direction.
DEMO_LANES = (("gate-in", "东门 入口", "entry"), ("gate-out", "东门 出口", "exit"))
# 张伟's car; a plate the compound blocked; a visitor's car the resident may issue a pass for.
DEMO_CAR, DEMO_BLOCKED_PLATE, DEMO_VISITOR_CAR = "粤B12345", "粤B99999", "粤C88888"

M = TypeVar("M", bound=Base)


async def _get_or_add(session: AsyncSession, model: type[M], where: dict[str, Any],
                      **values: Any) -> M:
    row = (await session.execute(select(model).filter_by(**where))).scalar_one_or_none()
    if row is None:
        row = model(**where, **values)
        session.add(row)
        await session.flush()
    return row


async def seed_demo(sessions: async_sessionmaker[AsyncSession],
                    wiring: DemoWiring | None = None) -> None:
    """Site `demo`: building B1 with units, commissioned (commission_demo) with edge
    `b1-edge`, doors B1-main and B1-garage, a lift, a fire panel and a camera; schedule
    `always`, group "1号楼大门" (B1-main, always); 张伟 holds card 1001 in that group,
    李娜 holds card 1002 in no group. There is no card 9999."""
    async with sessions() as session, session.begin():
        site = await _get_or_add(session, Site, {"id": DEMO_SITE},
                                 name="演示小区 Demo Compound", timezone="Asia/Shanghai")
        b1 = await _get_or_add(session, Building, {"site_id": site.id, "code": "B1"}, name="1号楼")
        units = {}
        for number, floor in (("101", 1), ("102", 1), ("201", 2), ("202", 2)):
            units[number] = await _get_or_add(session, Unit, {"building_id": b1.id, "number": number},
                                              floor=floor)
        await commission_demo(session, wiring or DemoWiring())
        main = (await session.execute(select(Door).filter_by(site_id=site.id, name="B1-main"))
                ).scalar_one()
        always = await _get_or_add(session, Schedule, {"site_id": site.id, "name": "always"},
                                   windows=ALWAYS)
        group = await _get_or_add(session, AccessGroup, {"site_id": site.id, "name": "1号楼大门"},
                                  schedule_id=always.id)
        await session.refresh(group, ["doors"])
        if main not in group.doors:
            group.doors.append(main)
        zhang = await _get_or_add(session, Resident, {"site_id": site.id, "name": "张伟"},
                                  unit_id=units["101"].id, phone="13800000001")
        await session.refresh(zhang, ["groups"])
        if group not in zhang.groups:
            zhang.groups.append(group)
        li = await _get_or_add(session, Resident, {"site_id": site.id, "name": "李娜"},
                               unit_id=units["102"].id, phone="13800000002")
        # issue 3: each resident in their unit's household
        for resident, number, kind in ((zhang, "101", "owner"), (li, "102", "tenant")):
            household = await _get_or_add(session, Household, {"unit_id": units[number].id},
                                          site_id=site.id, name="")
            resident.household_id, resident.type = household.id, kind
            units[number].status = "occupied" if kind == "owner" else "rented"
        await _get_or_add(session, CardCredential, {"site_id": site.id, "card_number": "1001"},
                          resident_id=zhang.id)
        await _get_or_add(session, CardCredential, {"site_id": site.id, "card_number": "1002"},
                          resident_id=li.id)



S = TypeVar("S", bound=Spec)


async def _ensure(inst: Installer, row: Any, spec: S, current: Callable[[Any], dict[str, Any]],
                  change: type[Any], create: Callable[[Installer, S], Awaitable[Any]],
                  update: Callable[[Installer, int, Any], Awaitable[Any]]) -> Any:
    """The part as `spec` says, through the installation's own functions: added when missing,
    changed (and audited) only where it differs, left alone when it matches."""
    if row is None:
        return await create(inst, spec)
    wanted = spec.model_dump(mode="json", exclude={*spec.FIXED, "site_id"})
    held = current(row)
    diff = {k: v for k, v in wanted.items() if held.get(k) != v}
    return row if not diff else await update(inst, row.id, change.model_validate(diff))


def factory_unit(model: str) -> int:
    """The unit id a device of `model` answers out of the box (as the simulators do)."""
    return load_catalog()[model].unit_id


async def _one(session: AsyncSession, model: type[M], **where: Any) -> M | None:
    return (await session.execute(select(model).filter_by(**where))).scalar_one_or_none()


async def commission_demo(session: AsyncSession, wiring: DemoWiring) -> None:
    """The demo building's installation, as an installer would make it through the API: the
    edge, a line per reader (each simulated reader has its own pty) and one for the Modbus
    fire panel, the doors, the lift controller (Modbus TCP) and its lift, the lobby camera.
    Idempotent: run again with other ports, it changes only those."""
    inst = Installer(session, DEMO_INSTALLER)
    b1 = await _one(session, Building, site_id=DEMO_SITE, code="B1")
    assert b1 is not None, "seed_demo makes the building first"
    edge = await _ensure(inst, await _one(session, Edge, site_id=DEMO_SITE, name=DEMO_EDGE),
                         EdgeSpec(site_id=DEMO_SITE, name=DEMO_EDGE, label="1号楼",
                                  building_id=b1.id),
                         edge_spec, EdgeChange, create_edge, update_edge)
    lines = {}
    wanted: list[tuple[str, str, Protocol]] = [
        (f"{door}-rs485", wiring.reader_ports[door], "osdp") for door, *_ in DEMO_DOORS]
    if wiring.fire_port is not None:
        wanted.append(("B1-modbus", wiring.fire_port, "modbus"))
    for name, port, protocol in wanted:
        line = LineSpec(edge_id=edge.id, name=name, port=port, protocol=protocol,
                        baudrate=115200 if protocol == "osdp" else 9600)
        lines[name] = await _ensure(inst, await _one(session, Line, edge_id=edge.id, name=name),
                                    line, line_spec, LineChange, create_line, update_line)
    for door, label, address, egress in DEMO_DOORS:
        spec = DoorSpec(edge_id=edge.id, name=door, label=label,
                        line_id=lines[f"{door}-rs485"].id, reader_address=address,
                        reader_key=wiring.reader_keys.get(door), fail_safe_egress=egress)
        held = await _one(session, Door, site_id=DEMO_SITE, name=door)
        if held is not None:  # keep what the console set: the mode, its schedule, card + PIN
            spec = spec.model_copy(update={"mode": held.mode,
                                           "unlock_schedule_id": held.unlock_schedule_id,
                                           "pin_required": held.pin_required})
        await _ensure(inst, held, spec, door_spec, DoorChange, create_door, update_door)
    if wiring.lift_tcp_port is not None:
        lift_ctl = await _ensure(
            inst, await _one(session, Device, site_id=DEMO_SITE, edge=DEMO_EDGE, name=DEMO_LIFT),
            DeviceSpec(edge_id=edge.id, name=DEMO_LIFT, label="1号楼 1号电梯",
                       model="elevator-vvvf-a", transport="tcp", host=wiring.lift_host,
                       tcp_port=wiring.lift_tcp_port, unit_id=factory_unit("elevator-vvvf-a")),
            device_spec, DeviceChange, create_device, update_device)
        await _ensure(
            inst, await _one(session, Lift, site_id=DEMO_SITE, name=DEMO_LIFT),
            LiftSpec(name=DEMO_LIFT, label="1号楼 1号电梯", device_id=lift_ctl.id,
                     building_id=b1.id,
                     floors=[FloorSpec(floor=n, label=str(n)) for n in range(1, 7)]),
            lift_spec, LiftChange, create_lift, update_lift)
    if wiring.fire_port is not None:
        await _ensure(
            inst, await _one(session, Device, site_id=DEMO_SITE, edge=DEMO_EDGE, name=DEMO_FIRE),
            DeviceSpec(edge_id=edge.id, name=DEMO_FIRE, label="1号楼 消防主机",
                       model="fire-panel-8z", transport="rtu", line_id=lines["B1-modbus"].id,
                       unit_id=factory_unit("fire-panel-8z")),
            device_spec, DeviceChange, create_device, update_device)
    if wiring.camera_source is not None:
        await _ensure(
            inst,
            await _one(session, Camera, site_id=DEMO_SITE, edge_id=edge.id, name=DEMO_CAMERA),
            CameraSpec(edge_id=edge.id, name=DEMO_CAMERA, label="1号楼 大堂",
                       source=wiring.camera_source, zones=[ZoneSpec(
                           name="lobby", polygon=[(0, 0.25), (1, 0.25), (1, 1), (0, 1)],
                           cooldown_s=60)]),
            camera_spec, CameraChange, create_camera, update_camera)
    if wiring.lane_secret is not None:
        for name, label, direction in DEMO_LANES:
            barrier: Barrier = CameraRelayBarrier(comet_hold_s=5)
            if direction == "exit" and wiring.barrier_port is not None:
                barrier = ModbusBarrier(host=wiring.barrier_host, tcp_port=wiring.barrier_port,
                                        up_input=0, forced_after_s=5)
            held_lane = await _one(session, Lane, site_id=DEMO_SITE, name=name)
            await _ensure(inst, held_lane, LaneSpec(
                edge_id=edge.id, name=name, label=label, direction=direction,  # type: ignore[arg-type]
                # the secret is kept only as its hash: given when installing, else kept
                camera_secret=wiring.lane_secret if held_lane is None else None,
                barrier=barrier), lane_spec, LaneChange, create_lane, update_lane)


async def seed_vehicles(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The demo's cars (issue 17), each when missing: 张伟's car at the lanes and a plate the
    compound refuses. After seed_demo; apart from it, so the tests' building has none."""
    async with sessions() as session, session.begin():
        zhang = await session.scalar(
            select(Resident).where(Resident.site_id == DEMO_SITE, Resident.name == "张伟"))
        if zhang is None or zhang.household_id is None:
            raise ValueError("seed_vehicles: run seed_demo first (no resident 张伟)")
        await _get_or_add(session, Vehicle, {"site_id": DEMO_SITE, "plate": DEMO_CAR},
                          household_id=zhang.household_id, colour="blue", lanes=[],
                          note="张伟")
        await _get_or_add(session, BlockedPlate,
                          {"site_id": DEMO_SITE, "plate": DEMO_BLOCKED_PLATE},
                          reason="欠缴停车费")


async def seed_demo_logins(sessions: async_sessionmaker[AsyncSession],
                           passwords: Mapping[str, str]) -> None:
    """The resident's (linked to 张伟), guard's and technician's logins, `passwords` by username
    (one for each of DEMO_LOGINS). A login that exists gets the given password back, so the
    logins the demo prints always work (older demo folders shared one staff password)."""
    missing = sorted(set(DEMO_LOGINS) - set(passwords))
    if missing:
        raise ValueError(f"seed_demo_logins: no password for {', '.join(missing)}")
    async with sessions() as session, session.begin():
        existing = {u.username: u for u in (await session.scalars(
            select(User).where(User.username.in_(DEMO_LOGINS)))).all()}
        for username, user in existing.items():
            if not await verify_password(user.password_hash, passwords[username]):
                user.password_hash = await hash_password(passwords[username])
        if DEMO_RESIDENT not in existing:
            zhang = await session.scalar(
                select(Resident).where(Resident.site_id == DEMO_SITE, Resident.name == "张伟"))
            if zhang is None:
                raise ValueError("seed_demo_logins: run seed_demo first (no resident 张伟)")
            user = await create_user(session, DEMO_RESIDENT, passwords[DEMO_RESIDENT], "resident",
                                     DEMO_SITE, household_id=zhang.household_id)
            session.add(ResidentAccount(user_id=user.id, resident_id=zhang.id))
        if DEMO_GUARD not in existing:
            await create_user(session, DEMO_GUARD, passwords[DEMO_GUARD], "guard", DEMO_SITE)
        if DEMO_TECHNICIAN not in existing:
            tech = await create_user(session, DEMO_TECHNICIAN, passwords[DEMO_TECHNICIAN],
                                     "technician", DEMO_SITE)
            session.add_all(TechnicianSkill(user_id=tech.id, skill=s) for s in TECHNICIAN_SKILLS)


async def seed_patrol(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """The demo's night patrol, through the patrol's registry, each part when missing: the
    checkpoints (three displays, B1-main's reader), the route `night-a` through them every 2
    hours from 22:00 to 06:00, and the guard's card. After seed_demo_logins (the guard); apart
    from seed_demo, whose tests would see the night's rounds raise their alarms. Returns the
    displays' secrets by checkpoint code (the simulated displays show their codes)."""
    async with sessions() as session, session.begin():
        have = set(await session.scalars(select(Checkpoint.code).where(
            Checkpoint.site_id == DEMO_SITE)))
        for code, name, name_zh, location, door in DEMO_CHECKPOINTS:
            if code not in have:
                await add_checkpoint(session, DEMO_SITE, code, name, name_zh=name_zh,
                                     location=location, kind="door" if door else "display",
                                     door=door)
        if await _one(session, Route, site_id=DEMO_SITE, code=DEMO_ROUTE) is None:
            await add_route(session, DEMO_SITE, DEMO_ROUTE, "Night round A", name_zh="夜班A线",
                            stops=[Stop(code, 600) for code, *_ in DEMO_CHECKPOINTS],
                            every_min=120, from_hour=22, to_hour=6)
        if await _one(session, GuardCard, site_id=DEMO_SITE,
                      card_number=DEMO_GUARD_CARD) is None:
            await add_guard_card(session, DEMO_SITE, DEMO_GUARD, DEMO_GUARD_CARD)
        return {c.code: c.secret for c in await session.scalars(select(Checkpoint).where(
            Checkpoint.site_id == DEMO_SITE, Checkpoint.secret.is_not(None)))
            if c.secret is not None}


__all__ = ["DEMO_CAMERA", "DEMO_CHECKPOINTS", "DEMO_DOORS", "DEMO_EDGE", "DEMO_FIRE", "DEMO_GUARD",
           "DEMO_GUARD_CARD", "DEMO_LIFT", "DEMO_LOGINS", "DEMO_RESIDENT", "DEMO_ROUTE",
           "DEMO_SITE", "DEMO_TECHNICIAN", "TECHNICIAN_SKILLS", "DemoWiring", "commission_demo",
           "seed_demo", "seed_demo_logins", "seed_patrol"]
