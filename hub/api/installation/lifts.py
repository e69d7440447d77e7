"""Lifts: a lift controller of an edge, its floor map and (by doors' lift_id) car readers."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select

from hub.api.core.crud import Out, scoped_get, scoped_list
from hub.api.core.endpoints import EndpointTable
from hub.api.installation.common import ITEM, PartQuery, apply, installing, remove
from hub.installation import create_lift, delete_lift, update_lift
from hub.installation.specs import LiftChange, LiftSpec
from hub.models import Lift

routes = EndpointTable(tag="installation")


class FloorOut(Out):
    floor: int
    label: str


class LiftOut(Out):
    id: int
    site_id: str
    edge_id: int
    building_id: int | None
    name: str
    label: str
    device_id: int
    floor_enable_s: float
    floors: list[FloorOut]


class LiftList(BaseModel):
    items: list[LiftOut]


@routes.get("/lifts", query=PartQuery, response=LiftList)
async def list_lifts(request: web.Request, query: PartQuery) -> LiftList:
    """List the lifts of your scope with their floor maps (car readers: GET /doors?lift_id=)."""
    stmt = select(Lift).order_by(Lift.site_id, Lift.name)
    return LiftList(items=await scoped_list(request, stmt, Lift, LiftOut, **query.model_dump()))


@routes.get("/lifts" + ITEM, response=LiftOut)
async def get_lift(request: web.Request) -> LiftOut:
    """One lift with its floor map."""
    return await scoped_get(request, Lift, "lift", LiftOut)


@routes.post("/lifts", body=LiftSpec, response=LiftOut, status=201)
async def add_lift(request: web.Request, body: LiftSpec) -> LiftOut:
    """Add a lift: its controller (an installed elevator device) and its floor map."""
    async with installing(request) as inst:
        return LiftOut.model_validate(await create_lift(inst, body))


@routes.patch("/lifts" + ITEM, body=LiftChange, response=LiftOut)
async def change_lift(request: web.Request, body: LiftSpec) -> LiftOut:
    """Change a lift's name, floor map, controller or how long a grant enables floors."""
    return await apply(request, "lift", update_lift, body, LiftOut)


@routes.delete("/lifts" + ITEM)
async def remove_lift(request: web.Request) -> None:
    """Remove a lift no car reader names (409 lists them)."""
    await remove(request, "lift", delete_lift)
