"""The meter pages: the property office's monthly readings per unit (with the billing CSV) and
a resident's own consumption, month by month. Both read hub.meters' service, as the API does;
hub.console.views places them in the menus."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.api.core.keys import COMPANY_SITES
from hub.api.core.scope import scope_for
from hub.api.core.store import reading
from hub.meters.consumption import monthly, recent_months
from hub.models import Building, Resident, ResidentAccount, Site, Unit, User

RESIDENT_MONTHS = 6
_MONTH = re.compile(r"^20[0-9]{2}-(0[1-9]|1[0-2])$")


async def monthly_readings(request: web.Request, user: User) -> dict[str, Any]:
    """One month of the site's readings per unit (`?month=2026-11`, default this month)."""
    async with reading(request) as session:
        sites = list(await session.scalars(select(Site).order_by(Site.id)))
        scope = scope_for(user, request.get(COMPANY_SITES))
        sites = [s for s in sites if scope.sees(s.id)]
        wanted = request.query.get("site_id")
        site = next((s for s in sites if s.id == wanted), sites[0] if sites else None)
        if site is None:
            return {"site": None, "sites": [], "rows": [], "month": "", "months": []}
        months = recent_months(datetime.now(UTC), site.timezone, 12)
        month = request.query.get("month", "")
        month = month if _MONTH.match(month) else months[0]
        rows = await monthly(session, site.id, month)
    return {"site": site, "sites": sites, "rows": rows, "month": month, "months": months}


async def my_consumption(request: web.Request, user: User) -> dict[str, Any]:
    """The resident's own unit only: its consumption in each of the last months."""
    async with reading(request) as session:
        link = await session.get(ResidentAccount, user.id)
        resident = None if link is None else await session.get(Resident, link.resident_id)
        unit = (await session.get(Unit, resident.unit_id)
                if resident is not None and resident.unit_id else None)
        if resident is None or unit is None:
            return {"unit": None, "building": None, "months": []}
        building = await session.get(Building, unit.building_id)
        site = await session.get(Site, resident.site_id)
        zone = site.timezone if site is not None else "UTC"
        months = []
        for month in recent_months(datetime.now(UTC), zone, RESIDENT_MONTHS):
            months.append((month, await monthly(session, resident.site_id, month,
                                                unit_id=unit.id)))
    return {"unit": unit, "building": building, "months": months}
