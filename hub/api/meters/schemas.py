"""Bodies, queries and answers of the meters resource."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from hub.api.core.schemas import (
    Limit,
    Name,
    QueryDatetime,
    RowId,
    SiteId,
    Strict,
    until_after_since,
)
from hub.texts.validation import Refusal

WATER_KINDS = ("water", "hot_water")  # read on a cjt188 line, in m³
MeterKind = Literal["electricity", "water", "hot_water"]  # hot water: CJ/T 188 type 11
Month = Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="a calendar month, 2026-11")


class MeterCreate(Strict):
    site_id: SiteId
    unit_id: RowId
    kind: MeterKind
    number: str = Field(pattern=r"^[0-9A-Za-z]{1,32}$",
                        description="as printed on the meter; an electricity meter's is its "
                                    "12-digit DL/T 645 address, a water meter read on a cjt188 "
                                    "line its 14-digit CJ/T 188 address")
    edge: Name = Field(description="the edge that reads it")
    device: Name = Field(description="the edge's device id for this meter")
    line_id: RowId | None = Field(default=None, description="the meter's line on that edge "
                                  "(dlt645 for electricity, cjt188 for water): the edge then "
                                  "reads it (hourly, and at 00:00 for billing)")
    installed_at: AwareDatetime | None = Field(default=None, description="default: now")
    replaces: RowId | None = Field(default=None, description="the unit's meter it replaces "
                                   "(removed at installed_at): the month stays continuous")

    @model_validator(mode="after")
    def _dlt645_address(self) -> MeterCreate:
        if self.kind == "electricity" and (len(self.number) != 12 or not self.number.isdigit()):
            raise Refusal("invalid.meter_address",
                          "an electricity meter's number is its 12-digit DL/T 645 address",
                          protocol="DL/T 645")
        if self.kind in WATER_KINDS and self.line_id is not None and (
                len(self.number) != 14 or not self.number.isdigit()):
            raise Refusal("invalid.water_meter_address",
                          "a water meter read on a cjt188 line has its 14-digit CJ/T 188 "
                          "address as its number (a Modbus water meter is a device: leave "
                          "line_id out)", protocol="CJ/T 188")
        return self


class MeterQuery(Strict):
    site_id: SiteId | None = None
    unit_id: RowId | None = None
    kind: MeterKind | None = None
    removed: bool = Field(default=False, description="also meters taken out")
    limit: Limit = 200


class MeterOut(BaseModel):
    id: int
    site_id: str
    unit_id: int
    kind: MeterKind
    number: str
    edge: str
    device: str
    line_id: int | None = None
    installed_at: datetime
    removed_at: datetime | None
    last_reading: Decimal | None = None
    last_reading_at: datetime | None = None
    measure: str


class MeterList(BaseModel):
    items: list[MeterOut]


class ReadingQuery(Strict):
    since: QueryDatetime | None = None
    until: QueryDatetime | None = None
    limit: Limit = 200

    _ordered = field_validator("until")(until_after_since)


class ReadingOut(BaseModel):
    ts: datetime
    value: Decimal
    status: Literal["ok", "reverse", "impossible"] = Field(
        description="reverse: below the previous reading; impossible: a faster rise than a home "
                    "can use; both kept and shown, never billed")
    billing: bool = Field(default=False, description="the edge's daily 00:00 reading")


class ReadingList(BaseModel):
    meter_id: int
    measure: str
    items: list[ReadingOut]


class ConsumptionQuery(Strict):
    site_id: SiteId
    month: str = Month
    kind: MeterKind | None = None
    format: Literal["json", "csv"] | None = Field(default=None,
                                                  description="csv, or send Accept: text/csv")


class ConsumptionRow(BaseModel):
    building: str
    unit: str
    kind: MeterKind
    meters: list[str]
    start_reading: Decimal | None
    end_reading: Decimal | None
    consumption: Decimal
    measure: str
    missing_meters: list[str]


class ConsumptionReport(BaseModel):
    site_id: str
    month: str
    items: list[ConsumptionRow]
