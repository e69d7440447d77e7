"""A guard raises a lane's barrier from the hub, with a reason (logged, like a remote unlock)
and, for a car held at the barrier, its plate (recorded as a temporary vehicle's passage)."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from hub.api.access.commands import CommandOut
from hub.api.core.auth import OPERATOR_ROLES
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import NotFoundError, UnavailableError
from hub.api.core.keys import COMMANDS, CURRENT_USER
from hub.api.core.schemas import Strict
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.models import Edge
from hub.vehicles.models import Lane
from wire.vehicles import Plate

routes = EndpointTable(tag="commands")


class LaneOpenIn(Strict):
    reason: str = Field(min_length=1, max_length=500, description="why; kept in the log")
    plate: Plate | None = Field(default=None, description="the held car it lets through")


@routes.post(r"/lanes/{id:\d+}/open", body=LaneOpenIn, response=CommandOut, status=202,
             roles=OPERATOR_ROLES)
async def open_lane(request: web.Request, body: LaneOpenIn) -> CommandOut:
    """Raise a lane's barrier now (an edge relay), or on its camera's next heartbeat or push
    (a camera's relay; at once when the lane holds the heartbeat), with a reason; the edge
    answers like any command."""
    lane_id = path_id(request, "lane")
    async with reading(request) as session:
        found = (await session.execute(select(Lane, Edge).join(Edge, Edge.id == Lane.edge_id)
                                       .where(Lane.id == lane_id))).first()
    if found is None:
        raise NotFoundError("lane", lane_id)
    lane, edge = found
    scope_of(request).check("lane", lane_id, lane.site_id)
    sender = request.app.get(COMMANDS)
    if sender is None:
        raise UnavailableError("this API instance cannot reach the broker to command edges",
                               ("error.no_broker", {}))
    row = await sender.send(site=lane.site_id, edge=edge.name, command="lane_open",
                            reason=body.reason, issued_by=request[CURRENT_USER].username,
                            lane=lane.name, plate=body.plate)
    return CommandOut.model_validate(row, from_attributes=True)
