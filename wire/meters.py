"""Utility meters an edge reads (inside its signed configuration): DL/T 645 electricity meters
on a `dlt645` serial line, each addressed by its 12-digit number, and CJ/T 188 water meters on
a `cjt188` line by their 14-digit number, cold or domestic hot water. Water meters may also be
Modbus devices (wire.config.DeviceConfig with a water-meter model)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wire._base import Name, WireModel


class MeterConfig(WireModel):
    """One DL/T 645 meter: read every `interval_s` (hourly) and once more just after local
    midnight for the day's billing reading; a missed reading is tried again after `retry_s`."""

    id: Name = Field(description="the edge's device id for the meter")
    line: Name = Field(description="the id of a dlt645 line in `lines`")
    address: str = Field(pattern=r"^([0-9]{12}|[0-9]{14})$",
                         description="the meter's number: 12 digits (DL/T 645), 14 (CJ/T 188)")
    items: list[Name] = Field(default_factory=lambda: ["energy_kwh"], min_length=1,
                              max_length=8, description="data items the edge reads")
    interval_s: float = Field(default=3600.0, ge=1, le=86400)
    retry_s: float = Field(default=60.0, ge=0.1, le=3600)
    billing: bool = Field(default=True, description="also read at 00:00 (site time) for billing")
    kind: Literal["electricity", "water", "hot_water"] | None = Field(
        default=None, description="what it meters (default: electricity on a dlt645 line, cold "
                                  "water on a cjt188 line; hot water is CJ/T 188 meter type 11)")


__all__ = ["MeterConfig"]
