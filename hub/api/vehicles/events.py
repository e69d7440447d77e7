"""The lanes' recent decisions (the `vehicle` events), newest first: what the guard's lane panel
opens with before the live feed takes over; and a guard's correction of a misread plate (logged
with who and why, and carried into who is inside)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from hub.api.core.auth import OPERATOR_ROLES, STAFF_ROLES
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import InvalidError, NotFoundError
from hub.api.core.keys import CURRENT_USER
from hub.api.core.schemas import SiteId, Strict
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, writing
from hub.history.ids import find_event
from hub.models import EventLog
from hub.vehicles.models import PlateCorrection, VehicleStay
from wire.vehicles import Plate

routes = EndpointTable(tag="vehicles")


class LaneEventQuery(Strict):
    site_id: SiteId | None = None
    limit: int = Field(default=50, ge=1, le=500)


class LaneDecisionOut(BaseModel):
    id: str
    ts: datetime
    site_id: str
    edge: str
    lane: str
    direction: str
    plate: str
    matched_plate: str | None
    result: str = Field(description="open, refused or held")
    reason: str
    flag: str | None
    household_id: int | None
    snapshot_id: str | None = Field(description="the picture: GET /snapshots/{id}")
    corrected_plate: str | None = Field(default=None,
                                        description="the plate a guard corrected it to, last")


class LaneDecisionList(BaseModel):
    items: list[LaneDecisionOut]


@routes.get("/vehicles/decisions", query=LaneEventQuery, response=LaneDecisionList,
            roles=STAFF_ROLES)
async def lane_decisions(request: web.Request, query: LaneEventQuery) -> LaneDecisionList:
    """The lanes' latest decisions in your scope, newest first."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = (select(EventLog).where(EventLog.kind == "vehicle", scope.where(EventLog.site_id))
            .order_by(EventLog.ts.desc(), EventLog.id.desc()).limit(query.limit))
    if query.site_id is not None:
        stmt = stmt.where(EventLog.site_id == query.site_id)
    async with reading(request) as session:
        rows = list(await session.scalars(stmt))
        fixes = {c.event_id: c.plate for c in await session.scalars(
            select(PlateCorrection).where(PlateCorrection.event_id.in_([r.id for r in rows]))
            .order_by(PlateCorrection.id))}
    return LaneDecisionList(items=[LaneDecisionOut(
        id=r.id, ts=r.ts, site_id=r.site_id, edge=r.edge, lane=r.data["lane"],
        direction=r.data["direction"], plate=r.data["plate"],
        matched_plate=r.data.get("matched_plate"), result=r.data["result"],
        reason=r.data["reason"], flag=r.data.get("flag"),
        household_id=r.data.get("household_id"), snapshot_id=r.data.get("snapshot_id"),
        corrected_plate=fixes.get(r.id))
        for r in rows])


class CorrectionIn(Strict):
    plate: Plate = Field(description="the plate it really was")
    reason: str = Field(min_length=1, max_length=500, description="why; kept in the log")


class CorrectionOut(BaseModel):
    id: int
    event_id: str
    read_plate: str
    plate: str
    reason: str
    corrected_by: str
    corrected_at: datetime


@routes.post(r"/vehicles/decisions/{id:[0-9A-Za-z-]{1,36}}/correct", body=CorrectionIn,
             response=CorrectionOut, status=201, roles=OPERATOR_ROLES)
async def correct_plate(request: web.Request, body: CorrectionIn) -> CorrectionOut:
    """Correct the plate a lane read: logged with who and why; the stay that entry opened
    takes the corrected plate, and an exit ends the corrected plate's stay."""
    event_id = request.match_info["id"]
    async with writing(request) as change:
        session = change.session
        # the key is (id, ts): the look is bounded by the id's UUIDv7 time (one partition)
        event = await find_event(session, event_id)
        if event is None or event.kind != "vehicle" \
                or not scope_of(request).sees(event.site_id):
            raise NotFoundError("lane decision", event_id)
        read = event.data.get("matched_plate") or event.data["plate"]
        if body.plate == read:
            raise InvalidError.one("plate", f"{body.plate} is what the lane already used",
                                   "invalid.plate_same", plate=body.plate)
        row = PlateCorrection(site_id=event.site_id, event_id=event.id, read_plate=read,
                              plate=body.plate, reason=body.reason,
                              corrected_by=request[CURRENT_USER].username)
        session.add(row)
        if event.data.get("direction") == "entry":
            await session.execute(update(VehicleStay).where(VehicleStay.entry_event_id == event.id)
                                  .values(plate=body.plate))
        elif event.data.get("result") == "open":
            await session.execute(
                update(VehicleStay)
                .where(VehicleStay.site_id == event.site_id, VehicleStay.plate == body.plate,
                       VehicleStay.left_at.is_(None), VehicleStay.entered_at <= event.ts)
                .values(left_at=event.ts, exit_event_id=event.id))
        await session.flush()
        return CorrectionOut.model_validate(row, from_attributes=True)
