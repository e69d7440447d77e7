"""The `homesec` events at ingest: each unit panel's arm state kept as the edge reports it
(newest edge time wins), and what the unit's own phone page is told at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hub.homesec.models import SecurityPanel
from hub.live import LiveItem
from hub.models import Household, Unit

_PHASE = {"exit_delay": "exit_delay", "armed": "armed", "disarmed": "disarmed",
          "entry_delay": "entry_delay"}


async def record_homesec_events(session: AsyncSession, rows: Sequence[dict[str, Any]]
                                ) -> list[LiveItem]:
    """Update the panels these events come from; the pushes for their units' households
    (arm state and alarms, never a silent one) and for the control room (arm state)."""
    if not rows:
        return []
    keys = {(r["site_id"], r["edge"], r["device"]) for r in rows}
    found = (await session.execute(
        select(SecurityPanel, Unit, Household.id)
        .join(Unit, Unit.id == SecurityPanel.unit_id)
        .join(Household, Household.unit_id == Unit.id, isouter=True)
        .where(tuple_(SecurityPanel.site_id, SecurityPanel.edge, SecurityPanel.device)
               .in_(list(keys))))).all()
    panels = {(p.site_id, p.edge, p.device): (p, unit, household) for p, unit, household in found}
    items = []
    for row in sorted(rows, key=lambda r: r["ts"]):
        known = panels.get((row["site_id"], row["edge"], row["device"]))
        if known is None:
            continue  # a panel not (yet) tied to a unit: its alarms still reach the guards
        panel, unit, household = known
        data = row["data"]
        changes = data["event"] in _PHASE or (data["event"] == "alarm"
                                              and data.get("alarm") == "intrusion")
        if changes and (panel.mode_at is None or row["ts"] >= panel.mode_at):
            panel.mode, panel.mode_at = data["mode"], row["ts"]
            panel.phase = _PHASE.get(data["event"], "alarm")
            if data.get("by"):
                panel.mode_by = data["by"]
        if data.get("silent") or household is None:
            continue  # a panic: the unit's page shows nothing (and no household, no page)
        items.append(LiveItem("homesec", {
            "panel_id": panel.id, "unit_id": unit.id, "unit": unit.number, "ts": row["ts"].isoformat(),
            "event": data["event"], "mode": panel.mode, "phase": panel.phase,
            "alarm": data.get("alarm"), "zone": data.get("zone"), "zone_en": data.get("zone_en"),
            "zone_zh": data.get("zone_zh"), "delay_s": data.get("delay_s"),
            "open_zones": data.get("open_zones") or []},
            site_id=panel.site_id, building_id=unit.building_id, household_id=household))
    return items


__all__ = ["record_homesec_events"]
