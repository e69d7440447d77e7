"""One edge: what it last reported, and how far the hub has stored its uplink."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from hub.api.endpoints import EndpointTable, path_id
from hub.api.errors import NotFoundError
from hub.api.schemas import EdgeOut
from hub.api.scope import scope_of
from hub.api.store import reading
from hub.models import Edge
from hub.stored import GAPS_SHOWN, progress

routes = EndpointTable(tag="registry")


class SeqGap(BaseModel):
    first: int
    last: int


class UplinkOut(BaseModel):
    held_back: int | None = Field(
        description="messages the edge last reported waiting in its outbox for the hub's "
        "confirmation (null: it has not said)")
    last_seq: int | None = Field(description="the last sequence number the edge reported writing")
    stored_through: int = Field(description="every sequence number up to this one is stored")
    highest_stored: int = Field(description="the highest sequence number stored")
    gaps: list[SeqGap] = Field(
        description=f"sequence numbers missing between stored ones (the first {GAPS_SHOWN})")
    missing: int = Field(description="sequence numbers in all gaps")


class EdgeDetail(EdgeOut):
    uplink: UplinkOut


@routes.get(r"/edges/{id:\d+}", response=EdgeDetail)
async def get_edge(request: web.Request) -> EdgeDetail:
    """One edge: its last report, and its uplink: held back at the edge, stored up to, gaps."""
    edge_id = path_id(request, "edge")
    async with reading(request) as session:
        edge = await session.get(Edge, edge_id)
        if edge is None:
            raise NotFoundError("edge", edge_id)
        scope_of(request).check("edge", edge_id, edge.site_id)
        stored = await progress(session, edge.site_id, edge.name)
    return EdgeDetail(
        id=edge.id, site_id=edge.site_id, name=edge.name, building_id=edge.building_id,
        status=edge.status, agent_version=edge.agent_version,
        perm_version_held=edge.perm_version_held, last_seen=edge.last_seen,
        uplink=UplinkOut(
            held_back=edge.outbox_waiting, last_seq=edge.outbox_last_seq,
            stored_through=stored.stored_through, highest_stored=stored.highest_stored,
            gaps=[SeqGap(first=a, last=b) for a, b in stored.gaps], missing=stored.missing))
