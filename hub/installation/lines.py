"""Lines: the serial buses of an edge. One owner per port; OSDP readers, Modbus units, DL/T 645
electricity meters or CJ/T 188 water meters."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from hub.errors import InvalidInput
from hub.installation.installer import Installer, names
from hub.installation.specs import LineSpec, merged
from hub.meters.models import Meter
from hub.models import Device, Door, Edge, Line
from hub.texts import word


def line_spec(line: Line) -> dict[str, Any]:
    return {"edge_id": line.edge_id, "site_id": line.site_id, "name": line.name,
            "label": line.label, "port": line.port, "baudrate": line.baudrate,
            "parity": line.parity, "stopbits": line.stopbits, "protocol": line.protocol}


async def _users(inst: Installer, line_id: int
                 ) -> tuple[list[str], list[str], list[str], list[str]]:
    """The doors, devices, electricity meters and water meters on the line."""
    doors = await names(inst.session, select(Door.name).where(Door.line_id == line_id))
    devices = await names(inst.session, select(Device.name).where(Device.line_id == line_id))
    meters = [await names(inst.session, select(Meter.number).where(
        Meter.line_id == line_id, Meter.removed_at.is_(None), Meter.kind == kind))
        for kind in ("electricity", "water")]
    return doors, devices, meters[0], meters[1]


async def _check(inst: Installer, spec: LineSpec, edge: Edge, line_id: int | None) -> None:
    others = select(Line.name).where(Line.edge_id == edge.id)
    if line_id is not None:
        others = others.where(Line.id != line_id)
    await inst.refuse_taken("name", f"edge {edge.name!r} already has a line {spec.name!r}",
                            others.where(Line.name == spec.name))
    await inst.refuse_taken("port", f"port {spec.port} of edge {edge.name!r} is another "
                            "line's (one owner per port)", others.where(Line.port == spec.port))
    if line_id is None:
        return
    doors, devices, meters, water = await _users(inst, line_id)
    if spec.protocol != "osdp" and doors:
        raise InvalidInput("protocol", f"the line carries the readers of doors "
                           f"{', '.join(doors)}, which speak osdp", "invalid.line_carries",
                           what=word("thing.door", "door"), names=", ".join(doors))
    if spec.protocol != "modbus" and devices:
        raise InvalidInput("protocol", f"the line carries Modbus devices {', '.join(devices)}",
                           "invalid.line_carries", what=word("thing.device", "device"),
                           names=", ".join(devices))
    if spec.protocol != "dlt645" and meters:
        raise InvalidInput("protocol", f"the line carries DL/T 645 meters {', '.join(meters)}",
                           "invalid.line_carries", what=word("thing.meter", "meter"),
                           names=", ".join(meters))
    if spec.protocol != "cjt188" and water:
        raise InvalidInput("protocol", f"the line carries CJ/T 188 water meters "
                           f"{', '.join(water)}", "invalid.line_carries",
                           what=word("thing.meter", "meter"), names=", ".join(water))


async def create_line(inst: Installer, spec: LineSpec) -> Line:
    edge = await inst.edge(spec.edge_id, spec.site_id)
    await _check(inst, spec, edge, None)
    line = Line(site_id=edge.site_id, **spec.model_dump(exclude={"site_id"}))
    inst.session.add(line)
    await inst.session.flush()
    inst.touch(edge.site_id, edge.id)
    await inst.record("line", line.id, line.name, line.site_id, "create", after=line_spec(line))
    return line


async def update_line(inst: Installer, line_id: int, changes: BaseModel) -> Line:
    line = await inst.row(Line, line_id, "line")
    before = line_spec(line)
    spec = merged(LineSpec, before, changes)
    edge = await inst.edge(line.edge_id, None)
    await _check(inst, spec, edge, line.id)
    for key, value in spec.model_dump(exclude={"site_id", "edge_id"}).items():
        setattr(line, key, value)
    await inst.session.flush()
    inst.touch(line.site_id, line.edge_id)
    await inst.record("line", line.id, line.name, line.site_id, "update", before, line_spec(line))
    return line


async def delete_line(inst: Installer, line_id: int) -> None:
    line = await inst.row(Line, line_id, "line")
    doors, devices, meters, water = await _users(inst, line.id)
    inst.refuse_in_use(f"line {line.name!r}", {"doors": doors, "devices": devices,
                                                "meters": meters + water})
    before = line_spec(line)
    await inst.session.delete(line)
    await inst.session.flush()
    inst.touch(line.site_id, line.edge_id)
    await inst.record("line", line_id, line.name, line.site_id, "delete", before=before)


__all__ = ["create_line", "delete_line", "line_spec", "update_line"]
