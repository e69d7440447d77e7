"""Building devices: registry, current state, faults and recent telemetry.

A device's shown status is derived, not stored twice: while its edge is offline the hub
cannot know, so the device shows `unknown` and `stale`, whatever the edge said last.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import and_, case, func, select

from hub.api.core.auth import STAFF_ROLES
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ApiError, NotFoundError
from hub.api.core.keys import SESSIONS
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.api.devices.schemas import (
    DeviceDetail,
    DeviceInstallation,
    DeviceList,
    DeviceOut,
    DeviceQuery,
    FaultList,
    FaultOut,
    FaultQuery,
    ReadingOut,
    TelemetryPage,
    TelemetryPointOut,
    TelemetryQuery,
)
from hub.models import Device, DeviceFault, Edge
from hub.telemetry import DeviceRef, SqlTelemetrySink, TelemetryQueryUnsupported, TelemetrySink

routes = EndpointTable(tag="devices")
TELEMETRY_SINK = web.AppKey("telemetry_sink", TelemetrySink)


class NotQueryableError(ApiError):
    status = 501
    code = "not_implemented"


def telemetry_sink(app: web.Application) -> TelemetrySink:
    """The sink given to create_app, or the SQL tables of the API's own database."""
    sink = app.get(TELEMETRY_SINK)
    return sink if sink is not None else SqlTelemetrySink(app[SESSIONS])


_SHOWN = case((Edge.status == "offline", "unknown"), else_=Device.status)
_OPEN = (
    select(DeviceFault.device_id, func.count().label("n"))
    .where(DeviceFault.cleared_at.is_(None))
    .group_by(DeviceFault.device_id)
    .subquery()
)


def _devices() -> Any:  # a Select; its type parameters differ between SQLAlchemy 2.0 and 2.1
    return (
        select(Device, Edge.status, func.coalesce(_OPEN.c.n, 0))
        .outerjoin(Edge, and_(Edge.site_id == Device.site_id, Edge.name == Device.edge))
        .outerjoin(_OPEN, _OPEN.c.device_id == Device.id)
    )


def _out(device: Device, edge_status: str | None, open_faults: int) -> dict[str, Any]:
    stale = edge_status == "offline"
    return {
        "id": device.id, "site": device.site_id, "edge": device.edge, "name": device.name,
        "device_type": device.device_type, "model": device.model,
        "status": "unknown" if stale else device.status, "reported_status": device.status,
        "stale": stale, "edge_status": edge_status, "last_seen": device.last_seen,
        "open_faults": int(open_faults),
        "installation": (DeviceInstallation.model_validate(device)
                         if device.edge_id is not None else None),
    }


def _fault(f: DeviceFault) -> FaultOut:
    return FaultOut(
        id=f.id, code=f.code, text=f.text, text_zh=f.text_zh,
        severity=f.severity,
        skill=f.skill, detail=f.detail, raised_at=f.raised_at, last_raised_at=f.last_raised_at,
        raise_count=f.raise_count, cleared_at=f.cleared_at, open=f.cleared_at is None,
    )


async def _device(request: web.Request) -> Device:
    device_id = path_id(request, "device")
    async with reading(request) as session:
        device = await session.get(Device, device_id)
    if device is None:
        raise NotFoundError("device", device_id)
    scope_of(request).check("device", device_id, device.site_id)
    return device


@routes.get("/devices", query=DeviceQuery, response=DeviceList, roles=STAFF_ROLES)
async def list_devices(request: web.Request, query: DeviceQuery) -> DeviceList:
    """List the devices of your scope with status, last seen and open fault count."""
    scope = scope_of(request)
    scope.claim_site(query.site)
    stmt = _devices().where(scope.where(Device.site_id)).order_by(
        Device.site_id, Device.edge, Device.name)
    for column, value in ((Device.site_id, query.site), (Device.edge, query.edge),
                          (Device.device_type, query.type), (_SHOWN, query.status)):
        if value is not None:
            stmt = stmt.where(column == value)
    async with reading(request) as session:
        rows = (await session.execute(stmt)).all()
    return DeviceList(items=[DeviceOut(**_out(d, edge, n)) for d, edge, n in rows])


@routes.get(r"/devices/{id:\d+}", response=DeviceDetail, roles=STAFF_ROLES)
async def get_device(request: web.Request) -> DeviceDetail:
    """A device's current state: latest readings, error counters and open faults."""
    device_id = path_id(request, "device")
    async with reading(request) as session:
        row = (await session.execute(_devices().where(Device.id == device_id))).first()
        if row is None:
            raise NotFoundError("device", device_id)
        scope_of(request).check("device", device_id, row[0].site_id)
        faults = list(await session.scalars(
            select(DeviceFault)
            .where(DeviceFault.device_id == device_id, DeviceFault.cleared_at.is_(None))
            .order_by(DeviceFault.raised_at.desc(), DeviceFault.id.desc())))
    device, edge_status, open_faults = row
    readings = [ReadingOut(name=name, value=r["value"], unit=r["unit"], ts=r["ts"])
                for name, r in sorted((device.telemetry or {}).items())]
    return DeviceDetail(**_out(device, edge_status, open_faults), counters=device.counters,
                        counters_at=device.counters_at, readings=readings,
                        faults=[_fault(f) for f in faults])


@routes.get(r"/devices/{id:\d+}/telemetry", query=TelemetryQuery, response=TelemetryPage,
            roles=STAFF_ROLES)
async def get_device_telemetry(request: web.Request, query: TelemetryQuery) -> TelemetryPage:
    """A device's recent telemetry, newest first (501 when the sink cannot be queried)."""
    device = await _device(request)
    ref = DeviceRef(site=device.site_id, edge=device.edge, device=device.name)
    try:
        points = await telemetry_sink(request.app).query(
            ref, query.since, query.until, query.limit, name=query.name)
    except TelemetryQueryUnsupported as exc:
        raise NotQueryableError(str(exc)) from exc
    return TelemetryPage(device=device.id, items=[
        TelemetryPointOut(name=p.name, ts=p.ts, value=p.value, unit=p.unit) for p in points])


@routes.get(r"/devices/{id:\d+}/faults", query=FaultQuery, response=FaultList,
            roles=STAFF_ROLES)
async def list_device_faults(request: web.Request, query: FaultQuery) -> FaultList:
    """A device's faults, newest first; `open=true` for the open ones only."""
    device = await _device(request)
    stmt = select(DeviceFault).where(DeviceFault.device_id == device.id)
    if query.open is not None:
        stmt = stmt.where(DeviceFault.cleared_at.is_(None) if query.open
                          else DeviceFault.cleared_at.is_not(None))
    stmt = stmt.order_by(DeviceFault.raised_at.desc(), DeviceFault.id.desc()).limit(query.limit)
    async with reading(request) as session:
        faults = list(await session.scalars(stmt))
    return FaultList(items=[_fault(f) for f in faults])
