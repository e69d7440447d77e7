"""Edges added, relabelled and removed by installers (read: hub.api.registry.sites, hub.api.registry.edges)."""

from __future__ import annotations

from aiohttp import web

from hub.api.core.crud import Out
from hub.api.core.endpoints import EndpointTable
from hub.api.installation.common import ITEM, apply, installing, remove
from hub.installation import create_edge, delete_edge, update_edge
from hub.installation.specs import EdgeChange, EdgeSpec

routes = EndpointTable(tag="installation")


class EdgeOut(Out):
    """The edge as installed (what it reports: GET /edges/{id})."""

    id: int
    site_id: str
    name: str
    label: str
    building_id: int | None
    status: str


@routes.post("/edges", body=EdgeSpec, response=EdgeOut, status=201)
async def add_edge(request: web.Request, body: EdgeSpec) -> EdgeOut:
    """Add an edge to a site; then provision the box with `lintel provision edge`."""
    async with installing(request) as inst:
        return EdgeOut.model_validate(await create_edge(inst, body))


@routes.patch("/edges" + ITEM, body=EdgeChange, response=EdgeOut)
async def change_edge(request: web.Request, body: EdgeSpec) -> EdgeOut:
    """Relabel an edge or move it to another building of its site (its name stays)."""
    return await apply(request, "edge", update_edge, body, EdgeOut)


@routes.delete("/edges" + ITEM)
async def remove_edge(request: web.Request) -> None:
    """Remove an edge nothing is installed on (409 names what still is)."""
    await remove(request, "edge", delete_edge)
