"""Utility meters: the registry (which meter measures which unit), each meter's readings, and
each unit's monthly consumption for billing (JSON, or CSV with `?format=csv`)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hub.api.core.crud import visible
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import InvalidError, thing_word
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, require_site
from hub.api.installation.common import installing
from hub.api.meters.schemas import (
    ConsumptionQuery,
    ConsumptionReport,
    ConsumptionRow,
    MeterCreate,
    MeterList,
    MeterOut,
    MeterQuery,
    ReadingList,
    ReadingOut,
    ReadingQuery,
)
from hub.meters.consumption import from_milli, monthly, to_csv
from hub.meters.models import Meter, MeterReading
from hub.meters.readings import REGISTER
from hub.models import Building, Device, Edge, Line, Unit, utcnow
from hub.texts import word

routes = EndpointTable(tag="meters")
MANAGERS = frozenset({"admin", "company_admin", "manager"})
_ITEM = r"/meters/{id:\d+}"


def _out(meter: Meter, last: MeterReading | None = None) -> MeterOut:
    return MeterOut(id=meter.id, site_id=meter.site_id, unit_id=meter.unit_id,
                    kind=meter.kind,  # type: ignore[arg-type]  # checked on the way in
                    number=meter.number, edge=meter.edge, device=meter.device,
                    line_id=meter.line_id, installed_at=meter.installed_at, removed_at=meter.removed_at,
                    last_reading=None if last is None else from_milli(last.milli),
                    last_reading_at=None if last is None else last.ts,
                    measure=REGISTER[meter.kind][1])


@routes.get("/meters", query=MeterQuery, response=MeterList)
async def list_meters(request: web.Request, query: MeterQuery) -> MeterList:
    """Meters of your site, each with its last reading."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = select(Meter).where(scope.where(Meter.site_id))
    for column, value in ((Meter.site_id, query.site_id), (Meter.unit_id, query.unit_id),
                          (Meter.kind, query.kind)):
        if value is not None:
            stmt = stmt.where(column == value)
    if not query.removed:
        stmt = stmt.where(Meter.removed_at.is_(None))
    async with reading(request) as session:
        meters = list(await session.scalars(stmt.order_by(Meter.id).limit(query.limit)))
        items = []
        for meter in meters:
            last = await session.scalar(
                select(MeterReading).where(MeterReading.meter_id == meter.id)
                .order_by(MeterReading.ts.desc()).limit(1))
            items.append(_out(meter, last))
    return MeterList(items=items)


@routes.post("/meters", body=MeterCreate, response=MeterOut, status=201)
async def register_meter(request: web.Request, body: MeterCreate) -> MeterOut:
    """Register a unit's meter (optionally replacing its old one, removed at the same time);
    an electricity meter given its dlt645 line goes into that edge's configuration."""
    scope_of(request).claim_site(body.site_id)
    installed = body.installed_at or utcnow()
    async with installing(request) as inst:
        session = inst.session
        await require_site(session, body.site_id)
        unit_site = await session.scalar(select(Building.site_id).join(
            Unit, Unit.building_id == Building.id).where(Unit.id == body.unit_id))
        if unit_site != body.site_id:
            raise InvalidError.unknown("unit_id", "unit", body.unit_id,
                                       f"no unit {body.unit_id} in {body.site_id!r}")
        if await session.scalar(select(Meter.id).where(
                Meter.site_id == body.site_id, Meter.kind == body.kind,
                Meter.number == body.number)) is not None:
            raise InvalidError.one("number", f"{body.kind} meter {body.number} is registered",
                                   "invalid.taken", what=thing_word("meter"), value=body.number)
        if body.replaces is not None:
            old = await session.get(Meter, body.replaces)
            if old is None or old.site_id != body.site_id or old.removed_at is not None:
                raise InvalidError.unknown("replaces", "meter", body.replaces,
                                           f"no meter {body.replaces} in use in {body.site_id!r}")
            if old.unit_id != body.unit_id or old.kind != body.kind:
                raise InvalidError.one("replaces", f"meter {old.id} is not this unit's "
                                                   f"{body.kind} meter", "invalid.not_units_meter",
                                       meter=old.id, kind=word(f"device_type.{body.kind}_meter",
                                                               f"{body.kind} meter"))
            old.removed_at = installed
            if old.line_id is not None:  # the edge stops reading it
                inst.touch(old.site_id, await session.scalar(
                    select(Line.edge_id).where(Line.id == old.line_id)))
        taken = await session.scalar(select(Meter.number).where(
            Meter.site_id == body.site_id, Meter.edge == body.edge,
            Meter.device == body.device, Meter.removed_at.is_(None),
            Meter.id != (body.replaces or 0)))
        if taken is not None:
            raise InvalidError.one("device", f"{body.edge}/{body.device} reads meter {taken}",
                                   "invalid.reads_meter", device=f"{body.edge}/{body.device}",
                                   meter=taken)
        if body.line_id is not None:
            line = await session.get(Line, body.line_id)
            if line is None or line.site_id != body.site_id:
                raise InvalidError.unknown("line_id", "line", body.line_id,
                                           f"no line {body.line_id} in {body.site_id!r}")
            edge = await session.get(Edge, line.edge_id)
            if edge is None or edge.name != body.edge:
                raise InvalidError.one("line_id", f"line {line.name!r} is not on edge "
                                                  f"{body.edge!r}", "invalid.other_edge",
                                       thing=thing_word("line"), name=line.name,
                                       edge=edge.name if edge else "-")
            wanted = "dlt645" if body.kind == "electricity" else "cjt188"
            if line.protocol != wanted:
                raise InvalidError.one("line_id", f"line {line.name!r} speaks {line.protocol}; "
                                                  f"{'an electricity' if wanted == 'dlt645' else 'a water'} "
                                                  f"meter needs a {wanted} line",
                                       "invalid.line_protocol", line=line.name,
                                       protocol=line.protocol, wanted=wanted)
            if await session.scalar(select(Device.name).where(
                    Device.edge_id == line.edge_id, Device.name == body.device)) is not None:
                raise InvalidError.one("device", f"{body.device!r} is an installed device of "
                                                 "that edge: give the meter an id of its own",
                                       "invalid.device_name_taken", device=body.device)
            inst.touch(body.site_id, line.edge_id)
        meter = Meter(site_id=body.site_id, unit_id=body.unit_id, kind=body.kind,
                      number=body.number, edge=body.edge, device=body.device,
                      line_id=body.line_id, installed_at=installed)
        session.add(meter)
        await session.flush()
        return _out(meter)


@routes.get(_ITEM + "/readings", query=ReadingQuery, response=ReadingList)
async def meter_readings(request: web.Request, query: ReadingQuery) -> ReadingList:
    """One meter's readings, newest first (reverse and impossible readings flagged, never
    billed)."""
    meter_id = path_id(request, "meter")
    async with reading(request) as session:
        meter = await visible(session, request, Meter, "meter", meter_id)
        stmt = select(MeterReading).where(MeterReading.meter_id == meter_id)
        if query.since is not None:
            stmt = stmt.where(MeterReading.ts >= query.since)
        if query.until is not None:
            stmt = stmt.where(MeterReading.ts < query.until)
        rows = list(await session.scalars(
            stmt.order_by(MeterReading.ts.desc()).limit(query.limit)))
    return ReadingList(meter_id=meter_id, measure=REGISTER[meter.kind][1], items=[
        ReadingOut(ts=r.ts, value=from_milli(r.milli), billing=r.billing,
                   status=r.status)  # type: ignore[arg-type]  # written by readings.judge only
        for r in rows])


@routes.get("/meters/consumption", query=ConsumptionQuery, response=ConsumptionReport,
            roles=MANAGERS, produces=("application/json", "text/csv"))
async def consumption(request: web.Request,
                      query: ConsumptionQuery) -> ConsumptionReport | web.Response:
    """Each unit's consumption in a month (the site's calendar), for billing."""
    scope_of(request).claim_site(query.site_id)
    async with reading(request) as session:
        await require_site(session, query.site_id)
        rows = await monthly(session, query.site_id, query.month, query.kind)
    accept = request.headers.get("Accept", "")
    if query.format == "csv" or (query.format is None and "text/csv" in accept
                                 and "application/json" not in accept):
        name = f"meters-{query.site_id}-{query.month}"
        return web.Response(text=to_csv(rows, query.month), content_type="text/csv",
                            charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return ConsumptionReport(site_id=query.site_id, month=query.month, items=[
        ConsumptionRow(building=r.building, unit=r.unit,
                       kind=r.kind,  # type: ignore[arg-type]  # a registered meter's kind
                       meters=r.meters, start_reading=r.start, end_reading=r.end,
                       consumption=r.consumption, measure=REGISTER[r.kind][1],
                       missing_meters=r.missing) for r in rows])
