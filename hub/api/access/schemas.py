"""Request and answer models of the access endpoints: schedules, access groups, holidays,
anti-passback pairs, the access log and the dead letters."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from hub.api.core.paging import decode_cursor
from hub.api.core.schemas import (
    Limit,
    Name,
    Out,
    QueryDatetime,
    RowId,
    SiteId,
    Strict,
    _cursor_of,
    _refuse_null,
)
from hub.texts.validation import Refusal
from wire import TimeWindow
from wire.events import AccessReason, CredentialType
from wire.floors import FloorIn

# --- schedules -------------------------------------------------------------------------------


class ScheduleCreate(Strict):
    site_id: SiteId
    name: Name
    windows: list[TimeWindow] = Field(min_length=1, description="weekly windows, site local time")


class ScheduleUpdate(Strict):
    name: Name | None = None
    windows: list[TimeWindow] | None = Field(default=None, min_length=1)

    _not_null = field_validator("name", "windows")(_refuse_null)


class ScheduleOut(Out):
    id: int
    site_id: str
    name: str
    windows: list[TimeWindow]


class ScheduleList(BaseModel):
    items: list[ScheduleOut]


# --- access groups ---------------------------------------------------------------------------


HolidayModeIn = Literal["normal", "closed", "schedule"]
_HOLIDAY_MODE = (
    "on a site holiday: normal = weekly schedule as usual, closed = no access, "
    "schedule = holiday_schedule_id instead"
)


_FLOORS = ("building floors its car readers enable besides each member's own unit floor: "
           "numbers (1 ground, -1 = B1, no 0) or labels such as B1, 2, 12F")


class AccessGroupCreate(Strict):
    site_id: SiteId
    name: str = Field(min_length=1, max_length=200)
    doors: list[Name] = Field(default_factory=list, description="door names in the same site")
    schedule_id: RowId | None = Field(default=None, description="null: at all times")
    holiday_mode: HolidayModeIn = Field(default="normal", description=_HOLIDAY_MODE)
    holiday_schedule_id: RowId | None = Field(default=None, description="with holiday_mode schedule")
    floors: list[FloorIn] = Field(default_factory=list, max_length=200, description=_FLOORS)


class AccessGroupUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    doors: list[Name] | None = None
    schedule_id: RowId | None = Field(default=None, description="null: at all times")
    holiday_mode: HolidayModeIn | None = Field(default=None, description=_HOLIDAY_MODE)
    holiday_schedule_id: RowId | None = None
    floors: list[FloorIn] | None = Field(default=None, max_length=200, description=_FLOORS)

    _not_null = field_validator("name", "doors", "holiday_mode", "floors")(_refuse_null)


class AccessGroupOut(BaseModel):
    id: int
    site_id: str
    name: str
    doors: list[str]
    schedule_id: int | None
    holiday_mode: HolidayModeIn = "normal"
    holiday_schedule_id: int | None = None
    floors: list[int] = Field(default_factory=list, description="building floors, B1 = -1")
    floor_labels: list[str] = Field(default_factory=list, description="the same, as labelled")


class AccessGroupList(BaseModel):
    items: list[AccessGroupOut]


# --- holidays, door modes, anti-passback ------------------------------------------------------


class HolidayCreate(Strict):
    site_id: SiteId
    day: date = Field(description="YYYY-MM-DD, site local")
    name: str = Field(default="", max_length=200)


class HolidayOut(Out):
    id: int
    site_id: str
    day: date
    name: str


class HolidayList(BaseModel):
    items: list[HolidayOut]


DoorModeIn = Literal["normal", "locked_down", "unlocked_on_schedule"]


class PassbackCreate(Strict):
    site_id: SiteId
    name: str = Field(min_length=1, max_length=200)
    entry_door: Name = Field(description="door name; both doors on the same edge")
    exit_door: Name
    mode: Literal["soft", "hard"] = Field(
        default="hard", description="hard refuses a repeated direction, soft grants and reports it"
    )
    reset_s: int | None = Field(
        default=None, ge=1, le=7 * 86400, description="forget a card's direction after this"
    )


class PassbackUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    mode: Literal["soft", "hard"] | None = None
    reset_s: int | None = Field(default=None, ge=1, le=7 * 86400)

    _not_null = field_validator("name", "mode")(_refuse_null)


class PassbackOut(BaseModel):
    id: int
    site_id: str
    name: str
    entry_door: str
    exit_door: str
    mode: Literal["soft", "hard"]
    reset_s: int | None


class PassbackList(BaseModel):
    items: list[PassbackOut]


# --- access events and dead letters ----------------------------------------------------------


class AccessEventQuery(Strict):
    site: SiteId | None = None
    door: str | None = Field(default=None, max_length=64)
    resident_id: RowId | None = None
    result: Literal["granted", "denied"] | None = None
    reason: AccessReason | None = None
    building: RowId | None = Field(default=None, description="events at the building's edges")
    credential: str | None = Field(default=None, min_length=1, max_length=128,
                                   description="a card number, or pass:<id> for a visitor pass")
    since: QueryDatetime | None = Field(default=None, description="inclusive, with a zone")
    until: QueryDatetime | None = Field(default=None, description="exclusive, with a zone")
    malformed: bool | None = Field(
        default=None, description="true: only events whose credential the edge had to alter "
        "(cut or escaped); false: only the others")
    q: str | None = Field(default=None, min_length=1, max_length=64, description=(
        "a resident's or visitor's name (or part of it), or a credential: their events, "
        "refusals of their cards included"))
    format: Literal["json", "csv"] = Field(
        default="json", description="csv: every matching row (up to 100,000), no paging")
    limit: Limit = 50
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")

    _cursor = field_validator("cursor")(_cursor_of(str))

    @field_validator("cursor")
    @classmethod
    def _cursor_event_id(cls, value: str | None) -> str | None:
        """The cursor's key is an event id (a uuid column on PostgreSQL)."""
        if value is not None:
            try:
                uuid.UUID(decode_cursor(value, str)[1])
            except ValueError as exc:
                raise Refusal("invalid.cursor", "not a cursor this API issued") from exc
        return value


class AccessEventOut(BaseModel):
    id: str
    ts: datetime
    site: str
    edge: str
    door: str
    door_name: str | None = Field(description="the door's name in the registry (its label)")
    credential_type: CredentialType
    credential: str
    resident_id: int | None = Field(description="the resident the edge decided for")
    person: str | None = Field(description="who: the resident (also the owner of a known card "
                               "the edge refused), or the visitor of a pass; null if unknown")
    person_kind: Literal["resident", "visitor"] | None
    person_resident_id: int | None = Field(description="the resident `person` names, if one")
    result: Literal["granted", "denied"]
    reason: str
    decision_us: int
    malformed: str | None = Field(
        description="null unless the edge could not carry the credential as read: what it "
        "altered (e.g. 140 characters cut to 128, with the whole one's SHA-256); `credential` "
        "is then not what the reader saw")


class AccessEventPage(BaseModel):
    items: list[AccessEventOut]
    next_cursor: str | None = Field(description="null on the last page")


class DeadLetterQuery(Strict):
    limit: Limit = 50
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")

    _cursor = field_validator("cursor")(_cursor_of(int))


class DeadLetterOut(BaseModel):
    id: int
    received_at: datetime
    topic: str
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    reason: str


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None
