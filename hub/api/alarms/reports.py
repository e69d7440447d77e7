"""Reports for managers: alarm response times, device faults, refused attempts per door —
as JSON, or CSV with `?format=csv` or `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any, TypeVar, TypeVarTuple, get_args

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import QueryableAttribute

from hub.api.alarms.schemas import (
    AlarmTimesReport,
    AlarmTimesRow,
    DeniedReport,
    DeniedRow,
    FaultReport,
    FaultReportQuery,
    FaultRow,
    ReportQuery,
)
from hub.api.core.endpoints import EndpointTable
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.models import AccessEvent, Device, DeviceFault
from hub.rules.models import Alarm

routes = EndpointTable(tag="reports")
MANAGERS = frozenset({"admin", "company_admin", "manager"})
PRODUCES = ("application/json", "text/csv")
_Report = TypeVar("_Report", bound=BaseModel)
_Columns = TypeVarTuple("_Columns")


def _answer(request: web.Request, query: ReportQuery, report: _Report,
            name: str) -> _Report | web.Response:
    """The report as JSON, or as CSV when asked by `format` or the Accept header."""
    accept = request.headers.get("Accept", "")
    wants_csv = query.format == "csv" or (query.format is None and "text/csv" in accept
                                          and "application/json" not in accept)
    if not wants_csv:
        return report
    (row_model,) = get_args(type(report).model_fields["items"].annotation)  # list[Row]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row_model.model_fields), lineterminator="\n")
    writer.writeheader()
    for item in report.model_dump(mode="json")["items"]:
        writer.writerow({k: "" if v is None else v for k, v in item.items()})
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _window(stmt: Select[*_Columns], column: QueryableAttribute[datetime],
            query: ReportQuery) -> Select[*_Columns]:
    if query.since is not None:
        stmt = stmt.where(column >= query.since)
    if query.until is not None:
        stmt = stmt.where(column < query.until)
    return stmt


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


@routes.get("/reports/alarms", query=ReportQuery, response=AlarmTimesReport, roles=MANAGERS,
            produces=PRODUCES)
async def alarm_times_report(request: web.Request,
                             query: ReportQuery) -> AlarmTimesReport | web.Response:
    """Mean time to acknowledge and to clear alarms, per type and severity (alarms raised
    within since / until)."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = select(Alarm.type, Alarm.severity, Alarm.raised_at, Alarm.acknowledged_at,
                  Alarm.cleared_at).where(scope.where(Alarm.site_id))
    if query.site_id is not None:
        stmt = stmt.where(Alarm.site_id == query.site_id)
    stmt = _window(stmt, Alarm.raised_at, query)
    groups: dict[tuple[str, str], list[tuple[datetime, datetime | None, datetime | None]]]
    groups = defaultdict(list)
    async with reading(request) as session:
        for type_, severity, raised, acked, cleared in await session.execute(stmt):
            groups[(type_, severity)].append((raised, acked, cleared))
    items = []
    for (type_, severity), rows in sorted(groups.items()):
        ack = [(a - r).total_seconds() for r, a, _ in rows if a is not None]
        clear = [(c - r).total_seconds() for r, _, c in rows if c is not None]
        items.append(AlarmTimesRow(type=type_, severity=severity, alarms=len(rows),
                                   acknowledged=len(ack), mean_ack_s=_mean(ack),
                                   cleared=len(clear), mean_clear_s=_mean(clear)))
    return _answer(request, query, AlarmTimesReport(items=items), "alarm-times")


@routes.get("/reports/faults", query=FaultReportQuery, response=FaultReport, roles=MANAGERS,
            produces=PRODUCES)
async def fault_report(request: web.Request, query: FaultReportQuery) -> FaultReport | web.Response:
    """Faults raised per device (`by=device`) or per device model (`by=model`)."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = (select(Device.id, Device.site_id, Device.edge, Device.name, Device.model,
                   Device.device_type, func.count(DeviceFault.id),
                   func.count(DeviceFault.id).filter(DeviceFault.cleared_at.is_(None)))
            .join(DeviceFault, DeviceFault.device_id == Device.id)
            .where(scope.where(Device.site_id))
            .group_by(Device.id, Device.site_id, Device.edge, Device.name, Device.model,
                      Device.device_type))
    if query.site_id is not None:
        stmt = stmt.where(Device.site_id == query.site_id)
    stmt = _window(stmt, DeviceFault.raised_at, query)
    async with reading(request) as session:
        rows = (await session.execute(stmt)).all()
    if query.by == "device":
        items = [FaultRow(site_id=site, model=model, device_type=kind, device_id=device_id,
                          device=name, edge=edge, devices=1, faults=n, open_faults=open_)
                 for device_id, site, edge, name, model, kind, n, open_ in rows]
        items.sort(key=lambda r: (-r.faults, r.site_id, r.edge or "", r.device or ""))
    else:
        models: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for _, site, _, _, model, kind, n, open_ in rows:
            totals = models[(site, model, kind)]
            totals[0] += 1
            totals[1] += n
            totals[2] += open_
        items = [FaultRow(site_id=site, model=model, device_type=kind, device_id=None,
                          device=None, edge=None, devices=d, faults=n, open_faults=o)
                 for (site, model, kind), (d, n, o) in models.items()]
        items.sort(key=lambda r: (-r.faults, r.site_id, r.model))
    return _answer(request, query, FaultReport(items=items), f"faults-by-{query.by}")


@routes.get("/reports/denied", query=ReportQuery, response=DeniedReport, roles=MANAGERS,
            produces=PRODUCES)
async def denied_report(request: web.Request, query: ReportQuery) -> DeniedReport | web.Response:
    """Refused attempts per door, most refused first, with the most common reason."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    denied = AccessEvent.result == "denied"
    per_reason = (select(AccessEvent.site_id, AccessEvent.door, AccessEvent.reason, func.count(),
                         func.max(AccessEvent.ts))
                  .where(denied, scope.where(AccessEvent.site_id))
                  .group_by(AccessEvent.site_id, AccessEvent.door, AccessEvent.reason))
    per_door = (select(AccessEvent.site_id, AccessEvent.door,
                       func.count(func.distinct(AccessEvent.credential)))
                .where(denied, scope.where(AccessEvent.site_id))
                .group_by(AccessEvent.site_id, AccessEvent.door))
    if query.site_id is not None:
        per_reason = per_reason.where(AccessEvent.site_id == query.site_id)
        per_door = per_door.where(AccessEvent.site_id == query.site_id)
    per_reason = _window(per_reason, AccessEvent.ts, query)
    per_door = _window(per_door, AccessEvent.ts, query)
    async with reading(request) as session:
        rows = (await session.execute(per_reason)).all()
        credentials = {(s, d): n for s, d, n in await session.execute(per_door)}
    doors: dict[tuple[str, str], dict[str, Any]] = {}
    reasons: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for site, door, reason, n, last in rows:
        entry = doors.setdefault((site, door), {"denied": 0, "last_at": last,
                                                "credentials": credentials[(site, door)]})
        entry["denied"] += n
        entry["last_at"] = max(entry["last_at"], last)
        reasons[(site, door)][reason] += n
    items = [DeniedRow(site_id=site, door=door, top_reason=reasons[(site, door)].most_common(1)[0][0],
                       **entry) for (site, door), entry in doors.items()]
    items.sort(key=lambda r: (-r.denied, r.site_id, r.door))
    return _answer(request, query, DeniedReport(items=items), "denied-per-door")
