"""Modbus devices installed from the hub (their state and faults: hub.api.devices.routes)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from hub.api.core.auth import STAFF_ROLES
from hub.api.core.crud import Out
from hub.api.core.endpoints import EndpointTable
from hub.api.installation.common import ITEM, apply, installing, remove
from hub.installation import create_device, delete_device, update_device
from hub.installation.catalog import load_catalog
from hub.installation.specs import DeviceChange, DeviceSpec

routes = EndpointTable(tag="installation")


class InstalledDeviceOut(Out):
    id: int
    site_id: str
    edge_id: int
    edge: str
    name: str
    label: str
    model: str
    device_type: str
    transport: Literal["rtu", "tcp"]
    line_id: int | None
    unit_id: int | None
    host: str | None
    tcp_port: int | None
    poll_interval_s: float


class DeviceModelOut(BaseModel):
    model: str
    device_type: str
    description: str
    transports: list[str]
    unit_id: int
    floors: list[int] | None


class DeviceModelList(BaseModel):
    items: list[DeviceModelOut]


@routes.get("/device-models", response=DeviceModelList, roles=STAFF_ROLES)
async def list_device_models(request: web.Request) -> DeviceModelList:
    """The device models a device may be installed as (firmware-configs/)."""
    out = []
    for m in sorted(load_catalog().values(), key=lambda m: m.model):
        floors = m.floors()
        out.append(DeviceModelOut(model=m.model, device_type=m.device_type,
                                  description=m.description, transports=list(m.transports),
                                  unit_id=m.unit_id,
                                  floors=None if floors is None else list(floors)))
    return DeviceModelList(items=out)


@routes.post("/devices", body=DeviceSpec, response=InstalledDeviceOut, status=201)
async def add_device(request: web.Request, body: DeviceSpec) -> InstalledDeviceOut:
    """Install a Modbus device on an edge: its model, transport, line and unit id."""
    async with installing(request) as inst:
        return InstalledDeviceOut.model_validate(await create_device(inst, body))


@routes.patch("/devices" + ITEM, body=DeviceChange, response=InstalledDeviceOut)
async def change_device(request: web.Request, body: DeviceSpec) -> InstalledDeviceOut:
    """Change how an installed device is reached or polled."""
    return await apply(request, "device", update_device, body, InstalledDeviceOut)


@routes.delete("/devices" + ITEM)
async def remove_device(request: web.Request) -> None:
    """Remove an installed device (its edge stops polling it); 409 while a lift uses it."""
    await remove(request, "device", delete_device)
