"""Vehicle lanes installed on edges (their decisions, vehicles and passes: hub.api.vehicles)."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.api.core.crud import Out, scoped_get, scoped_list
from hub.api.core.endpoints import EndpointTable
from hub.api.installation.common import ITEM, PartQuery, apply, installing, remove
from hub.installation import create_lane, delete_lane, update_lane
from hub.installation.specs import LaneChange, LaneSpec
from hub.vehicles.models import Lane

routes = EndpointTable(tag="installation")


class LaneOut(Out):
    id: int
    site_id: str
    edge_id: int
    name: str
    label: str
    direction: Literal["entry", "exit"]
    push_format: str
    camera_user: str
    barrier: dict[str, Any] = Field(description="camera_relay, or the Modbus coil it pulses")


class LaneList(BaseModel):
    items: list[LaneOut]


@routes.get("/lanes", query=PartQuery, response=LaneList)
async def list_lanes(request: web.Request, query: PartQuery) -> LaneList:
    """List the vehicle lanes of your scope, by site or edge."""
    stmt = select(Lane).order_by(Lane.site_id, Lane.edge_id, Lane.name)
    return LaneList(items=await scoped_list(request, stmt, Lane, LaneOut, **query.model_dump()))


@routes.get("/lanes" + ITEM, response=LaneOut)
async def get_lane(request: web.Request) -> LaneOut:
    """One vehicle lane (never its camera's secret)."""
    return await scoped_get(request, Lane, "lane", LaneOut)


@routes.post("/lanes", body=LaneSpec, response=LaneOut, status=201)
async def add_lane(request: web.Request, body: LaneSpec) -> LaneOut:
    """Install a vehicle lane on an edge: direction, the camera's push credentials and the
    barrier output; the edge serves it from its next configuration."""
    async with installing(request) as inst:
        return LaneOut.model_validate(await create_lane(inst, body))


@routes.patch("/lanes" + ITEM, body=LaneChange, response=LaneOut)
async def change_lane(request: web.Request, body: LaneSpec) -> LaneOut:
    """Change a lane's direction, camera credentials or barrier."""
    return await apply(request, "lane", update_lane, body, LaneOut)


@routes.delete("/lanes" + ITEM)
async def remove_lane(request: web.Request) -> None:
    """Remove a lane (its edge stops answering its camera)."""
    await remove(request, "lane", delete_lane)
