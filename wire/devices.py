"""Building devices (elevators, fire equipment, readers, cameras, utility meters): health, faults, telemetry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from wire._base import Name, WireModel

DeviceType = Literal["elevator", "fire_panel", "pressure_sensor", "reader", "camera",
                     "electricity_meter", "water_meter", "alarm_panel", "led_board"]
Severity = Literal["info", "minor", "major", "critical"]
DeviceEventType = Literal["online", "offline", "fault_raised", "fault_cleared", "counters",
                          "life_safety", "life_safety_reset", "floors_refused"]


class DeviceData(WireModel):
    """kind `device`: a device's health and its faults, each raised and later cleared.

    Life-safety actions the edge took by itself are reported here too (`life_safety`),
    with `detail` saying what was done (doors released, elevators recalled).
    """

    device_type: DeviceType
    model: str = Field(max_length=64, description="the firmware-configs model name")
    event: DeviceEventType
    code: str | None = Field(default=None, max_length=32, description="fault code")
    text: str | None = Field(default=None, max_length=500, description="fault text, English")
    text_zh: str | None = Field(default=None, max_length=500, description="fault text, Chinese")
    severity: Severity | None = None
    skill: str | None = Field(default=None, max_length=64, description="technician skill needed")
    counters: dict[str, int] | None = Field(default=None, description="polls, timeouts, crc_errors…")
    detail: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _faults_have_codes(self) -> DeviceData:
        if self.event in ("fault_raised", "fault_cleared") and not self.code:
            raise ValueError(f"{self.event} needs a fault code")
        return self


class Reading(WireModel):
    name: Name
    value: float | int | bool | str
    unit: str | None = Field(default=None, max_length=16)


class TelemetryData(WireModel):
    """kind `telemetry`: typed readings of one device at one time."""

    device_type: DeviceType
    model: str = Field(max_length=64)
    readings: list[Reading] = Field(min_length=1, max_length=200)
