"""Vehicles: households' registered cars, visitor-car passes and blocked plates (compiled into
the edges' snapshots, so the lanes decide offline), and the vehicles inside now.

Staff of a site keep its registry (admin, manager; a guard blocks plates and issues passes);
a resident sees their own household's cars and issues visitor-car passes for it."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.auth import HOUSEHOLD_ROLES, OPERATOR_ROLES, STAFF_ROLES, WRITER_ROLES
from hub.api.core.crud import scoped, scoped_delete, visible
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import ConflictError, InvalidError, thing_word
from hub.api.core.paging import like, offset_total
from hub.api.core.schemas import Out, RowId, SiteId, Strict
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, writing
from hub.api.registry.labels import household_labels
from hub.api.registry.schemas import Offset
from hub.models import Household, Site, Unit, utcnow
from hub.texts.validation import Refusal, field_word
from hub.vehicles.models import BlockedPlate, Vehicle, VehiclePassRow, VehicleSiteSettings
from hub.vehicles.store import inside, settings_of
from wire._base import Name
from wire.vehicles import Plate, VehicleSettings, normalise_plate

routes = EndpointTable(tag="vehicles")


class VehicleCreate(Strict):
    household_id: RowId
    plate: Plate = Field(description="e.g. 粤B12345 (spaces and the dot are dropped)")
    colour: str | None = Field(default=None, max_length=16)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    lanes: list[Name] = Field(default_factory=list, max_length=64,
                              description="the lanes it may use; empty: every lane")
    note: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _window(self) -> VehicleCreate:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise Refusal("invalid.after", "valid_until is not after valid_from",
                          other=field_word("valid_from"))
        return self


class VehicleUpdate(Strict):
    """A registered vehicle changed: only the fields given (null clears a window end)."""

    household_id: RowId | None = None
    plate: Plate | None = Field(default=None, description="a plate registered wrongly")
    colour: str | None = Field(default=None, max_length=16)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    lanes: list[Name] | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=200)


class VehicleOut(BaseModel):
    id: int
    site_id: str
    household_id: int
    household_label: str | None = Field(default=None,
                                        description='its unit as people name it, "B1 101"')
    plate: str
    colour: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    lanes: list[str]
    note: str
    created_at: datetime


class VehicleQuery(Strict):
    site_id: SiteId | None = None
    household_id: RowId | None = None
    q: str | None = Field(default=None, min_length=1, max_length=100,
                          description="part of a plate (粤B 12 finds 粤B12345), a unit number "
                                      "or a note")
    limit: int | None = Field(default=None, ge=1, le=5000, description="page size; none: all")
    offset: Offset = 0


class VehicleList(BaseModel):
    items: list[VehicleOut]
    total: int = Field(description="vehicles matching the filters, all pages together")


class VehiclePassCreate(Strict):
    household_id: RowId
    plate: Plate
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    max_uses: int = Field(default=1, ge=1, le=1000, description="entries allowed")

    @model_validator(mode="after")
    def _window(self) -> VehiclePassCreate:
        if self.valid_until <= self.valid_from:
            raise Refusal("invalid.after", "valid_until is not after valid_from",
                          other=field_word("valid_from"))
        return self


class VehiclePassOut(Out):
    id: int
    site_id: str
    household_id: int
    plate: str
    valid_from: datetime
    valid_until: datetime
    max_uses: int
    uses: int
    revoked: bool


class VehiclePassList(BaseModel):
    items: list[VehiclePassOut]


class BlockedPlateCreate(Strict):
    site_id: SiteId
    plate: Plate
    reason: str = Field(default="", max_length=200)


class BlockedPlateOut(BaseModel):
    id: int
    site_id: str
    plate: str
    reason: str
    created_at: datetime


class BlockedPlateList(BaseModel):
    items: list[BlockedPlateOut]


class SiteQuery(Strict):
    site_id: SiteId | None = None


class InsideOut(BaseModel):
    plate: str
    site_id: str
    lane: str = Field(description="the lane it came in by")
    reason: str = Field(description="resident, visitor_pass, temporary …")
    household_id: int | None
    pass_id: int | None
    entered_at: datetime
    dwell_s: int = Field(description="seconds inside so far")


class InsideList(BaseModel):
    items: list[InsideOut]


def _vehicle_out(v: Vehicle, labels: dict[int, str] | None = None) -> VehicleOut:
    """`labels`: households as people name them (`household_labels`)."""
    return VehicleOut(id=v.id, site_id=v.site_id, household_id=v.household_id,
                      household_label=(labels or {}).get(v.household_id), plate=v.plate,
                      colour=v.colour, valid_from=v.valid_from, valid_until=v.valid_until,
                      lanes=v.lanes or [], note=v.note, created_at=v.created_at)


async def _household_site(request: web.Request, session: AsyncSession, household_id: int) -> str:
    """The household's site, when the caller's scope covers it (else 422, as if unknown)."""
    household = await session.get(Household, household_id)
    if household is None or not scope_of(request).sees(household.site_id, household.id):
        raise InvalidError.unknown("household_id", "household", household_id)
    return household.site_id


@routes.get("/vehicles", query=VehicleQuery, response=VehicleList, roles=HOUSEHOLD_ROLES)
async def list_vehicles(request: web.Request, query: VehicleQuery) -> VehicleList:
    """Registered vehicles: staff their site's, a resident their household's; searched by
    plate, unit number or note, a page at a time (`limit`, `offset`; `total` counts them all)."""
    matching = scoped(request, select(Vehicle), Vehicle, query.site_id,
                      household_id=query.household_id)
    text = (query.q or "").strip()
    if text:
        matching = matching.where(_matching(text))
    stmt = matching.order_by(Vehicle.site_id, Vehicle.plate, Vehicle.id).offset(query.offset)
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    async with reading(request) as session:
        rows = list(await session.scalars(stmt))
        labels = await household_labels(session, [v.household_id for v in rows])
        total = await offset_total(session, len(rows), query.offset, query.limit,
                                   matching.with_only_columns(func.count(),
                                                              maintain_column_froms=True))
        return VehicleList(items=[_vehicle_out(v, labels) for v in rows], total=total)


def _matching(text: str) -> ColumnElement[bool]:
    """A vehicle whose plate holds `text` as plates are written (spaces and the dot dropped,
    upper case), or whose household's unit number or note holds it."""
    plate = normalise_plate(text)
    unit_numbers = (select(Household.id).join(Unit, Unit.id == Household.unit_id)
                    .where(Unit.number.ilike(like(text), escape="\\")))
    return or_(*([Vehicle.plate.like(like(plate), escape="\\")] if plate else []),
               Vehicle.note.ilike(like(text), escape="\\"),
               Vehicle.household_id.in_(unit_numbers.scalar_subquery()))


@routes.post("/vehicles", body=VehicleCreate, response=VehicleOut, status=201,
             roles=WRITER_ROLES)
async def create_vehicle(request: web.Request, body: VehicleCreate) -> VehicleOut:
    """Register a household's vehicle; the site's lanes open for it once their next
    snapshot arrives."""
    async with writing(request) as change:
        session = change.session
        site_id = await _household_site(request, session, body.household_id)
        await _refuse_registered(session, site_id, body.plate)
        vehicle = Vehicle(site_id=site_id, household_id=body.household_id, plate=body.plate,
                          colour=body.colour, valid_from=body.valid_from,
                          valid_until=body.valid_until, lanes=sorted(set(body.lanes)),
                          note=body.note)
        session.add(vehicle)
        await session.flush()
        change.sites.add(site_id)
        return _vehicle_out(vehicle, await household_labels(session, [vehicle.household_id]))


async def _refuse_registered(session: AsyncSession, site_id: str, plate: str,
                             except_id: int | None = None) -> None:
    """409 when the site has this plate registered already (to another vehicle)."""
    taken = await session.scalar(select(Vehicle.id).where(
        Vehicle.site_id == site_id, Vehicle.plate == plate, Vehicle.id != (except_id or 0)))
    if taken is not None:
        raise ConflictError(f"plate {plate} is already registered in site {site_id} "
                            f"(vehicle {taken})",
                            ("import.plate_taken", {"plate": plate, "vehicle": taken}))


@routes.patch(r"/vehicles/{id:\d+}", body=VehicleUpdate, response=VehicleOut,
              roles=WRITER_ROLES)
async def update_vehicle(request: web.Request, body: VehicleUpdate) -> VehicleOut:
    """Change a registered vehicle (its household, plate, validity, lanes, note); the lanes
    follow at the site's next snapshot."""
    given = body.model_fields_set
    async with writing(request) as change:
        session = change.session
        vehicle = await visible(session, request, Vehicle, "vehicle", lock=True)
        if "household_id" in given:
            if body.household_id is None:
                raise InvalidError.one("household_id", "a vehicle belongs to a household",
                                       "invalid.missing")
            if await _household_site(request, session, body.household_id) != vehicle.site_id:
                raise InvalidError.unknown("household_id", "household", body.household_id)
            vehicle.household_id = body.household_id
        if "plate" in given:
            if body.plate is None:
                raise InvalidError.one("plate", "a vehicle has a plate", "invalid.missing")
            await _refuse_registered(session, vehicle.site_id, body.plate, vehicle.id)
            vehicle.plate = body.plate
        if "valid_from" in given:
            vehicle.valid_from = body.valid_from
        if "valid_until" in given:
            vehicle.valid_until = body.valid_until
        if (vehicle.valid_from and vehicle.valid_until
                and vehicle.valid_until <= vehicle.valid_from):
            raise InvalidError.one("valid_until", "valid_until is not after valid_from",
                                   "invalid.after", other=field_word("valid_from"))
        if "colour" in given:
            vehicle.colour = body.colour
        if "lanes" in given:
            vehicle.lanes = sorted(set(body.lanes or []))
        if "note" in given:
            vehicle.note = body.note or ""
        await session.flush()
        change.sites.add(vehicle.site_id)
        return _vehicle_out(vehicle, await household_labels(session, [vehicle.household_id]))


@routes.delete(r"/vehicles/{id:\d+}", roles=WRITER_ROLES)
async def delete_vehicle(request: web.Request) -> None:
    """Remove a registered vehicle (its past stays stay in the log)."""
    await scoped_delete(request, Vehicle, "vehicle", recompile=True)


@routes.get("/vehicle-passes", query=VehicleQuery, response=VehiclePassList,
            roles=HOUSEHOLD_ROLES)
async def list_vehicle_passes(request: web.Request, query: VehicleQuery) -> VehiclePassList:
    """Visitor-car passes with their uses: staff their site's, a resident their household's."""
    stmt = scoped(request, select(VehiclePassRow).order_by(VehiclePassRow.id), VehiclePassRow,
                  query.site_id, household_id=query.household_id)
    async with reading(request) as session:
        rows = await session.scalars(stmt)
        return VehiclePassList(items=[VehiclePassOut.model_validate(p) for p in rows])


@routes.post("/vehicle-passes", body=VehiclePassCreate, response=VehiclePassOut, status=201,
             roles=OPERATOR_ROLES | {"resident"})
async def issue_vehicle_pass(request: web.Request, body: VehiclePassCreate) -> VehiclePassOut:
    """Issue a visitor-car pass naming the visitor's plate (a resident for their own
    household; the guard desk or a manager for any of their site)."""
    async with writing(request) as change:
        session = change.session
        site_id = await _household_site(request, session, body.household_id)
        row = VehiclePassRow(site_id=site_id, household_id=body.household_id, plate=body.plate,
                             valid_from=body.valid_from, valid_until=body.valid_until,
                             max_uses=body.max_uses, uses=0, revoked=False)
        session.add(row)
        await session.flush()
        change.sites.add(site_id)
        return VehiclePassOut.model_validate(row)


@routes.post(r"/vehicle-passes/{id:\d+}/revoke", response=VehiclePassOut, status=200,
             roles=OPERATOR_ROLES | {"resident"})
async def revoke_vehicle_pass(request: web.Request) -> VehiclePassOut:
    """Revoke a visitor-car pass (a resident their household's): the lanes stop opening for
    its plate at the site's next snapshot; its past entries stay."""
    async with writing(request) as change:
        row = await visible(change.session, request, VehiclePassRow, "vehicle pass", lock=True)
        if not row.revoked:
            row.revoked = True
            change.sites.add(row.site_id)
        await change.session.flush()
        return VehiclePassOut.model_validate(row)


@routes.get("/blocked-plates", query=SiteQuery, response=BlockedPlateList, roles=STAFF_ROLES)
async def list_blocked_plates(request: web.Request, query: SiteQuery) -> BlockedPlateList:
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = select(BlockedPlate).where(scope.where(BlockedPlate.site_id))
    if query.site_id is not None:
        stmt = stmt.where(BlockedPlate.site_id == query.site_id)
    async with reading(request) as session:
        rows = await session.scalars(stmt.order_by(BlockedPlate.site_id, BlockedPlate.plate))
        return BlockedPlateList(items=[
            BlockedPlateOut(id=b.id, site_id=b.site_id, plate=b.plate, reason=b.reason,
                            created_at=b.created_at) for b in rows])


@routes.post("/blocked-plates", body=BlockedPlateCreate, response=BlockedPlateOut, status=201,
             roles=OPERATOR_ROLES)
async def block_plate(request: web.Request, body: BlockedPlateCreate) -> BlockedPlateOut:
    """Block a plate at the site's lanes: refused there (also on a near-miss reading) and the
    guard alarmed."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        if await session.scalar(select(BlockedPlate.id).where(
                BlockedPlate.site_id == body.site_id, BlockedPlate.plate == body.plate)):
            raise ConflictError(f"plate {body.plate} is already blocked in site {body.site_id}", (
                "error.exists", {"what": thing_word("blocked plate"), "key": body.plate}))
        row = BlockedPlate(site_id=body.site_id, plate=body.plate, reason=body.reason)
        session.add(row)
        await session.flush()
        change.sites.add(body.site_id)
        return BlockedPlateOut(id=row.id, site_id=row.site_id, plate=row.plate,
                               reason=row.reason, created_at=row.created_at)


@routes.delete(r"/blocked-plates/{id:\d+}", roles=OPERATOR_ROLES)
async def unblock_plate(request: web.Request) -> None:
    await scoped_delete(request, BlockedPlate, "blocked plate", recompile=True)


@routes.get("/vehicles/inside", query=SiteQuery, response=InsideList, roles=STAFF_ROLES)
async def vehicles_inside(request: web.Request, query: SiteQuery) -> InsideList:
    """The vehicles inside now (entered, not yet left), longest stay first, with dwell time."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    sites = [query.site_id] if query.site_id else scope.sites
    now = utcnow()
    async with reading(request) as session:
        rows = await inside(session, sites)
    return InsideList(items=[
        InsideOut(plate=s.plate, site_id=s.site_id, lane=s.lane, reason=s.reason,
                  household_id=s.household_id, pass_id=s.pass_id, entered_at=s.entered_at,
                  dwell_s=max(0, int((now - s.entered_at).total_seconds()))) for s in rows])


class VehicleSettingsIn(VehicleSettings):
    site_id: SiteId


class VehicleSettingsOut(VehicleSettings):
    site_id: str


class SiteRequired(Strict):
    site_id: SiteId


@routes.get("/vehicle-settings", query=SiteRequired, response=VehicleSettingsOut,
            roles=STAFF_ROLES)
async def get_vehicle_settings(request: web.Request, query: SiteRequired) -> VehicleSettingsOut:
    """The site's lane settings (the defaults until set)."""
    scope_of(request).claim_site(query.site_id)
    async with reading(request) as session:
        current = settings_of(await session.get(VehicleSiteSettings, query.site_id))
    return VehicleSettingsOut(site_id=query.site_id, **current.model_dump())


@routes.post("/vehicle-settings", body=VehicleSettingsIn, response=VehicleSettingsOut,
             status=200, roles=WRITER_ROLES)
async def set_vehicle_settings(request: web.Request,
                               body: VehicleSettingsIn) -> VehicleSettingsOut:
    """Set the site's lane settings: an unknown car at an entry (open as temporary, or held
    for the guard), a plate entering twice without leaving (warn, refuse, off), the
    confidence below which a reading never opens as a household, and a household's car
    beyond its parking spaces (temporary, refuse)."""
    scope_of(request).claim_site(body.site_id)
    async with writing(request) as change:
        session = change.session
        if await session.get(Site, body.site_id) is None:
            raise InvalidError.unknown("site_id", "site", body.site_id)
        row = await session.get(VehicleSiteSettings, body.site_id)
        if row is None:
            row = VehicleSiteSettings(site_id=body.site_id)
            session.add(row)
        row.temporary_entry, row.passback = body.temporary_entry, body.passback
        row.min_confidence, row.updated_at = body.min_confidence, utcnow()
        row.over_spaces = body.over_spaces
        change.sites.add(body.site_id)
    return VehicleSettingsOut(site_id=body.site_id, **VehicleSettings.model_validate(
        body.model_dump(exclude={"site_id"})).model_dump())
