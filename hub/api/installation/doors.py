"""Doors with their reader and wiring: the whole door resource (list, read, add, change,
remove); remote unlock is in hub.api.access.commands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.api.core.crud import Out, scoped_get, scoped_list
from hub.api.core.endpoints import EndpointTable
from hub.api.core.store import reading
from hub.api.installation.common import ITEM, PartQuery, apply, installing, remove
from hub.installation import create_door, delete_door, update_door
from hub.installation.specs import DoorChange, DoorSpec
from hub.models import Door
from hub.readers.models import ReaderKeyRow

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
        default=False, description="the reader has its own secure-channel key, given by the "
        "installer or taken at the edge in install mode (the key itself is never shown)")
    reader_keyed_at: datetime | None = Field(
        default=None, description="when the reader last took a key of its own at the edge "
        "(install mode or rotation), as the edge reported it")
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


async def _keyed(request: web.Request, doors: list[DoorOut]) -> list[DoorOut]:
    """The doors with the keys their readers took at the edge (reported `reader_keyed`)."""
    sites = {d.site_id for d in doors}
    if not sites:
        return doors
    async with reading(request) as session:
        rows = await session.execute(select(
            ReaderKeyRow.site_id, ReaderKeyRow.edge, ReaderKeyRow.door, ReaderKeyRow.keyed_at,
        ).where(ReaderKeyRow.site_id.in_(sites)))
        keyed = {(site, edge, door): at for site, edge, door, at in rows}
    out = []
    for door in doors:
        at = keyed.get((door.site_id, door.edge, door.name))
        if at is not None:
            door = door.model_copy(update={"reader_commissioned": True, "reader_keyed_at": at})
        out.append(door)
    return out


@routes.get("/doors", query=DoorQuery, response=DoorList)
async def list_doors(request: web.Request, query: DoorQuery) -> DoorList:
    """List doors with their edge, mode, reader and wiring."""
    stmt = select(Door).order_by(Door.site_id, Door.name)
    rows = await scoped_list(request, stmt, Door, DoorOut, **query.model_dump())
    return DoorList(items=await _keyed(request, rows))


@routes.get("/doors" + ITEM, response=DoorOut)
async def get_door(request: web.Request) -> DoorOut:
    """One door with its reader and wiring."""
    return (await _keyed(request, [await scoped_get(request, Door, "door", DoorOut)]))[0]


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
