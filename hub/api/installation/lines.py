"""Lines: the serial buses (RS-485) of an edge."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select

from hub.api.core.crud import Out, scoped_get, scoped_list
from hub.api.core.endpoints import EndpointTable
from hub.api.installation.common import ITEM, PartQuery, apply, installing, remove
from hub.installation import create_line, delete_line, update_line
from hub.installation.specs import LineChange, LineSpec
from hub.models import Line

routes = EndpointTable(tag="installation")


class LineOut(Out):
    id: int
    site_id: str
    edge_id: int
    name: str
    label: str
    port: str
    baudrate: int
    parity: Literal["N", "E", "O"]
    stopbits: int
    protocol: Literal["osdp", "modbus", "dlt645", "cjt188"]


class LineList(BaseModel):
    items: list[LineOut]


@routes.get("/lines", query=PartQuery, response=LineList)
async def list_lines(request: web.Request, query: PartQuery) -> LineList:
    """List the serial lines of your scope, by site or edge."""
    stmt = select(Line).order_by(Line.site_id, Line.edge_id, Line.name)
    return LineList(items=await scoped_list(request, stmt, Line, LineOut, **query.model_dump()))


@routes.get("/lines" + ITEM, response=LineOut)
async def get_line(request: web.Request) -> LineOut:
    """One serial line."""
    return await scoped_get(request, Line, "line", LineOut)


@routes.post("/lines", body=LineSpec, response=LineOut, status=201)
async def add_line(request: web.Request, body: LineSpec) -> LineOut:
    """Add a serial line to an edge: its port, settings and protocol (osdp or modbus)."""
    async with installing(request) as inst:
        return LineOut.model_validate(await create_line(inst, body))


@routes.patch("/lines" + ITEM, body=LineChange, response=LineOut)
async def change_line(request: web.Request, body: LineSpec) -> LineOut:
    """Change a line's port, settings or protocol (not away from what its parts speak)."""
    return await apply(request, "line", update_line, body, LineOut)


@routes.delete("/lines" + ITEM)
async def remove_line(request: web.Request) -> None:
    """Remove a line no reader or device uses (409 names those that do)."""
    await remove(request, "line", delete_line)
