"""Each unit's consumption in one month, for the property company's billing.

A meter's part of a month is its closing reading minus its opening reading. The edge's daily
billing reading, taken just after 00:00, closes the day before: so a month opens on the billing
reading of its first day (else the last good reading before it began, else — a meter installed
during the month — its first reading) and closes on the billing reading of the next month's
first day (else its last good reading in the month); the same reading closes one month and
opens the next, so no hour is billed twice or never.
A unit's consumption adds its meters' parts, so a meter replaced mid-month keeps the month
continuous (the old meter's final reading, the new meter's first). Months are the site's local
calendar months. A meter with no good reading in the month is listed as missing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
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


BILLING_WINDOW = timedelta(hours=2)  # as the edge's retries: later, it no longer closes the day


def from_milli(milli: int) -> Decimal:
    return Decimal(milli).scaleb(-3)


def recent_months(now: datetime, timezone: str, count: int) -> list[str]:
    """The `count` calendar months up to the one holding `now` (site time), newest first."""
    local = now.astimezone(ZoneInfo(timezone))
    year, mon = local.year, local.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{mon:02d}")
        year, mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return months


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """'2026-11' in the site's zone -> its first instant and the next month's first."""
    year, mon = (int(p) for p in month.split("-"))
    zone = ZoneInfo(timezone)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    return start, end


async def monthly(session: AsyncSession, site_id: str, month: str,
                  kind: str | None = None, unit_id: int | None = None) -> list[UnitMonth]:
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
    if unit_id is not None:
        stmt = stmt.where(Meter.unit_id == unit_id)
    out: dict[tuple[int, str], UnitMonth] = {}
    for meter, unit_number, building in (await session.execute(stmt)).all():
        row = out.setdefault((meter.unit_id, meter.kind),
                             UnitMonth(building=building, unit=unit_number, kind=meter.kind))
        row.meters.append(meter.number)
        good = (MeterReading.meter_id == meter.id, MeterReading.status == "ok")
        opening = await _billing(session, good, start)
        if opening is None:
            opening = await session.scalar(select(MeterReading.milli).where(
                *good, MeterReading.ts < start).order_by(MeterReading.ts.desc()).limit(1))
        in_month = list(await session.scalars(select(MeterReading.milli).where(
            *good, MeterReading.ts >= start, MeterReading.ts < end).order_by(MeterReading.ts)))
        closing = await _billing(session, good, end)
        if closing is None and in_month:
            closing = in_month[-1]
        if closing is None:
            row.missing.append(meter.number)
            continue
        first = from_milli(opening if opening is not None else in_month[0])
        last = from_milli(closing)
        if row.start is None:
            row.start = first
        row.end = last
        row.consumption += last - first
    return list(out.values())


async def _billing(session: AsyncSession, good: tuple[Any, ...], day: datetime) -> int | None:
    """The meter's billing reading taken at the start of `day` (within the window)."""
    return await session.scalar(select(MeterReading.milli).where(
        *good, MeterReading.billing.is_(True), MeterReading.ts >= day,
        MeterReading.ts < day + BILLING_WINDOW).order_by(MeterReading.ts).limit(1))


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
