"""The equipment ledger: a device's install date, maintenance cycle and next due date.

Dates are the site's local dates (an elevator is due on the 15th in Shanghai, not in UTC).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Site
from hub.workorders.models import EquipmentRecord, WorkOrder

log = logging.getLogger(__name__)


def site_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown site time zone %r; using UTC", name)
        return ZoneInfo("UTC")


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after `day` in the zone: a preventive order is due by then."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)


async def maintained(session: AsyncSession, order: WorkOrder, now: datetime) -> None:
    """A preventive order was resolved: the device was maintained today, and is next due one
    cycle later. A due date a manager changed meanwhile is left as they set it."""
    if order.device_id is None:
        return
    record = await session.get(EquipmentRecord, order.device_id)
    if record is None:
        return
    site = await session.get(Site, order.site_id)
    today = local_date(now, site_zone(site.timezone if site else None))
    record.last_maintained_on = today
    record.updated_at = now
    if record.cycle_days and record.next_due_on == order.pm_due_on:
        record.next_due_on = today + timedelta(days=record.cycle_days)


__all__ = ["end_of_day", "local_date", "maintained", "site_zone"]
