"""Readings from the edges' telemetry: the register of each registered meter, kept once.

A reading is never silently taken: one below the meter's previous reading is kept as
`reverse`, one rising faster than a home can use (MAX_RATE per hour) as `impossible`; both are
shown to the property office and left out of consumption."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.bulk import insert_ignore
from hub.meters.leaks import check_night
from hub.meters.models import Meter, MeterReading
from wire.events import TelemetryEvent

# the kinds of meter a device type's telemetry may be (a water meter's: cold or hot water)
METER_TYPES = {"electricity_meter": ("electricity",), "water_meter": ("water", "hot_water")}
WATER_KINDS = METER_TYPES["water_meter"]
# the reading that is the meter's register (what billing subtracts), by kind
REGISTER = {"electricity": ("energy_kwh", "kWh"), "water": ("volume_m3", "m³"),
            "hot_water": ("volume_m3", "m³")}
# the most a household meter can advance in an hour, in thousandths (100 kW; 10 m³/h, well
# above a DN20 meter's 5 m³/h overload flow); a faster rise is a misread or a swapped meter
MAX_RATE = {"electricity": 100_000, "water": 10_000, "hot_water": 10_000}


def judge(kind: str, milli: int, ts: datetime, previous: tuple[int, datetime] | None) -> str:
    """`ok`, `reverse` (below the previous good reading) or `impossible` (too fast a rise)."""
    if previous is None:
        return "ok"
    last, at = previous
    if milli < last:
        return "reverse"
    hours = max((ts - at).total_seconds() / 3600, 1.0)
    return "impossible" if milli - last > MAX_RATE[kind] * hours else "ok"


async def record_meter_readings(session: AsyncSession, events: Sequence[TelemetryEvent]) -> int:
    """Keep the register reading of every event from a registered meter (idempotent by event
    id); a reading below the meter's previous one is kept as `reverse`, one too fast as
    `impossible`; a `billing` reading (the edge's 00:00 read) is marked. Returns how many
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
    last: dict[int, tuple[int, datetime] | None] = {}
    for event in sorted(wanted, key=lambda e: e.ts):
        meter = meters.get((event.site, event.edge, event.device))
        if meter is None or meter.kind not in METER_TYPES[event.data.device_type]:
            continue
        name = REGISTER[meter.kind][0]
        found = next((r for r in event.data.readings if r.name == name), None)
        if found is None or isinstance(found.value, bool | str):
            continue
        value = int(Decimal(repr(found.value)).scaleb(3).to_integral_value())
        if meter.id not in last:
            previous = (await session.execute(
                select(MeterReading.milli, MeterReading.ts)
                .where(MeterReading.meter_id == meter.id, MeterReading.status == "ok",
                       MeterReading.ts < event.ts)
                .order_by(MeterReading.ts.desc()).limit(1))).first()
            last[meter.id] = None if previous is None else (previous[0], previous[1])
        status = judge(meter.kind, value, event.ts, last[meter.id])
        if status == "ok":
            last[meter.id] = (value, event.ts)
        billing = any(r.name == "billing" and r.value is True for r in event.data.readings)
        rows.append({"event_id": event.id, "meter_id": meter.id, "ts": event.ts,
                     "milli": value, "status": status, "billing": billing})
    table = MeterReading.__table__
    assert isinstance(table, Table)
    new = await insert_ignore(session, table, rows, key="event_id", returning=True)
    by_id = {m.id: m for m in meters.values()}
    for row in rows:
        meter = by_id[row["meter_id"]]
        # hot water running all night is a leak too (a dripping tap, a burst pipe after the meter)
        if row["event_id"] in new and meter.kind in WATER_KINDS and row["status"] == "ok":
            await check_night(session, meter, row["ts"])
    return len(new)
