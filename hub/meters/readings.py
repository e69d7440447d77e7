"""Readings from the edges' telemetry: the register of each registered meter, kept once."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.bulk import insert_ignore
from hub.meters.leaks import check_night
from hub.meters.models import Meter, MeterReading
from wire.events import TelemetryEvent

METER_TYPES = {"electricity_meter": "electricity", "water_meter": "water"}
# the reading that is the meter's register (what billing subtracts), by kind
REGISTER = {"electricity": ("energy_kwh", "kWh"), "water": ("volume_m3", "m³")}


async def record_meter_readings(session: AsyncSession, events: Sequence[TelemetryEvent]) -> int:
    """Keep the register reading of every event from a registered meter (idempotent by event
    id); a reading below the meter's previous one is kept as `reverse`. Returns how many
    readings were new. Events from devices not registered as meters are left to telemetry."""
    wanted = [e for e in events if e.data.device_type in METER_TYPES]
    if not wanted:
        return 0
    keys = {(e.site, e.edge, e.device) for e in wanted}
    meters = {(m.site_id, m.edge, m.device): m for m in await session.scalars(
        select(Meter).where(Meter.removed_at.is_(None),
                            Meter.site_id.in_({k[0] for k in keys}),
                            Meter.device.in_({k[2] for k in keys})))}
    rows: list[dict[str, Any]] = []
    last: dict[int, int] = {}
    for event in sorted(wanted, key=lambda e: e.ts):
        meter = meters.get((event.site, event.edge, event.device))
        if meter is None or meter.kind != METER_TYPES[event.data.device_type]:
            continue
        name = REGISTER[meter.kind][0]
        found = next((r for r in event.data.readings if r.name == name), None)
        if found is None or isinstance(found.value, bool | str):
            continue
        value = int(Decimal(repr(found.value)).scaleb(3).to_integral_value())
        if meter.id not in last:
            previous = await session.scalar(
                select(MeterReading.milli).where(MeterReading.meter_id == meter.id,
                                                 MeterReading.status == "ok",
                                                 MeterReading.ts < event.ts)
                .order_by(MeterReading.ts.desc()).limit(1))
            last[meter.id] = previous if previous is not None else -1
        status = "reverse" if value < last[meter.id] else "ok"
        if status == "ok":
            last[meter.id] = value
        rows.append({"event_id": event.id, "meter_id": meter.id, "ts": event.ts,
                     "milli": value, "status": status})
    table = MeterReading.__table__
    assert isinstance(table, Table)
    new = await insert_ignore(session, table, rows, key="event_id", returning=True)
    by_id = {m.id: m for m in meters.values()}
    for row in rows:
        meter = by_id[row["meter_id"]]
        if row["event_id"] in new and meter.kind == "water" and row["status"] == "ok":
            await check_night(session, meter, row["ts"])
    return len(new)
