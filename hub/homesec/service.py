"""What people see and do of home security: a resident their own unit's arm state and alarms
(never a silent one) and arming it; the control room every unit's arm state and alarms —
never a unit's zones or motion (the edge does not even send them)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.errors import NotFound
from hub.history.ddl import EDGE_CLOCK_MARGIN
from hub.homesec.models import SecurityPanel
from hub.installation.catalog import load_catalog
from hub.models import Building, Device, EdgeCommandRow, EventLog, Household, Unit
from hub.rules.models import Alarm
from wire.homesec import ArmMode, read_arm_refusal

# what a unit's own page shows; a panic (home_panic) is the guards' alone
RESIDENT_ALARMS = ("home_intrusion", "home_fire", "home_gas", "home_leak")
HOME_ALARMS = (*RESIDENT_ALARMS, "home_panic")
ACK_WAIT_S = 5.0  # the arm answer: the edge's ack usually takes well under a second


@dataclass(frozen=True)
class PanelView:
    panel: SecurityPanel
    unit: Unit
    building: Building
    status: str  # the panel device's: online / offline / unknown


async def _views(session: AsyncSession, *where: Any) -> list[PanelView]:
    rows = (await session.execute(
        select(SecurityPanel, Unit, Building, Device.status)
        .join(Unit, Unit.id == SecurityPanel.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .join(Device, Device.id == SecurityPanel.device_id)
        .where(*where).order_by(Building.code, Unit.number))).all()
    return [PanelView(p, u, b, s) for p, u, b, s in rows]


async def household_panel(session: AsyncSession, household_id: int | None) -> PanelView:
    """The alarm panel of a resident's own unit; NotFound when it has none."""
    unit_id = None if household_id is None else await session.scalar(
        select(Household.unit_id).where(Household.id == household_id))
    views = [] if unit_id is None else await _views(session, SecurityPanel.unit_id == unit_id)
    if not views:
        raise NotFound("security_panel", household_id or 0)
    return views[0]


async def site_panels(session: AsyncSession, where: Any) -> list[PanelView]:
    """Every panel the caller's scope admits (`where` on SecurityPanel.site_id)."""
    return await _views(session, where)


async def open_alarms(session: AsyncSession, panels: list[SecurityPanel],
                      types: tuple[str, ...]) -> dict[int, list[Alarm]]:
    """The open (not cleared) alarms of each panel, of `types`, newest first."""
    if not panels:
        return {}
    by_key = {(p.site_id, p.edge, p.device): p.id for p in panels}
    rows = await session.scalars(
        select(Alarm).where(Alarm.cleared_at.is_(None), Alarm.type.in_(types),
                            Alarm.device.in_({p.device for p in panels}))
        .order_by(Alarm.last_seen.desc()))
    out: dict[int, list[Alarm]] = {p.id: [] for p in panels}
    for alarm in rows:
        panel_id = by_key.get((alarm.site_id, alarm.edge or "", alarm.device or ""))
        if panel_id is not None:
            out[panel_id].append(alarm)
    return out


class ArmSender(Protocol):
    """What arming needs of hub.commands.CommandSender."""

    async def send(self, *, site: str, edge: str, command: Any, reason: str, issued_by: str,
                   device: str | None = None, arm_mode: Any = None,
                   bypass: list[int] | None = None) -> Any: ...


@dataclass(frozen=True)
class ArmAnswer:
    result: str  # ok / rejected / failed from the edge; sent: no answer in time; unsent
    reason: str  # the edge's words (English)
    command_id: str
    open_zones: list[tuple[int, str, str]]  # refused for these: (zone, English, Chinese)
    code: str = "other"  # the text arm_answer.{code} tells the resident what happened
    zones: list[tuple[int, str, str]] | None = None  # the zones that answer names

    def text_params(self) -> dict[str, Any]:
        """The parameters of the text `arm_answer.{code}`: the zones named in both languages."""
        zones = self.zones or []
        return {"reason": self.reason,
                "zones": {"en": ", ".join(en if en == str(z) else f"{en} ({z})"
                                          for z, en, _ in zones),
                          "zh": "、".join(zh if zh == str(z) else f"{zh}（{z}）"
                                         for z, _, zh in zones)}}


async def arm(sessions: async_sessionmaker[AsyncSession], sender: ArmSender,
              panel: SecurityPanel, mode: ArmMode, bypass: list[int], issued_by: str,
              wait_s: float = ACK_WAIT_S) -> ArmAnswer:
    """Send the signed `arm` to the panel's edge and wait (a little) for its answer: the edge
    decides (an open window refuses an arm, naming it), the hub relays."""
    row = await sender.send(site=panel.site_id, edge=panel.edge, command="arm",
                            reason=f"{mode} from the unit's page", issued_by=issued_by,
                            device=panel.device, arm_mode=mode, bypass=bypass or None)
    deadline = time.monotonic() + wait_s
    status, answer = row.status, row.answer
    while status == "sent" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        async with sessions() as session:
            found = (await session.execute(
                select(EdgeCommandRow.status, EdgeCommandRow.answer)
                .where(EdgeCommandRow.id == row.id))).first()
        if found is not None:
            status, answer = found
    open_zones: list[tuple[int, str, str]] = []
    reason = answer or ("no answer from the building yet" if status == "sent" else "")
    code, zones = ("no_answer" if status == "sent" else f"ok_{mode}" if status == "ok"
                   else "other"), []
    if status in ("rejected", "failed"):
        names = await _zone_names(sessions, panel)
        if status == "rejected":
            open_zones = await _refused_zones(sessions, panel, row.issued_at, names)
        refusal = read_arm_refusal(reason)
        if refusal is not None:
            code = refusal[0]
            zones = [(z, *names.get(z, (str(z), str(z)))) for z in refusal[1]]
    return ArmAnswer(status, reason, row.id, open_zones, code, zones)


async def _zone_names(sessions: async_sessionmaker[AsyncSession], panel: SecurityPanel
                      ) -> dict[int, tuple[str, str]]:
    """The panel model's zone names by number: (English, Chinese)."""
    async with sessions() as session:
        model = await session.scalar(select(Device.model).where(Device.id == panel.device_id))
    found = load_catalog().get(model or "")
    return dict(found.zones) if found is not None else {}


async def _refused_zones(sessions: async_sessionmaker[AsyncSession], panel: SecurityPanel,
                         since: datetime, names: dict[int, tuple[str, str]]
                         ) -> list[tuple[int, str, str]]:
    """The zones an arm was refused for, named (the edge's arm_refused event, sent before its
    ack through the same outbox), with the panel model's names in both languages."""
    async with sessions() as session:
        found = await session.scalars(panel_events_since(panel, since))
    refused = next((d for d in found if d.get("event") == "arm_refused"), None)
    if refused is None:
        return []
    return [(z, *names.get(z, (str(z), str(z)))) for z in refused.get("open_zones") or []]


def panel_events_since(panel: SecurityPanel, since: datetime) -> Select[dict[str, Any]]:
    """The panel's events the hub received since `since`, newest first. The bound on `ts`
    beside `received_at` lets PostgreSQL read only the event log's recent months."""
    return select(EventLog.data).where(
        EventLog.site_id == panel.site_id, EventLog.edge == panel.edge,
        EventLog.device == panel.device, EventLog.kind == "homesec",
        EventLog.received_at >= since, EventLog.ts >= since - EDGE_CLOCK_MARGIN,
    ).order_by(EventLog.ts.desc())


def alarm_row(alarm: Alarm) -> dict[str, Any]:
    """An alarm as a unit's page and the panel list show it."""
    return {"id": alarm.id, "type": alarm.type, "severity": alarm.severity,
            "state": alarm.state, "count": alarm.count, "message_code": alarm.message_code,
            "message_params": alarm.message_params, "message": alarm.message,
            "first_seen": alarm.first_seen, "last_seen": alarm.last_seen}



__all__ = ["HOME_ALARMS", "RESIDENT_ALARMS", "ArmAnswer", "PanelView", "alarm_row", "arm",
           "household_panel", "open_alarms", "panel_events_since", "site_panels"]
