"""Cameras installed on edges (their alerts and snapshots: hub.api.cameras.routes)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from hub.api.core.crud import Out, scoped_get, scoped_list
from hub.api.core.endpoints import EndpointTable
from hub.api.installation.common import ITEM, PartQuery, apply, installing, remove
from hub.cameras.models import Camera
from hub.installation import create_camera, delete_camera, update_camera
from hub.installation.cameras import masked_source
from hub.installation.specs import CameraChange, CameraSpec

routes = EndpointTable(tag="installation")


class CameraOut(Out):
    id: int
    site_id: str
    edge_id: int
    name: str
    label: str
    model: str
    source: str = Field(description="where the picture comes from (a password in it: ***)")
    door_id: int | None
    zones: list[dict[str, Any]]
    floors: list[int] | None = Field(description="the floors whose corridor it sees")

    _masked = field_validator("source")(masked_source)


class CameraList(BaseModel):
    items: list[CameraOut]


@routes.get("/cameras", query=PartQuery, response=CameraList)
async def list_cameras(request: web.Request, query: PartQuery) -> CameraList:
    """List the installed cameras of your scope, by site or edge."""
    stmt = select(Camera).order_by(Camera.site_id, Camera.edge_id, Camera.name)
    return CameraList(items=await scoped_list(request, stmt, Camera, CameraOut, **query.model_dump()))


@routes.get("/cameras" + ITEM, response=CameraOut)
async def get_camera(request: web.Request) -> CameraOut:
    """One installed camera."""
    return await scoped_get(request, Camera, "camera", CameraOut)


@routes.post("/cameras", body=CameraSpec, response=CameraOut, status=201)
async def add_camera(request: web.Request, body: CameraSpec) -> CameraOut:
    """Install a camera on an edge: its source, zones and the door it reads QR codes for."""
    async with installing(request) as inst:
        return CameraOut.model_validate(await create_camera(inst, body))


@routes.patch("/cameras" + ITEM, body=CameraChange, response=CameraOut)
async def change_camera(request: web.Request, body: CameraSpec) -> CameraOut:
    """Change a camera's source, zones or door."""
    return await apply(request, "camera", update_camera, body, CameraOut)


@routes.delete("/cameras" + ITEM)
async def remove_camera(request: web.Request) -> None:
    """Remove a camera (its edge stops watching it)."""
    await remove(request, "camera", delete_camera)
