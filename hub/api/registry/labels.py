"""Units (and their households) as people name them ("B1 101"), so that a list can show its
rows' units without the site's thousands of units beside it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Building, Household, Unit


async def unit_labels(session: AsyncSession, unit_ids: Iterable[int | None]) -> dict[int, str]:
    """Each named unit's building code and number, in one query."""
    wanted = {u for u in unit_ids if u is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Unit.id, Building.code, Unit.number).join(Building, Building.id == Unit.building_id)
        .where(Unit.id.in_(wanted)))
    return {unit_id: f"{code} {number}" for unit_id, code, number in rows}


async def household_labels(session: AsyncSession,
                           household_ids: Iterable[int | None]) -> dict[int, str]:
    """Each named household as people name it: its unit's building code and number."""
    wanted = {h for h in household_ids if h is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Household.id, Building.code, Unit.number)
        .join(Unit, Unit.id == Household.unit_id).join(Building, Building.id == Unit.building_id)
        .where(Household.id.in_(wanted)))
    return {household_id: f"{code} {number}" for household_id, code, number in rows}


__all__ = ["household_labels", "unit_labels"]
