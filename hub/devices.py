"""Device registry and state kept from `device` and `telemetry` events, in the ingest's
transaction, for events stored for the first time only (so a redelivery changes nothing).

Events are applied in edge time order; state that a newer event already set is not
overwritten by an older one (status, counters, each reading), so events that hub workers
receive out of order still leave the latest state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Device, DeviceFault, utcnow
from hub.telemetry import (
    SqlTelemetrySink,
    TelemetryPoint,
    TelemetrySink,
    TelemetryWriteError,
    as_value,
)
from wire.events import DeviceEvent, TelemetryEvent

log = logging.getLogger(__name__)

DeviceKey = tuple[str, str, str]  # site, edge, device
LIFE_SAFETY_CODE = "life_safety"
_TABLE = cast(Table, Device.__table__)


def reading_problem(event: TelemetryEvent) -> str | None:
    """Why a telemetry event cannot be stored (a value no sink can hold), or None."""
    for i, reading in enumerate(event.data.readings):
        if isinstance(reading.value, str | bool):
            continue
        try:
            finite = math.isfinite(float(reading.value))
        except OverflowError:
            finite = False
        if not finite:
            return f"data.readings.{i}.value: {reading.value!r} is not a finite number"
    return None


def telemetry_points(event: TelemetryEvent) -> list[TelemetryPoint]:
    return [
        TelemetryPoint(site=event.site, edge=event.edge, device=event.device, name=r.name,
                       ts=event.ts, value=as_value(r.value), unit=r.unit)
        for r in event.data.readings
    ]


async def apply_device_events(session: AsyncSession,
                              events: Sequence[DeviceEvent | TelemetryEvent],
                              sink: TelemetrySink | None) -> None:
    """Register unknown devices, update state and faults, store telemetry (`sink` None: the
    SQL table, in this transaction)."""
    if not events:
        return
    ordered = sorted(events, key=lambda e: (e.ts, e.seq))
    devices = await _register_and_lock(session, ordered)
    faults = await _open_faults(session, [d.id for d in devices.values()])
    points: list[TelemetryPoint] = []
    for event in ordered:
        device = devices[(event.site, event.edge, event.device)]
        _touch(device, event)
        if isinstance(event, TelemetryEvent):
            _apply_readings(device, event)
            points.extend(telemetry_points(event))
        else:
            _apply_device(session, device, event, faults)
    if sink is None or isinstance(sink, SqlTelemetrySink):
        await SqlTelemetrySink.write_in(session, points)
        return
    try:
        await sink.write(points)
    except TelemetryWriteError as exc:
        # Neither lose the readings nor stall the whole ingest while the sink is away.
        log.warning("%s; %d telemetry points kept in the SQL table instead", exc, len(points))
        await SqlTelemetrySink.write_in(session, points)


async def _register_and_lock(session: AsyncSession,
                             ordered: Sequence[DeviceEvent | TelemetryEvent]
                             ) -> dict[DeviceKey, Device]:
    latest: dict[DeviceKey, DeviceEvent | TelemetryEvent] = {}
    for event in ordered:
        latest[(event.site, event.edge, event.device)] = event
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert(_TABLE) if dialect == "postgresql" else sqlite.insert(_TABLE))
    now = utcnow()
    await session.execute(
        stmt.on_conflict_do_nothing(index_elements=["site_id", "edge", "name"]),
        [{"site_id": k[0], "edge": k[1], "name": k[2], "device_type": e.data.device_type,
          "model": e.data.model, "status": "unknown", "created_at": now}
         for k, e in latest.items()],
    )
    # Row locks (PostgreSQL) serialise hub workers updating the same devices; id order
    # avoids deadlocks. SQLite serialises writers anyway.
    found = await session.scalars(
        select(Device)
        .where(tuple_(Device.site_id, Device.edge, Device.name).in_(list(latest)))
        .order_by(Device.id)
        .with_for_update()
    )
    devices = {(d.site_id, d.edge, d.name): d for d in found}
    for key, event in latest.items():
        devices[key].device_type = event.data.device_type
        devices[key].model = event.data.model
    return devices


async def _open_faults(session: AsyncSession,
                       device_ids: list[int]) -> dict[tuple[int, str], DeviceFault]:
    found = await session.scalars(
        select(DeviceFault)
        .where(DeviceFault.device_id.in_(device_ids), DeviceFault.cleared_at.is_(None))
    )
    return {(f.device_id, f.code): f for f in found}


def _newer(ts: datetime, than: datetime | None) -> bool:
    return than is None or ts >= than


def _touch(device: Device, event: DeviceEvent | TelemetryEvent) -> None:
    if device.last_seen is None or event.ts > device.last_seen:
        device.last_seen = event.ts


def _set_status(device: Device, status: str, ts: datetime) -> None:
    if _newer(ts, device.status_at):
        device.status, device.status_at = status, ts


def _apply_readings(device: Device, event: TelemetryEvent) -> None:
    _set_status(device, "online", event.ts)  # it answered, so it is online
    snapshot: dict[str, Any] = dict(device.telemetry or {})
    for reading in event.data.readings:
        held = snapshot.get(reading.name)
        if held is None or _newer(event.ts, datetime.fromisoformat(held["ts"])):
            snapshot[reading.name] = {"value": reading.value, "unit": reading.unit,
                                      "ts": event.ts.isoformat()}
    device.telemetry = snapshot  # a new object, so the ORM sees the change


def _apply_device(session: AsyncSession, device: Device, event: DeviceEvent,
                  faults: dict[tuple[int, str], DeviceFault]) -> None:
    data = event.data
    if data.counters is not None and _newer(event.ts, device.counters_at):
        device.counters, device.counters_at = dict(data.counters), event.ts
    if data.event in ("online", "offline"):
        _set_status(device, data.event, event.ts)
    elif data.event in ("fault_raised", "life_safety"):
        _raise(session, device, event, faults)
    elif data.event in ("fault_cleared", "life_safety_reset"):
        code = data.code if data.event == "fault_cleared" else (data.code or LIFE_SAFETY_CODE)
        fault = faults.pop((device.id, cast(str, code)), None)
        if fault is None:
            log.info("device %s/%s/%s: %s for %s, which is not open", event.site, event.edge,
                     event.device, data.event, code)
        else:
            fault.cleared_at = max(event.ts, fault.raised_at)


def _raise(session: AsyncSession, device: Device, event: DeviceEvent,
           faults: dict[tuple[int, str], DeviceFault]) -> None:
    data = event.data
    life_safety = data.event == "life_safety"
    code = cast(str, data.code or (LIFE_SAFETY_CODE if life_safety else None))
    values = {
        "text": data.text or (data.detail if life_safety else None),
        "text_zh": data.text_zh,
        "severity": data.severity or ("critical" if life_safety else None),
        "skill": data.skill,
        "detail": data.detail,
    }
    fault = faults.get((device.id, code))
    if fault is None:
        fault = DeviceFault(device_id=device.id, code=code, raised_at=event.ts,
                            last_raised_at=event.ts, raise_count=1, **values)
        session.add(fault)
        faults[(device.id, code)] = fault
        return
    # raised again while open: the newest description wins, the first raise time stays
    fault.raise_count += 1
    if _newer(event.ts, fault.last_raised_at):
        fault.last_raised_at = event.ts
        for key, value in values.items():
            setattr(fault, key, value)


__all__ = ["apply_device_events", "reading_problem", "telemetry_points"]
