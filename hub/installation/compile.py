"""An edge's configuration compiled from the installation tables: its lines, the doors whose
reader is installed, its Modbus devices and cameras, as `wire.config.ConfigContent`.

Pure once loaded: `load_installation` reads the rows, `compile_config` builds the content
(sorted by id, so equal installations give equal hashes). The edge-configuration publisher
versions, signs and publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.cameras.models import Camera
from hub.errors import NotFound
from hub.models import Device, Door, Edge, Lift, Line
from hub.readers.keys import reader_key
from wire.config import (
    CameraConfig,
    ConfigContent,
    DeviceConfig,
    DoorConfig,
    ReaderConfig,
    SerialLine,
    ZoneConfig,
)

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
    )
    for door in inst.doors if keys else []:
        key = await reader_key(session, edge.site_id, edge.name, door.name, keys or [])
        if key is not None:
            inst.keyed[door.name] = key.hex()
    return inst


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
            **({"floor_enable_s": lift.floor_enable_s} if lift is not None else {}),
        ))
    wire_devices = [DeviceConfig(
        id=d.name, name=d.label, model=d.model, transport=d.transport or "tcp",
        line=lines[d.line_id].name if d.line_id is not None else None,
        host=d.host, tcp_port=d.tcp_port, unit_id=d.unit_id,
        poll_interval_s=d.poll_interval_s or 1.0,
    ) for d in sorted(inst.devices, key=lambda x: x.name)]
    wire_cameras = [CameraConfig(
        id=c.name, name=c.label, model=c.model, source=c.source,
        door=doors[c.door_id].name if c.door_id is not None and c.door_id in doors else None,
        zones=[ZoneConfig.model_validate(z) for z in c.zones or []],
    ) for c in sorted(inst.cameras, key=lambda x: x.name)]
    return ConfigContent(site=inst.edge.site_id, edge=inst.edge.name, lines=wire_lines,
                         doors=wire_doors, devices=wire_devices, cameras=wire_cameras)


async def edge_config(session: AsyncSession, edge_id: int,
                      keys: list[Ed25519PrivateKey] | None = None) -> ConfigContent:
    """Load and compile one edge's configuration (`keys`: see load_installation)."""
    return compile_config(await load_installation(session, edge_id, keys))


__all__ = ["INSTALL_KEY", "Installation", "compile_config", "edge_config",
           "load_installation"]
