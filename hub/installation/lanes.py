"""Vehicle lanes of an edge: direction, the plate camera's push credentials and the barrier
output. A lane's name is unique in its site (vehicles' allowed lanes name it) and is not
another part's name on its edge (events name lanes, doors, cameras and devices alike)."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from hub.cameras.models import Camera
from hub.errors import InvalidInput
from hub.installation.installer import Installer
from hub.installation.specs import LaneSpec, merged
from hub.models import Device, Door, Edge, Line
from hub.texts import word
from hub.vehicles.models import Lane
from wire.vehicles import ModbusBarrier

SECRET_SET = "(set)"  # what the audit trail keeps of a camera secret: never the secret


def lane_spec(lane: Lane) -> dict[str, Any]:
    return {"edge_id": lane.edge_id, "site_id": lane.site_id, "name": lane.name,
            "label": lane.label, "direction": lane.direction, "push_format": lane.push_format,
            "camera_user": lane.camera_user, "barrier": dict(lane.barrier)}


def _audited(spec: dict[str, Any], secret_changed: bool) -> dict[str, Any]:
    return {**spec, "camera_secret": SECRET_SET if secret_changed else None}


async def _check(inst: Installer, spec: LaneSpec, edge: Edge, lane_id: int | None) -> None:
    if lane_id is not None:
        return  # the name is fixed: taken once, when installed
    await inst.refuse_taken("name", f"site {edge.site_id!r} already has a lane {spec.name!r}",
                            select(Lane.name).where(Lane.site_id == edge.site_id,
                                                    Lane.name == spec.name))
    for model, column, kind in ((Door, Door.name, "door"), (Camera, Camera.name, "camera")):
        await inst.refuse_taken("name", f"edge {edge.name!r} already has a {kind} "
                                f"{spec.name!r} (events name lanes, doors and cameras alike)",
                                select(column).where(model.edge_id == edge.id,
                                                     column == spec.name))
    await inst.refuse_taken("name", f"edge {edge.name!r} already has a device {spec.name!r}",
                            select(Device.name).where(Device.site_id == edge.site_id,
                                                      Device.edge == edge.name,
                                                      Device.name == spec.name))


async def _check_barrier(inst: Installer, spec: LaneSpec, edge: Edge,
                         lane_id: int | None) -> None:
    """An RTU barrier's line: a modbus line of this edge, where the barrier's unit id is no
    device's and no other lane's barrier's (the unit shares the bus with them)."""
    barrier = spec.barrier
    if not isinstance(barrier, ModbusBarrier) or barrier.line is None:
        return
    line = await inst.session.scalar(
        select(Line).where(Line.edge_id == edge.id, Line.name == barrier.line))
    if line is None:
        raise InvalidInput("barrier.line", f"edge {edge.name!r} has no line {barrier.line!r}",
                           "invalid.unknown", what=word("thing.line", "line"),
                           key=barrier.line)
    if line.protocol != "modbus":
        raise InvalidInput("barrier.line", f"line {line.name!r} speaks {line.protocol}; a "
                           "barrier needs a modbus line", "invalid.line_protocol",
                           line=line.name, protocol=line.protocol, wanted="modbus")
    device = await inst.session.scalar(select(Device.name).where(
        Device.line_id == line.id, Device.unit_id == barrier.unit_id))
    others = await inst.session.scalars(select(Lane).where(
        Lane.edge_id == edge.id, Lane.id != (lane_id or 0)))
    lane = next((o.name for o in others if barrier_at(o, line.name) == barrier.unit_id), None)
    if device is not None or lane is not None:
        what, name = ("device", device) if device is not None else ("lane", lane)
        raise InvalidInput("barrier.unit_id", f"line {line.name!r} already has {what} {name} "
                           f"at unit id {barrier.unit_id}", "invalid.unit_id_taken",
                           line=line.name, what=word(f"thing.{what}", what), name=name,
                           unit=barrier.unit_id)


def barrier_at(lane: Lane, line: str) -> int | None:
    """The unit id of `lane`'s barrier when it hangs on modbus line `line`."""
    barrier = lane.barrier or {}
    if barrier.get("kind") != "modbus_coil" or barrier.get("line") != line:
        return None
    return int(barrier.get("unit_id", 1))


def _apply(lane: Lane, spec: LaneSpec) -> None:
    lane.label, lane.direction, lane.push_format = spec.label, spec.direction, spec.push_format
    lane.camera_user = spec.camera_user
    lane.barrier = spec.barrier.model_dump(mode="json")
    if spec.camera_secret is not None:
        lane.camera_secret_sha256 = hashlib.sha256(spec.camera_secret.encode()).hexdigest()


async def create_lane(inst: Installer, spec: LaneSpec) -> Lane:
    edge = await inst.edge(spec.edge_id, spec.site_id)
    if spec.camera_secret is None:
        raise InvalidInput("camera_secret", "a lane needs its camera's password (the edge "
                           "refuses pushes without it)", "invalid.lane_secret")
    await _check(inst, spec, edge, None)
    await _check_barrier(inst, spec, edge, None)
    lane = Lane(site_id=edge.site_id, edge_id=edge.id, name=spec.name)
    _apply(lane, spec)
    inst.session.add(lane)
    await inst.session.flush()
    inst.touch(edge.site_id, edge.id)
    await inst.record("lane", lane.id, lane.name, lane.site_id, "create",
                      after=_audited(lane_spec(lane), True))
    return lane


async def update_lane(inst: Installer, lane_id: int, changes: BaseModel) -> Lane:
    lane = await inst.row(Lane, lane_id, "lane")
    before = lane_spec(lane)
    spec = merged(LaneSpec, before, changes)
    edge = await inst.edge(lane.edge_id, None)
    await _check(inst, spec, edge, lane.id)
    await _check_barrier(inst, spec, edge, lane.id)
    _apply(lane, spec)
    await inst.session.flush()
    inst.touch(lane.site_id, lane.edge_id)
    await inst.record("lane", lane.id, lane.name, lane.site_id, "update",
                      _audited(before, False),
                      _audited(lane_spec(lane), spec.camera_secret is not None))
    return lane


async def delete_lane(inst: Installer, lane_id: int) -> None:
    lane = await inst.row(Lane, lane_id, "lane")
    # a vehicle allowed only some lanes keeps the name: no lane of that name opens for it
    before = _audited(lane_spec(lane), False)
    await inst.session.delete(lane)
    await inst.session.flush()
    inst.touch(lane.site_id, lane.edge_id)
    await inst.record("lane", lane_id, lane.name, lane.site_id, "delete", before=before)


__all__ = ["barrier_at", "create_lane", "delete_lane", "lane_spec", "update_lane"]
