"""Request and answer models of the alarm, notice and report endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

from hub.api.core.schemas import (
    Limit,
    QueryDatetime,
    RowId,
    SiteId,
    Strict,
    _cursor_of,
    until_after_since,
)
from hub.texts.validation import Refusal, field_word
from wire.devices import Severity

AlarmState = Literal["active", "acknowledged", "cleared"]
Format = Literal["json", "csv"]


# --- alarms ----------------------------------------------------------------------------------


class AlarmQuery(Strict):
    site_id: SiteId | None = None
    building_id: RowId | None = None
    state: AlarmState | None = None
    open: bool | None = Field(default=None, description="true: active or acknowledged")
    severity: Severity | None = None
    type: str | None = Field(default=None, max_length=64, description="e.g. door_forced_open")
    device_id: RowId | None = None
    door_id: RowId | None = None
    since: QueryDatetime | None = Field(default=None, description="raised at or after")
    until: QueryDatetime | None = Field(default=None, description="raised before")
    cursor: Annotated[str | None, Field(description="`next_cursor` of the previous page")] = None
    limit: Limit = 50

    _ordered = field_validator("until")(until_after_since)
    _cursor = field_validator("cursor")(_cursor_of(int))


class AlarmOut(BaseModel):
    id: int
    site_id: str
    building_id: int | None
    edge: str | None
    device: str | None
    device_id: int | None
    door: str | None
    door_id: int | None
    snapshot_id: str | None = Field(description="a camera snapshot of the moment, if any")
    snapshot_url: str | None
    rule: str | None = Field(description="the rule that raised it")
    type: str
    severity: Severity
    dedup_key: str = Field(description="one open alarm per key: repeats update it")
    message: str = Field(description="in the reader's language (Accept-Language: zh-CN or en)")
    message_code: str | None = Field(description="the message's code in hub/texts, if any")
    message_params: dict[str, Any] | None = Field(description="the code's parameters")
    state: AlarmState
    count: int = Field(description="triggers while open")
    event_id: str | None = Field(description="the first event that raised it")
    first_seen: datetime
    last_seen: datetime
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None
    cleared_by: str | None
    acknowledged_by_text: str | None = Field(
        default=None, description="who acknowledged it, for people, in the reader's language")
    cleared_by_text: str | None = Field(
        default=None, description="who cleared it (a user, or a rule in words), for people")


class AlarmPage(BaseModel):
    items: list[AlarmOut] = Field(description="newest first")
    next_cursor: str | None


class AlarmStepOut(BaseModel):
    ts: datetime
    action: Literal["raised", "acknowledged", "cleared"]
    actor: str = Field(description="a username, or rule:<name>")
    actor_text: str = Field(description="who, for people, in the reader's language")
    note: str | None


class CommentOut(BaseModel):
    id: int
    ts: datetime
    author: str
    text: str


class AlarmDetail(AlarmOut):
    history: list[AlarmStepOut]
    comments: list[CommentOut]


class NoteIn(Strict):
    note: str | None = Field(default=None, max_length=500, description="kept in the history")


class CommentIn(Strict):
    text: str = Field(min_length=1, max_length=4000)


# --- notices ---------------------------------------------------------------------------------


class NoticeQuery(Strict):
    site_id: SiteId | None = None
    building_id: RowId | None = None
    unit_id: RowId | None = None
    current: bool | None = Field(
        default=None, description="true: valid now (residents always see only those)")
    limit: Limit = 100


class NoticeCreate(Strict):
    site_id: SiteId
    building_id: RowId | None = Field(default=None, description="a building of the site")
    unit_id: RowId | None = Field(default=None, description="a unit (of the building, if given)")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    valid_from: AwareDatetime | None = Field(default=None, description="default: now")
    valid_until: AwareDatetime | None = Field(default=None, description="default: no end")
    on_boards: bool = Field(default=False, description="also on the LED boards of its scope "
                            "(the site, or the building), until it expires")

    @field_validator("valid_until")
    @classmethod
    def _ends_after_start(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("valid_from")
        if until is not None and start is not None and until <= start:
            raise Refusal("invalid.after", "must be later than valid_from",
                          other=field_word("valid_from"))
        return until


class NoticeOut(BaseModel):
    id: int
    site_id: str
    building_id: int | None = Field(description="null: the whole site")
    unit_id: int | None = Field(description="null: the whole building (or site)")
    title: str
    body: str
    valid_from: datetime
    valid_until: datetime | None
    source: str = Field(description="manual, or rule:<name>")
    on_boards: bool = False
    created_by: str
    created_at: datetime


class NoticeList(BaseModel):
    items: list[NoticeOut] = Field(description="newest first")


# --- reports ---------------------------------------------------------------------------------


class ReportQuery(Strict):
    site_id: SiteId | None = None
    since: QueryDatetime | None = None
    until: QueryDatetime | None = None
    format: Format | None = Field(default=None, description="csv, or send Accept: text/csv")

    _ordered = field_validator("until")(until_after_since)


class FaultReportQuery(ReportQuery):
    by: Literal["device", "model"] = "device"


class AlarmTimesRow(BaseModel):
    type: str
    severity: str
    alarms: int
    acknowledged: int
    mean_ack_s: float | None = Field(description="mean time from raised to acknowledged")
    cleared: int
    mean_clear_s: float | None = Field(description="mean time from raised to cleared")


class AlarmTimesReport(BaseModel):
    items: list[AlarmTimesRow]


class FaultRow(BaseModel):
    site_id: str
    model: str
    device_type: str
    device_id: int | None = Field(description="null when grouped by model")
    device: str | None
    edge: str | None
    devices: int
    faults: int
    open_faults: int


class FaultReport(BaseModel):
    items: list[FaultRow]


class DeniedRow(BaseModel):
    site_id: str
    door: str
    denied: int
    credentials: int = Field(description="distinct credentials refused")
    last_at: datetime
    top_reason: str


class DeniedReport(BaseModel):
    items: list[DeniedRow]
