"""Doors with their reader and wiring: the whole door resource (list, read, add, change,
remove); remote unlock is in hub.api.commands."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.api.endpoints import EndpointTable
from hub.api.installation.common import (
    ITEM,
    Out,
    PartQuery,
    apply,
    installing,
    remove,
    scoped_get,
    scoped_list,
)
from hub.installation import create_door, delete_door, update_door
from hub.installation.specs import DoorChange, DoorSpec
from hub.models import Door

routes = EndpointTable(tag="installation")


class DoorOut(Out):
    id: int
    site_id: str
    name: str
    label: str
    mode: Literal["normal", "locked_down", "unlocked_on_schedule"]
    edge_id: int
    edge: str = Field(validation_alias="edge_name", description="the edge's name")
    unlock_schedule_id: int | None = None
    line_id: int | None = Field(default=None, description="the reader's line")
    reader_address: int | None = Field(default=None, description="the reader's OSDP address")
    reader_commissioned: bool = Field(
        default=False, description="the reader has its own secure-channel key (the key itself "
        "is never shown)")
    relay_output: int = 0
    contact_input: int | None = 0
    rex_input: int | None = 1
    fail_safe_egress: bool = False
    unlock_s: float = 5.0
    held_open_s: float = 30.0
    lift_id: int | None = Field(default=None, description="a car reader: its lift")
    pin_required: bool = Field(default=False, description="card + PIN at this door's reader")


class DoorList(BaseModel):
    items: list[DoorOut]


class DoorQuery(PartQuery):
    lift_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="the car readers of this lift")


@routes.get("/doors", query=DoorQuery, response=DoorList)
async def list_doors(request: web.Request, query: DoorQuery) -> DoorList:
    """List doors with their edge, mode, reader and wiring."""
    stmt = select(Door).order_by(Door.site_id, Door.name)
    if query.lift_id is not None:
        stmt = stmt.where(Door.lift_id == query.lift_id)
    return DoorList(items=await scoped_list(request, stmt, Door, query, DoorOut))


@routes.get("/doors" + ITEM, response=DoorOut)
async def get_door(request: web.Request) -> DoorOut:
    """One door with its reader and wiring."""
    return await scoped_get(request, Door, "door", DoorOut)


@routes.post("/doors", body=DoorSpec, response=DoorOut, status=201)
async def add_door(request: web.Request, body: DoorSpec) -> DoorOut:
    """Add a door to an edge with its reader (an address on one of the edge's osdp lines)."""
    async with installing(request) as inst:
        return DoorOut.model_validate(await create_door(inst, body))


@routes.patch("/doors" + ITEM, body=DoorChange, response=DoorOut)
async def change_door(request: web.Request, body: DoorSpec) -> DoorOut:
    """Change a door's label, mode, reader or wiring; unlocked_on_schedule needs
    unlock_schedule_id (released during that schedule's windows, except on holidays)."""
    return await apply(request, "door", update_door, body, DoorOut)


@routes.delete("/doors" + ITEM)
async def remove_door(request: web.Request) -> None:
    """Remove a door no access group, anti-passback pair or camera names (409 lists them)."""
    await remove(request, "door", delete_door)
