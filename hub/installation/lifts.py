"""Lifts (梯控): a lift controller of an edge, its floor map (the controller's floor numbers
and the labels on the buttons) and its car readers (doors naming the lift)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from hub.errors import InvalidInput
from hub.installation.catalog import load_catalog
from hub.installation.installer import Installer, names
from hub.installation.specs import LiftSpec, merged
from hub.models import Building, Device, Door, Lift, LiftFloor
from hub.texts import word
from wire.floors import floor_label


def lift_spec(lift: Lift) -> dict[str, Any]:
    return {"site_id": lift.site_id, "name": lift.name, "label": lift.label,
            "device_id": lift.device_id, "building_id": lift.building_id,
            "floor_enable_s": lift.floor_enable_s,
            "floors": [{"floor": f.floor, "label": f.label} for f in lift.floors]}


async def _check(inst: Installer, spec: LiftSpec, lift_id: int | None) -> Device:
    device = await inst.reference(Device, spec.device_id, "device", "device_id")
    if spec.site_id is not None and device.site_id != spec.site_id:
        raise InvalidInput("device_id", f"device {device.name!r} is in site "
                           f"{device.site_id!r}, not {spec.site_id!r}", "invalid.site_mismatch",
                           thing=word("thing.device", "device"), name=device.name,
                           site=device.site_id, wanted=spec.site_id)
    if device.edge_id is None:
        raise InvalidInput("device_id", f"device {device.name!r} is not installed from the hub",
                           "invalid.not_hub_installed", device=device.name)
    model = load_catalog().get(device.model)
    floors = model.floors() if model is not None else None
    if floors is None:
        raise InvalidInput("device_id", f"device {device.name!r} (model {device.model}) is "
                           "not a lift controller with floor access", "invalid.not_model",
                           device=device.name, model=device.model,
                           wanted=word("thing.lift_controller", "a lift controller"))
    outside = [f.floor for f in spec.floors if f.floor not in floors]
    if outside:
        raise InvalidInput("floors", f"floors {outside} are outside what {device.model} "
                           f"enables ({floor_label(floors[0])} to {floor_label(floors[-1])})",
                           "invalid.floors_outside", floors=", ".join(map(str, outside)),
                           model=device.model, first=floor_label(floors[0]),
                           last=floor_label(floors[-1]))
    other = select(Lift.name).where(Lift.device_id == device.id)
    same_name = select(Lift.name).where(Lift.site_id == device.site_id, Lift.name == spec.name)
    if lift_id is not None:
        other, same_name = other.where(Lift.id != lift_id), same_name.where(Lift.id != lift_id)
    await inst.refuse_taken("device_id", f"device {device.name!r} already drives a lift", other)
    await inst.refuse_taken("name", f"site {device.site_id!r} already has lift {spec.name!r}",
                            same_name)
    if spec.building_id is not None:
        building = await inst.session.get(Building, spec.building_id)
        if building is None or building.site_id != device.site_id:
            raise InvalidInput("building_id", f"unknown building {spec.building_id} in site "
                               f"{device.site_id!r}", "invalid.unknown",
                               what=word("thing.building", "building"), key=spec.building_id)
    return device


def _apply(lift: Lift, spec: LiftSpec, device: Device) -> None:
    lift.edge_id, lift.device_id = device.edge_id or 0, device.id
    lift.label, lift.building_id = spec.label, spec.building_id
    lift.floor_enable_s = spec.floor_enable_s
    held = {f.floor: f for f in lift.floors}
    wanted = {f.floor: f.label for f in spec.floors}
    lift.floors = [held.get(floor) or LiftFloor(floor=floor, label=label)
                   for floor, label in sorted(wanted.items())]
    for row in lift.floors:
        row.label = wanted[row.floor]


async def create_lift(inst: Installer, spec: LiftSpec) -> Lift:
    device = await _check(inst, spec, None)
    lift = Lift(site_id=device.site_id, name=spec.name, floors=[])
    _apply(lift, spec, device)
    inst.session.add(lift)
    await inst.session.flush()
    inst.touch(lift.site_id, lift.edge_id)
    await inst.record("lift", lift.id, lift.name, lift.site_id, "create", after=lift_spec(lift))
    return lift


async def update_lift(inst: Installer, lift_id: int, changes: BaseModel) -> Lift:
    lift = await inst.row(Lift, lift_id, "lift")
    before = lift_spec(lift)
    spec = merged(LiftSpec, before, changes)
    device = await _check(inst, spec, lift.id)
    old_edge = lift.edge_id
    readers = await names(inst.session, select(Door.name).where(Door.lift_id == lift.id))
    if device.edge_id != old_edge and readers:
        raise InvalidInput("device_id", f"the car readers {', '.join(readers)} are on the "
                           "lift's present edge; the new controller is on another",
                           "invalid.car_readers_edge", readers=", ".join(readers))
    lift.name = spec.name
    _apply(lift, spec, device)
    await inst.session.flush()
    inst.touch(lift.site_id, old_edge, lift.edge_id)
    await inst.record("lift", lift.id, lift.name, lift.site_id, "update", before, lift_spec(lift))
    return lift


async def delete_lift(inst: Installer, lift_id: int) -> None:
    lift = await inst.row(Lift, lift_id, "lift")
    readers = await names(inst.session, select(Door.name).where(Door.lift_id == lift.id))
    inst.refuse_in_use(f"lift {lift.name!r}", {"car readers (doors)": readers})
    before = lift_spec(lift)
    await inst.session.delete(lift)
    await inst.session.flush()
    inst.touch(lift.site_id, lift.edge_id)
    await inst.record("lift", lift_id, lift.name, lift.site_id, "delete", before=before)


__all__ = ["create_lift", "delete_lift", "lift_spec", "update_lift"]
