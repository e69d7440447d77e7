"""Home security (居家安防): a unit's alarm panel as the edge arms it and reports it.

The panel only reports its zone inputs (over Modbus); arming, the exit and entry delays and
the alarms are decided at the edge, so a unit stays protected with the hub away. The edge
reports arm-state changes and alarms (the `homesec` event), never a zone's comings and goings:
a unit's motion history leaves the unit nowhere.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from wire._base import WireModel
from wire.errors import Refused

ZoneKind = Literal["door_contact", "window_contact", "pir", "smoke", "gas", "water_leak",
                   "panic"]
ArmMode = Literal["away", "stay", "disarmed"]
AlarmType = Literal["intrusion", "fire", "gas", "leak", "panic"]
# always armed, whatever the unit's mode
TWENTY_FOUR_HOUR: frozenset[str] = frozenset({"smoke", "gas", "water_leak", "panic"})
ALARM_OF_KIND: dict[str, AlarmType] = {"smoke": "fire", "gas": "gas", "water_leak": "leak",
                                       "panic": "panic"}
ArmedBy = Literal["resident", "schedule", "hub", "restart"]
HomeSecurityEventType = Literal[
    "exit_delay",  # armed by someone: the exit delay runs, then `armed`
    "armed", "disarmed",
    "arm_refused",  # a zone open (named in open_zones) and not bypassed
    "entry_delay",  # the entry door opened while armed: disarm before it ends
    "alarm",  # an alarm of `alarm` type in `zone` (again, while it flaps: the hub counts)
    "alarm_restored",  # a 24-hour zone back to normal
]
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

# Why an edge refuses an arm: the ack's reason is the English template filled in, and the hub
# reads the code and zones back from it (same table, so the two cannot drift) to tell the
# resident in their own language. `{zones}` lists "3 (Bedroom window), 5 (...)".
ArmRefusalCode = Literal["unknown_zone", "bypass_24h", "panel_silent", "zone_open", "no_panel"]
ARM_REFUSALS: dict[str, str] = {
    "unknown_zone": "no zone {zones} on this panel",
    "bypass_24h": "zone {zones} is a 24-hour zone and cannot be bypassed",
    "panel_silent": "the alarm panel is not answering: its zones are unknown",
    "zone_open": "zone {zones} is open; close it or bypass it",
    "no_panel": "no alarm panel {device} at this edge",
}
_REFUSAL_RES = {code: re.compile("^" + re.escape(text).replace(r"\{zones\}", "(?P<zones>.+)")
                                 .replace(r"\{device\}", "(?P<device>.+)") + "$")
                for code, text in ARM_REFUSALS.items()}
_ZONE_NO = re.compile(r"(\d+)(?: \([^)]*\))?")


def arm_refusal(code: ArmRefusalCode, *, zones: str = "", device: str = "") -> str:
    """The ack's reason for refusal `code` (English)."""
    return ARM_REFUSALS[code].format(zones=zones, device=device)


def read_arm_refusal(reason: str) -> tuple[ArmRefusalCode, list[int]] | None:
    """The refusal's code and the zone numbers it names, or None: not an arm refusal."""
    for code, pattern in _REFUSAL_RES.items():
        found = pattern.match(reason)
        if found is not None:
            zones = found.groupdict().get("zones") or ""
            return code, [int(n) for n in _ZONE_NO.findall(zones)]  # type: ignore[return-value]
    return None


class ArmSchedule(WireModel):
    """Arm (or disarm) the unit at `at` (the site's local time) on the ISO weekdays given."""

    days: list[int] = Field(min_length=1, max_length=7, description="ISO weekdays, 1 Monday")
    at: str = Field(description="HH:MM, the site's local time")
    mode: ArmMode

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        bad = [d for d in days if not 1 <= d <= 7]
        if bad:
            raise Refused("invalid.iso_weekdays",
                          f"weekdays are 1 (Monday) to 7 (Sunday), not {bad}",
                          bad=", ".join(map(str, bad)))
        return sorted(set(days))

    @field_validator("at")
    @classmethod
    def _time(cls, at: str) -> str:
        if not _HHMM.match(at):
            raise Refused("invalid.hhmm", f"{at!r} is not a time HH:MM", value=at)
        return at


class PanelSettings(WireModel):
    """A unit's alarm panel as installed: whose it is and how it arms."""

    unit: str = Field(min_length=1, max_length=64, description="the unit's label, e.g. 1-101")
    floor: int | None = Field(default=None, ge=-9, le=200)
    exit_delay_s: float = Field(default=30.0, ge=0, le=600)
    entry_delay_s: float = Field(default=30.0, ge=0, le=600)
    schedule: list[ArmSchedule] = Field(default_factory=list, max_length=16)
    camera: str | None = Field(default=None, max_length=64,
                               description="the camera of the unit's corridor, if any")


class HomeSecurityData(WireModel):
    """kind `homesec`: a unit panel's arm state changed, an arm was refused, or an alarm."""

    event: HomeSecurityEventType
    unit: str = Field(min_length=1, max_length=64)
    floor: int | None = None
    mode: ArmMode = Field(description="the arm mode after this event")
    by: ArmedBy | None = None
    alarm: AlarmType | None = None
    zone: int | None = Field(default=None, ge=1, le=64)
    zone_kind: ZoneKind | None = None
    zone_en: str | None = Field(default=None, max_length=64)
    zone_zh: str | None = Field(default=None, max_length=64)
    silent: bool = Field(default=False, description="a panic: the unit's own page shows nothing")
    delay_s: float | None = Field(default=None, ge=0)
    bypassed: list[int] = Field(default_factory=list, max_length=64)
    open_zones: list[int] = Field(default_factory=list, max_length=64)
    detail: str | None = Field(default=None, max_length=500)
    snapshot_id: str | None = Field(default=None, max_length=36,
                                    description="an alarm: the corridor camera's picture, "
                                    "uploaded apart (GET /api/v1/snapshots/{id})")

    @model_validator(mode="after")
    def _complete(self) -> HomeSecurityData:
        if self.event in ("alarm", "alarm_restored") and (self.alarm is None or self.zone is None):
            raise ValueError(f"{self.event} needs alarm and zone")
        if self.event == "arm_refused" and not self.open_zones:
            raise ValueError("arm_refused names the open zones")
        return self


__all__ = ["ALARM_OF_KIND", "ARM_REFUSALS", "TWENTY_FOUR_HOUR", "AlarmType", "ArmMode",
           "ArmRefusalCode", "ArmSchedule", "HomeSecurityData", "PanelSettings", "ZoneKind",
           "arm_refusal", "read_arm_refusal"]
