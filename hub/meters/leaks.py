"""The night-leak check: water that flows through a unit's meter in every hour of the night
(01:00-05:00, the site's local time) is almost never use, it is a running cistern or a leak.
The unit is told by a notice (zh/en, valid a day), once per meter and night; when it lasts (a
second night running) a plumbing work order is opened for the meter as a device fault."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import HubError
from hub.meters.models import Meter, MeterReading
from hub.models import Device, Site
from hub.rules.models import Notice
from hub.workorders.service import open_fault_order

log = logging.getLogger(__name__)

NIGHT_FROM, NIGHT_TO = 1, 5  # local hours
SOURCE = "rule:night_leak"


async def check_night(session: AsyncSession, meter: Meter, ts: datetime) -> Notice | None:
    """After a water reading at `ts`: if it closes a night (taken 05:00-06:00 local) in which
    every hour's readings rose, post the unit's notice (unless already posted for that night)."""
    site = await session.get(Site, meter.site_id)
    zone = ZoneInfo(site.timezone if site is not None else "UTC")
    local = ts.astimezone(zone)
    if local.hour != NIGHT_TO:
        return None
    night = local.replace(hour=NIGHT_FROM, minute=0, second=0, microsecond=0).astimezone(UTC)
    rows = list(await session.execute(
        select(MeterReading.ts, MeterReading.milli)
        .where(MeterReading.meter_id == meter.id, MeterReading.status == "ok",
               MeterReading.ts >= night - timedelta(hours=1), MeterReading.ts <= ts)
        .order_by(MeterReading.ts)))
    # the last reading of each hour from 00:00 to 05:00: five hourly steps must all rise
    last_of_hour: dict[int, int] = {}
    for at, milli in rows:
        last_of_hour[at.astimezone(zone).hour] = milli
    hours = list(range(NIGHT_FROM - 1, NIGHT_TO + 1))
    if any(h not in last_of_hour for h in hours):
        return None  # a missing hour is no evidence either way
    steps = [last_of_hour[b] - last_of_hour[a] for a, b in pairwise(hours)]
    if min(steps) <= 0:
        return None
    posted = await session.scalar(select(Notice.id).where(
        Notice.source == SOURCE, Notice.unit_id == meter.unit_id,
        Notice.valid_from >= night))
    if posted is not None:
        return None
    litres = (last_of_hour[NIGHT_TO] - last_of_hour[NIGHT_FROM - 1])  # milli-m³ = litres
    params = {"meter": meter.number, "litres": litres}
    notice = Notice(site_id=meter.site_id, unit_id=meter.unit_id,
                    title=f"Water kept running all night: meter {meter.number}",
                    body=f"Water flowed through meter {meter.number} every hour from 01:00 to "
                         f"05:00 ({litres} L).",
                    valid_from=ts, valid_until=ts + timedelta(days=1),
                    text_code="notice.night_leak", text_params=params, source=SOURCE,
                    created_by="meters")
    session.add(notice)
    lasting = await session.scalar(select(Notice.id).where(
        Notice.source == SOURCE, Notice.unit_id == meter.unit_id,
        Notice.valid_from >= night - timedelta(days=1), Notice.valid_from < night))
    if lasting is not None:
        await _work_order(session, meter, ts)
    return notice


async def _work_order(session: AsyncSession, meter: Meter, ts: datetime) -> None:
    device_id = await session.scalar(select(Device.id).where(
        Device.site_id == meter.site_id, Device.edge == meter.edge, Device.name == meter.device))
    if device_id is None:
        log.warning("night leak at meter %s lasts, but its device is unknown: no work order",
                    meter.number)
        return
    params = {"meter": meter.number}
    try:
        await open_fault_order(
            session, site_id=meter.site_id, device_id=device_id, fault_code="NIGHT_LEAK",
            skill="plumbing", priority="high", now=ts, source=SOURCE,
            title=f"Water running every night: meter {meter.number}",
            title_code="wo_title.night_leak", title_params=params)
    except HubError as exc:  # the notice stands; the order is for a person to open
        log.warning("night-leak work order for meter %s not opened: %s", meter.number, exc)
