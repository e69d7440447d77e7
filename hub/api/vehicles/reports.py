"""Vehicle reports for managers: entries and exits per hour (the site's own hours), and the
vehicles inside longer than N days — as JSON, or CSV with `?format=csv` or `Accept: text/csv`."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.api.alarms.reports import MANAGERS, PRODUCES
from hub.api.alarms.reports import _answer as report_answer
from hub.api.alarms.schemas import Format, ReportQuery
from hub.api.core.endpoints import EndpointTable
from hub.api.core.schemas import SiteId, Strict
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.models import EventLog, Site, utcnow
from hub.vehicles.models import VehicleStay

routes = EndpointTable(tag="reports")
DEFAULT_SPAN = timedelta(days=7)  # no `since`: the last week (the event log is long)


class TrafficRow(BaseModel):
    site_id: str
    hour: datetime = Field(description="the hour's start, in the site's time zone")
    entries: int = Field(description="vehicles let in")
    exits: int = Field(description="vehicles let out")
    refused: int = Field(description="entries refused or held for the guard")
    temporary: int = Field(description="of the entries: temporary vehicles")


class TrafficReport(BaseModel):
    items: list[TrafficRow]


class OverstayQuery(Strict):
    site_id: SiteId | None = None
    days: float = Field(default=3, gt=0, le=365, description="inside longer than this")
    format: Format | None = Field(default=None, description="csv, or send Accept: text/csv")


class OverstayRow(BaseModel):
    site_id: str
    plate: str
    lane: str
    reason: str = Field(description="why it was let in: resident, visitor_pass, temporary …")
    household_id: int | None
    entered_at: datetime
    days_inside: float


class OverstayReport(BaseModel):
    items: list[OverstayRow]


@routes.get("/reports/vehicle-traffic", query=ReportQuery, response=TrafficReport,
            roles=MANAGERS, produces=PRODUCES)
async def vehicle_traffic(request: web.Request,
                          query: ReportQuery) -> TrafficReport | web.Response:
    """Vehicles in and out per hour of the site's day (decisions within since / until; no
    since: the last 7 days); hours with no traffic are left out."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    since = query.since or (query.until or utcnow()) - DEFAULT_SPAN
    stmt = (select(EventLog.site_id, EventLog.ts, EventLog.data)
            .where(EventLog.kind == "vehicle", scope.where(EventLog.site_id),
                   EventLog.ts >= since))
    if query.until is not None:
        stmt = stmt.where(EventLog.ts < query.until)
    if query.site_id is not None:
        stmt = stmt.where(EventLog.site_id == query.site_id)
    async with reading(request) as session:
        rows = (await session.execute(stmt)).all()
        zones = {s: ZoneInfo(z) for s, z in await session.execute(select(Site.id, Site.timezone))}
    counts: dict[tuple[str, datetime], dict[str, int]] = defaultdict(
        lambda: {"entries": 0, "exits": 0, "refused": 0, "temporary": 0})
    for site_id, ts, data in rows:
        if data.get("offline"):
            continue  # the camera's own late record: no decision of ours
        local = ts.astimezone(zones.get(site_id, ZoneInfo("UTC")))
        bucket = counts[(site_id, local.replace(minute=0, second=0, microsecond=0))]
        if data.get("result") != "open":
            bucket["refused"] += data.get("direction") == "entry"
        elif data.get("direction") == "exit":
            bucket["exits"] += 1
        else:
            bucket["entries"] += 1
            bucket["temporary"] += data.get("household_id") is None
    items = [TrafficRow(site_id=site, hour=hour, **n)
             for (site, hour), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1]))]
    return report_answer(request, query, TrafficReport(items=items), "vehicle-traffic")


@routes.get("/reports/vehicle-overstays", query=OverstayQuery, response=OverstayReport,
            roles=MANAGERS, produces=PRODUCES)
async def vehicle_overstays(request: web.Request,
                            query: OverstayQuery) -> OverstayReport | web.Response:
    """Vehicles inside now for longer than `days` (default 3), longest first."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    now = utcnow()
    stmt = (select(VehicleStay)
            .where(VehicleStay.left_at.is_(None), scope.where(VehicleStay.site_id),
                   VehicleStay.entered_at < now - timedelta(days=query.days))
            .order_by(VehicleStay.entered_at))
    if query.site_id is not None:
        stmt = stmt.where(VehicleStay.site_id == query.site_id)
    async with reading(request) as session:
        stays = list(await session.scalars(stmt))
    items = [OverstayRow(site_id=s.site_id, plate=s.plate, lane=s.lane, reason=s.reason,
                         household_id=s.household_id, entered_at=s.entered_at,
                         days_inside=round((now - s.entered_at).total_seconds() / 86400, 2))
             for s in stays]
    return report_answer(request, query, OverstayReport(items=items),  # type: ignore[arg-type]
                         "vehicle-overstays")
