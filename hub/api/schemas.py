"""Request and response models: the views validate with them and OpenAPI is built from them."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from hub.api.paging import decode_cursor
from hub.texts.validation import Refusal
from wire import TimeWindow
from wire.events import AccessReason, CredentialType
from wire.floors import FloorIn

SiteId = Annotated[str, Field(min_length=1, max_length=64, description="site id, e.g. 'sunrise'")]
# the same spelling rules as door, edge and schedule names on the wire
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Phone = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^\+?[0-9][0-9 ()-]*$")]
CardNumber = Annotated[
    str, Field(pattern=r"^[0-9]{1,20}$", description="digits only, 1 to 20 of them")
]
CardStatus = Literal["active", "revoked", "lost", "suspended"]
# what the door would make of the card now: its status, or the validity window's verdict
CardState = Literal["active", "revoked", "lost", "suspended", "expired", "not_yet_valid"]
FacilityCode = Annotated[int, Field(ge=0, le=65535)]
Limit = Annotated[int, Field(ge=1, le=500, description="page size")]
# a record id: the columns are 32-bit on PostgreSQL, so larger numbers name nothing
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
ResidentType = Literal["owner", "tenant", "family_member"]
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _check_id_number(value: str) -> str:
    """Letters and digits; an 18-character mainland ID must carry its GB 11643 check digit."""
    value = value.strip().upper()
    if not re.fullmatch(r"[0-9A-Z]{5,32}", value):
        raise Refusal("invalid.id_number", "an ID number is 5 to 32 letters or digits")
    if re.fullmatch(r"[0-9]{17}[0-9X]", value):
        total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
        if "10X98765432"[total % 11] != value[17]:
            raise Refusal("invalid.id_check_digit",
                          "the check digit of this 18-digit ID number is wrong")
    return value


IdNumber = Annotated[
    str, BeforeValidator(lambda v: _check_id_number(v) if isinstance(v, str) else v),
    Field(description="resident identity card or passport number"),
]

_OFFSET_AS_SPACE = re.compile(r"T.* (\d\d(:?\d\d)?)$")


def _plus_from_query(value: Any) -> Any:
    # An unencoded "+01:00" in a query string arrives as " 01:00"; put the plus back.
    if isinstance(value, str) and _OFFSET_AS_SPACE.search(value):
        head, _, offset = value.rpartition(" ")
        return f"{head}+{offset}"
    return value


QueryDatetime = Annotated[AwareDatetime, BeforeValidator(_plus_from_query)]


def until_after_since(until: datetime | None, info: ValidationInfo) -> datetime | None:
    """A query's `until` must come after its `since`: use as
    `_ordered = field_validator("until")(until_after_since)`."""
    since = info.data.get("since")
    if since is not None and until is not None and until <= since:
        raise ValueError("must be later than since")
    return until


def _cursor_of(key_type: type) -> Any:
    def check(value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value, key_type)
        return value

    return check


class Strict(BaseModel):
    """Requests refuse unknown keys."""

    model_config = ConfigDict(extra="forbid")


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null")
    return value


# --- auth and health -------------------------------------------------------------------------


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    expires_at: datetime


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: str


class FieldProblemOut(BaseModel):
    field: str
    reason: str = Field(description="in English")
    message: str = Field(description="the field and the reason for people, in the reader's "
                         "language (Accept-Language: zh-CN or en)")


class ErrorOut(BaseModel):
    error: str
    detail: str = Field(description="in English")
    message: str | None = Field(default=None, description="for people, in the reader's "
                                "language (Accept-Language: zh-CN or en), when the hub has words")


class ValidationErrorOut(BaseModel):
    error: Literal["validation"] = "validation"
    detail: list[FieldProblemOut]


# --- cards -----------------------------------------------------------------------------------


def _until_after_from(value: datetime | None, info: ValidationInfo) -> datetime | None:
    start = info.data.get("valid_from")
    if value is not None and start is not None and value <= start:
        raise ValueError("valid_until must be after valid_from")
    return value


class CardCreate(Strict):
    resident_id: RowId
    card_number: CardNumber
    facility_code: FacilityCode | None = None
    status: CardStatus = "active"
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None

    _ordered = field_validator("valid_until")(_until_after_from)


class CardUpdate(Strict):
    """Only the keys given change; `status: "revoked"` revokes and keeps the card's history."""

    resident_id: RowId | None = None
    card_number: CardNumber | None = None
    facility_code: FacilityCode | None = None
    status: CardStatus | None = None
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None

    _not_null = field_validator("resident_id", "card_number", "status")(_refuse_null)
    _ordered = field_validator("valid_until")(_until_after_from)


class CardOut(BaseModel):
    id: int
    site_id: str
    resident_id: int
    card_number: str
    facility_code: int | None
    status: CardStatus
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime
    updated_at: datetime
    state: CardState = Field(
        default="active",
        description="the status, or `expired` / `not_yet_valid` for an active card now outside "
        "its validity window",
    )
    holder: str | None = Field(default=None, description="the holder's name (in card lists)")


class CardList(BaseModel):
    items: list[CardOut]
    total: int = Field(description="cards matching the filters, all pages together")


class CardQuery(Strict):
    site_id: SiteId | None = None
    resident_id: RowId | None = None
    status: CardStatus | None = None
    state: CardState | None = Field(default=None, description="e.g. `expired`: active but past")
    q: Annotated[str, Field(min_length=1, max_length=100,
                            description="part of the card number or the holder's name")] | None = None
    limit: int | None = Field(default=None, ge=1, le=5000, description="page size; none: all")
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0


class CardReplace(Strict):
    """The new card for the same holder; the old one is revoked (or marked lost)."""

    card_number: CardNumber
    facility_code: FacilityCode | None = None
    old_status: Literal["revoked", "lost"] = "revoked"


# --- residents -------------------------------------------------------------------------------


class ResidentCreate(Strict):
    site_id: SiteId
    name: str = Field(min_length=1, max_length=200)
    phone: Phone | None = None
    unit_id: RowId | None = None
    groups: list[RowId] = Field(default_factory=list, description="access group ids, same site")
    household_id: RowId | None = Field(
        default=None, description="default: the household of `unit_id` (made when missing)"
    )
    type: ResidentType | None = None
    id_number: IdNumber | None = None


class ResidentUpdate(Strict):
    """Only the keys given change; `groups` replaces the whole membership."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: Phone | None = None
    unit_id: RowId | None = None
    groups: list[RowId] | None = None
    household_id: RowId | None = None
    type: ResidentType | None = None
    id_number: IdNumber | None = None

    _not_null = field_validator("name", "groups")(_refuse_null)


class ResidentOut(BaseModel):
    id: int
    site_id: str
    unit_id: int | None
    name: str
    phone: str | None
    groups: list[int]
    cards: list[CardOut]
    created_at: datetime
    updated_at: datetime
    household_id: int | None = None
    type: ResidentType | None = None
    id_number: str | None = Field(
        default=None, description="masked (110101********1234) for every role but admin"
    )


class ResidentList(BaseModel):
    items: list[ResidentOut]
    total: int = Field(description="residents matching the filters, all pages together")


Search = Annotated[str, Field(min_length=1, max_length=100,
                              description="part of a name, phone or card number")]
Offset = Annotated[int, Field(ge=0, le=10_000_000, description="rows to skip (paging)")]


class ResidentQuery(Strict):
    site_id: SiteId | None = None
    unit_id: RowId | None = None
    household_id: RowId | None = None
    building_id: RowId | None = None
    type: ResidentType | None = None
    group_id: RowId | None = Field(default=None, description="members of this access group")
    q: Search | None = None
    limit: int | None = Field(default=None, ge=1, le=5000, description="page size; none: all")
    offset: Offset = 0


# --- schedules -------------------------------------------------------------------------------


class ScheduleCreate(Strict):
    site_id: SiteId
    name: Name
    windows: list[TimeWindow] = Field(min_length=1, description="weekly windows, site local time")


class ScheduleUpdate(Strict):
    name: Name | None = None
    windows: list[TimeWindow] | None = Field(default=None, min_length=1)

    _not_null = field_validator("name", "windows")(_refuse_null)


class ScheduleOut(BaseModel):
    id: int
    site_id: str
    name: str
    windows: list[TimeWindow]


class ScheduleList(BaseModel):
    items: list[ScheduleOut]


class SiteQuery(Strict):
    site_id: SiteId | None = None


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


# --- read-only registry ----------------------------------------------------------------------


class SiteOut(BaseModel):
    id: str
    name: str
    timezone: str


class SiteList(BaseModel):
    items: list[SiteOut]


class EdgeOut(BaseModel):
    id: int
    site_id: str
    name: str
    building_id: int | None
    label: str = Field(default="", description="what installers call it")
    status: str
    agent_version: str | None
    perm_version_held: int | None
    last_seen: datetime | None
    dead_letter_count: int = Field(description="messages from this edge the hub could not "
                                   "accept (kept, with the reason, in the dead letters)")
    downlink_refused: int | None = Field(
        description="hub messages the edge refused since its agent started (unsigned, forged, "
        "replayed, for another edge), as it last reported (null: it has not said)")
    config_version_held: int | None = Field(
        default=None, description="the configuration the edge reports running (hub.edgeconfig)")
    config_refused: str | None = Field(
        default=None, description="why it refused a newer configuration (null: none refused)")


class EdgeList(BaseModel):
    items: list[EdgeOut]


# --- holidays, door modes, anti-passback ------------------------------------------------------


class HolidayCreate(Strict):
    site_id: SiteId
    day: date = Field(description="YYYY-MM-DD, site local")
    name: str = Field(default="", max_length=200)


class HolidayOut(BaseModel):
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


__all__ = [name for name in dir() if name[0].isupper()]
