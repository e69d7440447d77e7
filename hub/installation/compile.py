"""An edge's configuration compiled from the installation tables: its lines, the doors whose
reader is installed, its Modbus devices, DL/T 645 meters, cameras and vehicle lanes, as
`wire.config.ConfigContent`.

Pure once loaded: `load_installation` reads the rows, `compile_config` builds the content
(sorted by id, so equal installations give equal hashes). The edge-configuration publisher
versions, signs and publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.boards.notices import DEVICE_TYPE as BOARD_DEVICE
from hub.boards.notices import notices_for, site_on_fire
from hub.cameras.models import Camera
from hub.errors import NotFound
from hub.homesec.settings import panel_settings
from hub.meters.models import Meter
from hub.models import Device, Door, Edge, Lift, Line, utcnow
from hub.readers.keys import reader_key
from hub.vehicles.models import Lane
from wire.config import (
    BoardNotice,
    CameraConfig,
    ConfigContent,
    DeviceConfig,
    DoorConfig,
    MeterConfig,
    ReaderConfig,
    SerialLine,
    ZoneConfig,
)
from wire.homesec import PanelSettings
from wire.vehicles import LaneConfig

# OSDP's install-mode key (SCBK-D, "0123456789:;<=>?"): what a reader not yet commissioned
# speaks; the edge takes it to a key of its own (issue 15 point 3)
INSTALL_KEY = bytes(range(0x30, 0x40)).hex()


@dataclass
class Installation:
    """The rows of one edge's installation."""

    edge: Edge
    lines: list[Line] = field(default_factory=list)
    doors: list[Door] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    cameras: list[Camera] = field(default_factory=list)
    lifts: list[Lift] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)  # DL/T 645 meters in use on its lines
    board_notices: list[BoardNotice] = field(default_factory=list)  # when it has LED boards
    site_fire: bool = False  # a fire alarm open on the site, when it has LED boards
    # device id -> the unit alarm panel's settings (hub.homesec)
    panels: dict[int, PanelSettings] = field(default_factory=dict)
    # door -> the key its reader took at the edge (reported sealed, opened with the hub's key)
    keyed: dict[str, str] = field(default_factory=dict)


async def load_installation(session: AsyncSession, edge_id: int,
                            keys: list[Ed25519PrivateKey] | None = None) -> Installation:
    """The edge's rows; with the hub's signing `keys`, the reader keys its edge reported."""
    edge = await session.get(Edge, edge_id)
    if edge is None:
        raise NotFound("edge", edge_id)
    inst = Installation(
        edge=edge,
        lines=list(await session.scalars(select(Line).where(Line.edge_id == edge_id))),
        doors=list(await session.scalars(select(Door).where(Door.edge_id == edge_id))),
        devices=list(await session.scalars(select(Device).where(Device.edge_id == edge_id))),
        cameras=list(await session.scalars(select(Camera).where(Camera.edge_id == edge_id))),
        lifts=list(await session.scalars(select(Lift).where(Lift.edge_id == edge_id))),
        lanes=list(await session.scalars(select(Lane).where(Lane.edge_id == edge_id))),
        meters=list(await session.scalars(select(Meter).join(Line, Line.id == Meter.line_id)
                                          .where(Line.edge_id == edge_id,
                                                 Meter.removed_at.is_(None)))),
    )
    inst.board_notices = await notices_for(session, edge, utcnow())
    if any(d.device_type == BOARD_DEVICE for d in inst.devices):
        inst.site_fire = await site_on_fire(session, edge.site_id)
    inst.panels = {device: _corridor_camera(settings, inst.cameras)
                   for device, settings in (await panel_settings(
                       session, [d.id for d in inst.devices])).items()}
    for door in inst.doors if keys else []:
        key = await reader_key(session, edge.site_id, edge.name, door.name, keys or [])
        if key is not None:
            inst.keyed[door.name] = key.hex()
    return inst


def _corridor_camera(settings: PanelSettings, cameras: list[Camera]) -> PanelSettings:
    """A panel names the camera set on it, else the first of its edge's cameras that covers
    its unit's floor (the camera's `floors`)."""
    if settings.camera is not None or settings.floor is None:
        return settings
    covering = sorted(c.name for c in cameras if settings.floor in (c.floors or []))
    return settings.model_copy(update={"camera": covering[0]}) if covering else settings


def compile_config(inst: Installation) -> ConfigContent:
    """The edge's configuration; a door with no reader installed is not driven (left out)."""
    lines = {line.id: line for line in inst.lines}
    devices = {device.id: device for device in inst.devices}
    lifts = {lift.id: lift for lift in inst.lifts}
    doors = {door.id: door for door in inst.doors}
    wire_lines = [SerialLine(id=line.name, port=line.port, protocol=line.protocol,
                             baudrate=line.baudrate, parity=line.parity,
                             stopbits=1 if line.stopbits == 1 else 2)
                  for line in sorted(inst.lines, key=lambda x: x.name)]
    wire_doors = []
    for door in sorted(inst.doors, key=lambda d: d.name):
        if door.line_id is None or door.reader_address is None:
            continue
        lift = lifts.get(door.lift_id) if door.lift_id is not None else None
        wire_doors.append(DoorConfig(
            id=door.name, name=door.label,
            # the key the reader took at the edge, else the installer's, else the install key
            reader=ReaderConfig(line=lines[door.line_id].name, address=door.reader_address,
                                scbk=inst.keyed.get(door.name) or door.reader_key or INSTALL_KEY),
            relay_output=door.relay_output,
            # the wire has no "none" for the contact: an unwired contact reads closed anyway
            contact_input=door.contact_input if door.contact_input is not None else 0,
            rex_input=door.rex_input, unlock_s=door.unlock_s, held_open_s=door.held_open_s,
            fail_safe_egress=door.fail_safe_egress,
            elevator=devices[lift.device_id].name if lift is not None else None,
            # a car reader enables only the stops of its lift's floor map
            floor_enable_s=lift.floor_enable_s if lift is not None else 10.0,
            floors=[f.floor for f in lift.floors] if lift is not None else None,
        ))
    wire_devices = [DeviceConfig(
        id=d.name, name=d.label, model=d.model, transport=d.transport or "tcp",
        line=lines[d.line_id].name if d.line_id is not None else None,
        host=d.host, tcp_port=d.tcp_port, unit_id=d.unit_id,
        poll_interval_s=d.poll_interval_s or 1.0, security=inst.panels.get(d.id),
    ) for d in sorted(inst.devices, key=lambda x: x.name)]
    wire_cameras = [CameraConfig(
        id=c.name, name=c.label, model=c.model, source=c.source,
        door=doors[c.door_id].name if c.door_id is not None and c.door_id in doors else None,
        zones=[ZoneConfig.model_validate(z) for z in c.zones or []],
    ) for c in sorted(inst.cameras, key=lambda x: x.name)]
    wire_lanes = [LaneConfig.model_validate({
        "id": lane.name, "name": lane.label, "direction": lane.direction,
        "push_format": lane.push_format, "camera_user": lane.camera_user,
        "camera_secret_sha256": lane.camera_secret_sha256, "barrier": lane.barrier,
    }) for lane in sorted(inst.lanes, key=lambda x: x.name)]
    wire_meters = [MeterConfig(id=m.device, line=lines[m.line_id].name, address=m.number,
                               kind=m.kind)  # type: ignore[arg-type]  # validated: MeterKind
                   for m in sorted(inst.meters, key=lambda x: x.device) if m.line_id in lines]
    return ConfigContent(site=inst.edge.site_id, edge=inst.edge.name, lines=wire_lines,
                         doors=wire_doors, devices=wire_devices, cameras=wire_cameras,
                         meters=wire_meters, lanes=wire_lanes,
                         board_notices=inst.board_notices,
                         board_emergency="fire" if inst.site_fire else None)


async def edge_config(session: AsyncSession, edge_id: int,
                      keys: list[Ed25519PrivateKey] | None = None) -> ConfigContent:
    """Load and compile one edge's configuration (`keys`: see load_installation)."""
    return compile_config(await load_installation(session, edge_id, keys))


__all__ = ["INSTALL_KEY", "Installation", "compile_config", "edge_config",
           "load_installation"]
