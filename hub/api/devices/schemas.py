"""Request and answer models of the device endpoints (see hub/api/devices/routes.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.core.schemas import Limit, Name, QueryDatetime, SiteId, Strict, until_after_since
from wire.devices import DeviceType, Severity

DeviceStatus = Literal["online", "offline", "unknown"]


class DeviceQuery(Strict):
    site: SiteId | None = None
    edge: Name | None = None
    type: DeviceType | None = Field(default=None, description="device type")
    status: DeviceStatus | None = Field(
        default=None, description="as shown: devices of an offline edge are `unknown`")


class DeviceInstallation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    edge_id: int
    label: str
    transport: Literal["rtu", "tcp"]
    line_id: int | None
    unit_id: int | None
    host: str | None
    tcp_port: int | None
    poll_interval_s: float


class DeviceOut(BaseModel):
    id: int
    site: str
    edge: str
    name: str = Field(description="the device's name in its events")
    device_type: str
    model: str
    status: DeviceStatus = Field(
        description="what the edge last reported, or `unknown` while its edge is offline")
    reported_status: DeviceStatus = Field(description="what the edge last reported")
    stale: bool = Field(description="true while the edge is offline: the state may be old")
    edge_status: str | None = Field(description="the edge's own state, null if not registered")
    last_seen: datetime | None = Field(description="edge time of the device's latest event")
    open_faults: int
    installation: DeviceInstallation | None = Field(
        default=None, description="how its edge reaches it, when installed from the hub (issue "
        "15; null: registered by its first event)")


class DeviceList(BaseModel):
    items: list[DeviceOut]


class ReadingOut(BaseModel):
    name: str
    value: float | int | bool | str
    unit: str | None
    ts: datetime


class FaultOut(BaseModel):
    id: int
    code: str
    text: str | None
    text_zh: str | None
    severity: Severity | None
    skill: str | None
    detail: str | None
    raised_at: datetime
    last_raised_at: datetime
    raise_count: int = Field(description="raises received while open")
    cleared_at: datetime | None
    open: bool


class DeviceDetail(DeviceOut):
    counters: dict[str, int] | None
    counters_at: datetime | None
    readings: list[ReadingOut] = Field(description="the latest value of each reading")
    faults: list[FaultOut] = Field(description="open faults, newest first")


class TelemetryQuery(Strict):
    name: Name | None = Field(default=None, description="one reading, e.g. `floor`")
    since: QueryDatetime | None = Field(default=None, description="inclusive, with a zone")
    until: QueryDatetime | None = Field(default=None, description="exclusive, with a zone")
    limit: Limit = 100

    _ordered = field_validator("until")(until_after_since)


class TelemetryPointOut(BaseModel):
    name: str
    ts: datetime
    value: float | str
    unit: str | None


class TelemetryPage(BaseModel):
    device: int
    items: list[TelemetryPointOut] = Field(description="newest first")


class FaultQuery(Strict):
    open: bool | None = Field(default=None, description="true: open only; false: cleared only")
    limit: Limit = 100


class FaultList(BaseModel):
    items: list[FaultOut]
