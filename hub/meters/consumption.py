"""Each unit's consumption in one month, for the property company's billing.

A meter's part of a month is its last good reading before the month's end minus its last good
reading before the month began (or, for a meter installed during the month, its first reading);
a unit's consumption adds its meters' parts, so a meter replaced mid-month keeps the month
continuous (the old meter's final reading, the new meter's first). Months are the site's local
calendar months. A meter with no good reading in the month is listed as missing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.meters.models import Meter, MeterReading
from hub.meters.readings import REGISTER
from hub.models import Building, Site, Unit


@dataclass
class UnitMonth:
    building: str
    unit: str
    kind: str
    meters: list[str] = field(default_factory=list)
    start: Decimal | None = None  # the first meter's opening reading
    end: Decimal | None = None  # the last meter's closing reading
    consumption: Decimal = Decimal("0")
    missing: list[str] = field(default_factory=list)  # meters with no reading in the month


def from_milli(milli: int) -> Decimal:
    return Decimal(milli).scaleb(-3)


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """'2026-11' in the site's zone -> its first instant and the next month's first."""
    year, mon = (int(p) for p in month.split("-"))
    zone = ZoneInfo(timezone)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    return start, end


async def monthly(session: AsyncSession, site_id: str, month: str,
                  kind: str | None = None) -> list[UnitMonth]:
    site = await session.get(Site, site_id)
    assert site is not None
    start, end = month_bounds(month, site.timezone)
    stmt = (select(Meter, Unit.number, Building.code)
            .join(Unit, Unit.id == Meter.unit_id).join(Building, Building.id == Unit.building_id)
            .where(Meter.site_id == site_id, Meter.installed_at < end,
                   (Meter.removed_at.is_(None)) | (Meter.removed_at >= start))
            .order_by(Building.code, Unit.number, Meter.kind, Meter.installed_at))
    if kind is not None:
        stmt = stmt.where(Meter.kind == kind)
    out: dict[tuple[int, str], UnitMonth] = {}
    for meter, unit_number, building in (await session.execute(stmt)).all():
        row = out.setdefault((meter.unit_id, meter.kind),
                             UnitMonth(building=building, unit=unit_number, kind=meter.kind))
        row.meters.append(meter.number)
        good = (MeterReading.meter_id == meter.id, MeterReading.status == "ok")
        opening = await session.scalar(select(MeterReading.milli).where(
            *good, MeterReading.ts < start).order_by(MeterReading.ts.desc()).limit(1))
        in_month = list(await session.scalars(select(MeterReading.milli).where(
            *good, MeterReading.ts >= start, MeterReading.ts < end).order_by(MeterReading.ts)))
        if not in_month:
            row.missing.append(meter.number)
            continue
        first = from_milli(opening if opening is not None else in_month[0])
        last = from_milli(in_month[-1])
        if row.start is None:
            row.start = first
        row.end = last
        row.consumption += last - first
    return list(out.values())


def to_csv(rows: list[UnitMonth], month: str) -> str:
    """The billing export: one line per unit and kind; a reader's spreadsheet opens it (BOM)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["month", "building", "unit", "kind", "meters", "start_reading",
                     "end_reading", "consumption", "measure", "missing_meters"])
    for r in rows:
        writer.writerow([month, r.building, r.unit, r.kind, " ".join(r.meters),
                         "" if r.start is None else r.start, "" if r.end is None else r.end,
                         r.consumption, REGISTER[r.kind][1], " ".join(r.missing)])
    return "\ufeff" + buf.getvalue()
