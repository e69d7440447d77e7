"""What an edge needs of each unit alarm panel it polls (compiled into its configuration)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.homesec.models import SecurityPanel
from hub.models import Unit
from wire.homesec import ArmSchedule, PanelSettings


async def panel_settings(session: AsyncSession, device_ids: list[int]
                         ) -> dict[int, PanelSettings]:
    """What the edge needs of each panel among `device_ids` (by device id)."""
    if not device_ids:
        return {}
    rows = (await session.execute(
        select(SecurityPanel, Unit).join(Unit, Unit.id == SecurityPanel.unit_id)
        .where(SecurityPanel.device_id.in_(device_ids)))).all()
    return {p.device_id: PanelSettings(
        unit=u.number, floor=u.floor, exit_delay_s=p.exit_delay_s,
        entry_delay_s=p.entry_delay_s, camera=p.camera,
        schedule=[ArmSchedule.model_validate(s) for s in p.schedule or []]) for p, u in rows}


__all__ = ["panel_settings"]
