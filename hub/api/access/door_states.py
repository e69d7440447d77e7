"""The doors as the guard's building panel shows them: each door's state from its edge's
last reports (hub.door_states), offline when the edge is."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import and_, select

from hub.api.core.endpoints import EndpointTable
from hub.api.core.schemas import RowId, SiteId, Strict
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.door_states import DoorState, ShownState, shown_state
from hub.models import Door, Edge

routes = EndpointTable(tag="access")


class DoorStateQuery(Strict):
    site_id: SiteId | None = None
    building_id: RowId | None = None


class DoorStateOut(BaseModel):
    id: int
    site_id: str
    name: str
    label: str
    edge_id: int
    edge: str
    building_id: int | None
    mode: str = Field(description="as set in the registry: normal, locked_down, "
                      "unlocked_on_schedule")
    state: ShownState = Field(description="offline (the edge is), else the most urgent of: "
                              "fire_released, forced, locked_down, held_open, open; or normal")
    changed_at: datetime | None = Field(description="when the edge last reported a change")


class DoorStateList(BaseModel):
    items: list[DoorStateOut]


@routes.get("/door-states", query=DoorStateQuery, response=DoorStateList)
async def list_door_states(request: web.Request, query: DoorStateQuery) -> DoorStateList:
    """Every door of your scope with its state now (for the building panel)."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = (
        select(Door, Edge, DoorState)
        .join(Edge, Edge.id == Door.edge_id)
        .outerjoin(DoorState, and_(DoorState.site_id == Door.site_id,
                                   DoorState.edge == Edge.name, DoorState.door == Door.name))
        .where(scope.where(Door.site_id))
        .order_by(Door.site_id, Door.name)
    )
    if query.site_id is not None:
        stmt = stmt.where(Door.site_id == query.site_id)
    if query.building_id is not None:
        stmt = stmt.where(Edge.building_id == query.building_id)
    async with reading(request) as session:
        rows = (await session.execute(stmt)).all()
    items = []
    for door, edge, found in rows:
        state: DoorState | None = found  # none yet: the door has reported nothing
        items.append(DoorStateOut(
            id=door.id, site_id=door.site_id, name=door.name, label=door.label,
            edge_id=edge.id, edge=edge.name, building_id=edge.building_id, mode=door.mode,
            state=shown_state(state, edge_online=edge.status == "online", mode=door.mode),
            changed_at=state.changed_at if state is not None else None,
        ))
    return DoorStateList(items=items)
