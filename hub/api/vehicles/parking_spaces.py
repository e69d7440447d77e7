"""Parking spaces per household (owned or rented): how many of its cars may be inside at once.
Compiled into the site's vehicle permissions, so the lanes apply the limit offline."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from hub.api.core.auth import HOUSEHOLD_ROLES, WRITER_ROLES
from hub.api.core.crud import scoped
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError, InvalidError, NotFoundError, listing, thing_word
from hub.api.core.schemas import Out, RowId, SiteId, Strict
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, writing
from hub.api.registry.labels import household_labels
from hub.models import Household
from hub.vehicles.models import ParkingSpace

routes = EndpointTable(tag="vehicles")


class ParkingSpaceCreate(Strict):
    household_id: RowId
    code: str = Field(min_length=1, max_length=32, pattern=r"^\S(.*\S)?$",
                      description="the space's number in the car park, e.g. B2-017")
    kind: Literal["owned", "rented"]
    valid_until: AwareDatetime | None = Field(
        default=None, description="a rented space's end; null: no end")
    note: str = Field(default="", max_length=200)


class ParkingSpaceOut(Out):
    id: int
    site_id: str
    household_id: int
    household_label: str | None = Field(default=None,
                                        description='its unit as people name it, "B1 101"')
    code: str
    kind: str
    valid_until: datetime | None
    note: str
    created_at: datetime


class ParkingSpaceQuery(Strict):
    site_id: SiteId | None = None
    household_id: RowId | None = None


class ParkingSpaceList(BaseModel):
    items: list[ParkingSpaceOut]


@routes.get("/parking-spaces", query=ParkingSpaceQuery, response=ParkingSpaceList,
            roles=HOUSEHOLD_ROLES)
async def list_parking_spaces(request: web.Request,
                              query: ParkingSpaceQuery) -> ParkingSpaceList:
    """Parking spaces: staff their site's, a resident their household's."""
    stmt = select(ParkingSpace).order_by(ParkingSpace.site_id, ParkingSpace.code)
    async with reading(request) as session:
        rows = await session.scalars(scoped(request, stmt, ParkingSpace, query.site_id,
                                            household_id=query.household_id))
        spaces = list(rows)
        labels = await household_labels(session, [r.household_id for r in spaces])
        return ParkingSpaceList(items=[
            ParkingSpaceOut.model_validate(r).model_copy(
                update={"household_label": labels.get(r.household_id)}) for r in spaces])


@routes.post("/parking-spaces", body=ParkingSpaceCreate, response=ParkingSpaceOut, status=201,
             roles=WRITER_ROLES)
async def add_parking_space(request: web.Request, body: ParkingSpaceCreate) -> ParkingSpaceOut:
    """Give a household a parking space: one more of its cars may be inside at once (from the
    lanes' next snapshot)."""
    async with writing(request) as change:
        session = change.session
        household = await session.get(Household, body.household_id)
        if household is None or not scope_of(request).sees(household.site_id, household.id):
            raise InvalidError.unknown("household_id", "household", body.household_id)
        taken = await session.scalar(select(ParkingSpace.household_id).where(
            ParkingSpace.site_id == household.site_id, ParkingSpace.code == body.code))
        if taken is not None:
            raise ConflictError(f"space {body.code} is already household {taken}'s", (
                "error.taken", {"what": thing_word("parking space"), "value": body.code,
                                "holder": listing(("household", [taken]))}))
        row = ParkingSpace(site_id=household.site_id, household_id=household.id,
                           code=body.code, kind=body.kind, valid_until=body.valid_until,
                           note=body.note)
        session.add(row)
        await session.flush()
        change.sites.add(household.site_id)
        labels = await household_labels(session, [household.id])
        return ParkingSpaceOut.model_validate(row).model_copy(
            update={"household_label": labels.get(household.id)})


@routes.delete(r"/parking-spaces/{id:\d+}", roles=WRITER_ROLES)
async def remove_parking_space(request: web.Request) -> None:
    """Take a space from its household (its limit shrinks from the lanes' next snapshot)."""
    async with writing(request) as change:
        row_id = path_id(request, "parking space")
        row = await change.session.get(ParkingSpace, row_id)
        if row is None or not scope_of(request).sees(row.site_id):
            raise NotFoundError("parking space", row_id)
        await change.session.delete(row)
        change.sites.add(row.site_id)
