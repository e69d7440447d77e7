"""Commissioning a unit's alarm panel: an installed alarm-panel device tied to one unit, with
its delays and arm schedule. It reaches the edge inside the device's configuration
(wire.config.DeviceConfig.security), so the installation path is the only path."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.errors import InvalidInput
from hub.homesec.models import SecurityPanel
from hub.installation import Installer
from hub.installation.catalog import load_catalog
from hub.models import Building, Device, Unit
from hub.texts import pair, word
from wire.homesec import ArmSchedule

_DAYS = {1: pair("Monday", "周一"), 2: pair("Tuesday", "周二"), 3: pair("Wednesday", "周三"),
         4: pair("Thursday", "周四"), 5: pair("Friday", "周五"), 6: pair("Saturday", "周六"),
         7: pair("Sunday", "周日")}
_MODES = {"away": pair("arm away", "离家布防"), "stay": pair("arm at home", "在家布防"),
          "disarmed": pair("disarm", "撤防")}


class PanelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: int = Field(ge=1, le=2**31 - 1, description="an installed alarm-panel device")
    unit_id: int = Field(ge=1, le=2**31 - 1, description="the unit it guards")
    exit_delay_s: float = Field(default=30.0, ge=0, le=600)
    entry_delay_s: float = Field(default=30.0, ge=0, le=600)
    schedule: list[ArmSchedule] = Field(default_factory=list, max_length=16)
    camera: str | None = Field(default=None, min_length=1, max_length=64,
                               description="the camera of the unit's corridor, if any")


class PanelChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exit_delay_s: float | None = Field(default=None, ge=0, le=600)
    entry_delay_s: float | None = Field(default=None, ge=0, le=600)
    schedule: list[ArmSchedule] | None = Field(default=None, max_length=16)
    camera: str | None = Field(default=None, min_length=1, max_length=64)


def check_schedule(schedule: list[ArmSchedule]) -> None:
    """One instruction per weekday and minute: an entry that repeats an earlier one, or says
    otherwise at the same moment (arm and disarm at 08:30 on Monday), is refused naming it."""
    seen: dict[tuple[int, str], int] = {}
    for j, entry in enumerate(schedule):
        for day in entry.days:
            i = seen.setdefault((day, entry.at), j)
            if i == j:
                continue
            other = schedule[i]
            when = {"other": i + 1, "day": _DAYS[day], "at": entry.at}
            if other.mode == entry.mode:
                raise InvalidInput(f"schedule.{j}", f"repeats entry {i + 1} ({day} {entry.at})",
                                   "invalid.schedule_repeat", **when)
            raise InvalidInput(f"schedule.{j}", f"entry {i + 1} already says {other.mode} at "
                               f"{entry.at} on day {day}", "invalid.schedule_clash",
                               mode=_MODES[other.mode], **when)


def _spec(panel: SecurityPanel) -> dict[str, Any]:
    return {"device_id": panel.device_id, "unit_id": panel.unit_id,
            "exit_delay_s": panel.exit_delay_s, "entry_delay_s": panel.entry_delay_s,
            "schedule": panel.schedule, "camera": panel.camera}


async def create_panel(inst: Installer, spec: PanelSpec) -> SecurityPanel:
    check_schedule(spec.schedule)
    device = await inst.reference(Device, spec.device_id, "device", "device_id")
    if device.edge_id is None:
        raise InvalidInput("device_id", f"device {device.name!r} is not installed from the hub",
                           "invalid.not_hub_installed", device=device.name)
    model = load_catalog().get(device.model)
    if model is None or model.device_type != "alarm_panel":
        raise InvalidInput("device_id", f"device {device.name!r} is a {device.model}, not an "
                           "alarm panel", "invalid.not_model", device=device.name,
                           model=device.model, wanted=word("thing.alarm_panel_model", "an alarm panel"))
    unit = await inst.session.get(Unit, spec.unit_id)
    building = None if unit is None else await inst.session.get(Building, unit.building_id)
    if unit is None or building is None or building.site_id != device.site_id:
        raise InvalidInput("unit_id", f"no unit {spec.unit_id} in site {device.site_id!r}",
                           "invalid.unknown", what=word("thing.unit", "unit"), key=spec.unit_id)
    taken = await inst.session.scalar(select(SecurityPanel.id).where(
        (SecurityPanel.unit_id == unit.id) | (SecurityPanel.device_id == device.id)))
    if taken is not None:
        raise InvalidInput("unit_id", f"unit {unit.number} or device {device.name!r} already "
                           f"has a panel ({taken})", "invalid.unit_has_panel", unit=unit.number,
                           device=device.name, panel=taken)
    panel = SecurityPanel(site_id=device.site_id, unit_id=unit.id, device_id=device.id,
                          edge=device.edge, device=device.name, exit_delay_s=spec.exit_delay_s,
                          entry_delay_s=spec.entry_delay_s,
                          schedule=[s.model_dump() for s in spec.schedule], camera=spec.camera,
                          mode="disarmed", phase="disarmed")
    inst.session.add(panel)
    await inst.session.flush()
    inst.touch(device.site_id, device.edge_id)
    await inst.record("security_panel", panel.id, device.name, panel.site_id, "create",
                      after=_spec(panel))
    return panel


async def update_panel(inst: Installer, panel_id: int, change: BaseModel) -> SecurityPanel:
    assert isinstance(change, PanelChange)
    panel = await inst.row(SecurityPanel, panel_id, "security_panel")
    before = _spec(panel)
    check_schedule(change.schedule or [])
    for name in change.model_fields_set:
        value = getattr(change, name)
        if name == "schedule":
            value = [s.model_dump() for s in value or []]
        elif value is None and name != "camera":
            raise InvalidInput(name, "may be changed, not removed", "invalid.keep_not_remove")
        setattr(panel, name, value)
    await inst.session.flush()
    device = await inst.session.get(Device, panel.device_id)
    inst.touch(panel.site_id, device.edge_id if device is not None else None)
    await inst.record("security_panel", panel.id, panel.device, panel.site_id, "update",
                      before, _spec(panel))
    return panel


async def delete_panel(inst: Installer, panel_id: int) -> None:
    panel = await inst.row(SecurityPanel, panel_id, "security_panel")
    before = _spec(panel)
    device = await inst.session.get(Device, panel.device_id)
    await inst.session.delete(panel)
    await inst.session.flush()
    inst.touch(panel.site_id, device.edge_id if device is not None else None)
    await inst.record("security_panel", panel_id, panel.device, panel.site_id, "delete",
                      before=before)


__all__ = ["PanelChange", "PanelSpec", "check_schedule", "create_panel", "delete_panel", "update_panel"]
