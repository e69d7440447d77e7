"""Modbus devices an edge polls, checked against their model in firmware-configs/: the model
exists, offers the transport, and its unit id is free on its line."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from hub.errors import InvalidInput
from hub.installation.catalog import CatalogModel, load_catalog
from hub.installation.installer import Installer, names
from hub.installation.lanes import barrier_at
from hub.installation.specs import DeviceSpec, merged
from hub.models import Device, Edge, Lift, Line
from hub.texts import word
from hub.vehicles.models import Lane

DEFAULT_TCP_PORT = 502


def device_spec(device: Device) -> dict[str, Any]:
    return {"edge_id": device.edge_id, "site_id": device.site_id, "name": device.name,
            "label": device.label, "model": device.model, "transport": device.transport,
            "line_id": device.line_id, "unit_id": device.unit_id, "host": device.host,
            "tcp_port": device.tcp_port, "poll_interval_s": device.poll_interval_s}


def catalog_model(name: str) -> CatalogModel:
    catalog = load_catalog()
    model = catalog.get(name)
    if model is None:
        raise InvalidInput("model", f"unknown model {name!r}; known: {', '.join(sorted(catalog))}",
                           "invalid.known_are", value=name, known=", ".join(sorted(catalog)))
    return model


async def _check(inst: Installer, spec: DeviceSpec, edge: Edge, device_id: int | None
                 ) -> CatalogModel:
    model = catalog_model(spec.model)
    if spec.transport not in model.transports:
        raise InvalidInput("transport", f"model {model.model} offers "
                           f"{' and '.join(model.transports)}, not {spec.transport}",
                           "invalid.transport", model=model.model,
                           offers=", ".join(model.transports), transport=spec.transport)
    if device_id is None:
        await inst.refuse_taken(
            "name", f"edge {edge.name!r} already has a device {spec.name!r}",
            select(Device.name).where(Device.site_id == edge.site_id, Device.edge == edge.name,
                                      Device.name == spec.name))
    if spec.line_id is not None:
        line = await inst.reference(Line, spec.line_id, "line", "line_id")
        if line.edge_id != edge.id:
            raise InvalidInput("line_id", f"line {line.name!r} is on another edge than the "
                               f"device's ({edge.name!r})", "invalid.other_edge",
                               thing=word("thing.line", "line"), name=line.name, edge=edge.name)
        if line.protocol != "modbus":
            raise InvalidInput("line_id", f"line {line.name!r} speaks {line.protocol}; a "
                               "Modbus device needs a modbus line", "invalid.line_protocol",
                               line=line.name, protocol=line.protocol, wanted="modbus")
        unit_id = spec.unit_id if spec.unit_id is not None else model.unit_id
        lanes = await inst.session.scalars(select(Lane).where(Lane.edge_id == edge.id))
        barrier = next((lane.name for lane in lanes if barrier_at(lane, line.name) == unit_id),
                       None)
        if barrier is not None:  # a lane's barrier unit shares the bus at its own unit id
            raise InvalidInput("unit_id", f"line {line.name!r} already has lane {barrier}'s "
                               f"barrier at unit id {unit_id}", "invalid.unit_id_taken",
                               line=line.name, what=word("thing.lane", "lane"), name=barrier,
                               unit=unit_id)
        taken = select(Device.name).where(Device.line_id == line.id, Device.unit_id == unit_id)
        if device_id is not None:
            taken = taken.where(Device.id != device_id)
        await inst.refuse_taken("unit_id", f"line {line.name!r} already has a device at "
                                f"unit id {unit_id}", taken)
    return model


def _apply(device: Device, spec: DeviceSpec, model: CatalogModel) -> None:
    device.label, device.model, device.device_type = spec.label, spec.model, model.device_type
    device.transport, device.line_id, device.host = spec.transport, spec.line_id, spec.host
    device.unit_id = spec.unit_id if spec.unit_id is not None else model.unit_id
    device.tcp_port = (spec.tcp_port or DEFAULT_TCP_PORT) if spec.transport == "tcp" else None
    device.poll_interval_s = spec.poll_interval_s


async def create_device(inst: Installer, spec: DeviceSpec) -> Device:
    edge = await inst.edge(spec.edge_id, spec.site_id)
    model = await _check(inst, spec, edge, None)
    device = Device(site_id=edge.site_id, edge=edge.name, edge_id=edge.id, name=spec.name,
                    status="unknown")
    _apply(device, spec, model)
    inst.session.add(device)
    await inst.session.flush()
    inst.touch(edge.site_id, edge.id)
    await inst.record("device", device.id, device.name, device.site_id, "create",
                      after=device_spec(device))
    return device


async def installed_device(inst: Installer, device_id: int) -> Device:
    device = await inst.row(Device, device_id, "device")
    if device.edge_id is None:
        raise InvalidInput("id", f"device {device.name!r} was registered by its events, not "
                           "installed from the hub; install it with POST /devices",
                           "invalid.registered_by_events", device=device.name)
    return device


async def update_device(inst: Installer, device_id: int, changes: BaseModel) -> Device:
    device = await installed_device(inst, device_id)
    before = device_spec(device)
    spec = merged(DeviceSpec, before, changes)
    edge = await inst.edge(device.edge_id or 0, None)
    model = await _check(inst, spec, edge, device.id)
    _apply(device, spec, model)
    await inst.session.flush()
    inst.touch(device.site_id, edge.id)
    await inst.record("device", device.id, device.name, device.site_id, "update", before,
                      device_spec(device))
    return device


async def delete_device(inst: Installer, device_id: int) -> None:
    device = await installed_device(inst, device_id)
    inst.refuse_in_use(f"device {device.name!r}", {
        "lifts": await names(inst.session, select(Lift.name).where(Lift.device_id == device.id)),
    })
    before = device_spec(device)
    await inst.session.delete(device)
    await inst.session.flush()
    inst.touch(device.site_id, device.edge_id)
    await inst.record("device", device_id, device.name, device.site_id, "delete", before=before)


__all__ = ["catalog_model", "create_device", "delete_device", "device_spec", "update_device"]
