"""Units as people name them ("B1 101"), so that a list can show its rows' units without the
site's thousands of units beside it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Building, Unit


async def unit_labels(session: AsyncSession, unit_ids: Iterable[int | None]) -> dict[int, str]:
    """Each named unit's building code and number, in one query."""
    wanted = {u for u in unit_ids if u is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Unit.id, Building.code, Unit.number).join(Building, Building.id == Unit.building_id)
        .where(Unit.id.in_(wanted)))
    return {unit_id: f"{code} {number}" for unit_id, code, number in rows}


__all__ = ["unit_labels"]
