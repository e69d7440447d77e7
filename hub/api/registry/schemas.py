"""Request and response models of the people registry: sites, buildings, units, households,
users, residents, the edges' list and the CSV import (cards: hub.api.credentials.schemas)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from hub.api.core.schemas import (
    IdNumber,
    Name,
    Out,
    Phone,
    ResidentType,
    RowId,
    SiteId,
    Strict,
    _refuse_null,
)
from hub.api.credentials.schemas import CardOut
from hub.texts.validation import Refusal

UnitStatus = Literal["vacant", "occupied", "rented"]
Role = Literal["admin", "company_admin", "manager", "guard", "technician", "resident"]
CompanyId = Annotated[Name, Field(description="company id, e.g. 'acme'")]


class CompanyCreate(Strict):
    id: CompanyId
    name: str = Field(min_length=1, max_length=200)


class CompanyOut(Out):
    id: str
    name: str
    created_at: datetime


class CompanyList(BaseModel):
    items: list[CompanyOut]


class SiteCreate(Strict):
    id: Name
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="Asia/Shanghai", min_length=1, max_length=64)
    company_id: CompanyId | None = Field(
        default=None, description="the platform admin names it (default: 'default'); a company "
        "admin's site goes into their own company")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


def _zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise Refusal("invalid.time_zone", f"unknown time zone {value!r}",
                      value=value) from exc
    return value


class SiteUpdate(Strict):
    """Only the keys given change; `company_id` (the platform admin) moves the site."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    company_id: CompanyId | None = None

    _not_null = field_validator("name", "timezone", "company_id")(_refuse_null)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return value if value is None else _zone(value)


# --- buildings -------------------------------------------------------------------------------


class BuildingCreate(Strict):
    site_id: SiteId
    code: Name = Field(description="short code unique in the site, e.g. B1")
    name: str = Field(min_length=1, max_length=200)


class BuildingUpdate(Strict):
    code: Name | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)

    _not_null = field_validator("code", "name")(_refuse_null)


class BuildingOut(Out):
    id: int
    site_id: str
    code: str
    name: str


class BuildingList(BaseModel):
    items: list[BuildingOut]


# --- units -----------------------------------------------------------------------------------


class UnitCreate(Strict):
    building_id: RowId
    number: str = Field(min_length=1, max_length=32, description="e.g. 1203; unique per building")
    floor: int | None = Field(default=None, ge=-10, le=300)
    area: float | None = Field(default=None, gt=0, le=100_000, description="m²")
    status: UnitStatus = "vacant"


class UnitUpdate(Strict):
    number: str | None = Field(default=None, min_length=1, max_length=32)
    floor: int | None = Field(default=None, ge=-10, le=300)
    area: float | None = Field(default=None, gt=0, le=100_000)
    status: UnitStatus | None = None

    _not_null = field_validator("number", "status")(_refuse_null)


class UnitOut(BaseModel):
    id: int
    site_id: str
    building_id: RowId
    number: str
    floor: int | None
    area: float | None
    status: UnitStatus
    household_id: int | None


class UnitList(BaseModel):
    items: list[UnitOut]


class UnitQuery(Strict):
    site_id: SiteId | None = None
    building_id: RowId | None = None
    status: UnitStatus | None = None
    q: str | None = Field(default=None, min_length=1, max_length=40,
                          description='a unit as people name it: "B1 101", "B1-101", "101" '
                          "(the number's start) or a building's code")
    has_household: bool | None = Field(default=None,
                                       description="only units with (true) or without a household")
    limit: int | None = Field(default=None, ge=1, le=5000, description="at most this many; none: all")


# --- households ------------------------------------------------------------------------------


class HouseholdCreate(Strict):
    unit_id: RowId = Field(description="one household per unit")
    name: str = Field(default="", max_length=200)


class HouseholdUpdate(Strict):
    name: str | None = Field(default=None, max_length=200)

    _not_null = field_validator("name")(_refuse_null)


class HouseholdMember(BaseModel):
    id: int
    name: str
    type: ResidentType | None


class HouseholdOut(BaseModel):
    id: int
    site_id: str
    unit_id: int
    name: str
    residents: list[HouseholdMember]
    created_at: datetime


class HouseholdList(BaseModel):
    items: list[HouseholdOut]


class HouseholdQuery(Strict):
    site_id: SiteId | None = None
    unit_id: RowId | None = None
    building_id: RowId | None = Field(default=None, description="the households of its units")


# --- users -----------------------------------------------------------------------------------


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[^\s]+$")
    password: str = Field(min_length=10, max_length=1024)
    role: Role
    site_id: SiteId | None = Field(default=None, description="required for every role but the "
                                   "admins")
    household_id: int | None = Field(default=None, description="required for role resident")
    company_id: CompanyId | None = Field(
        default=None, description="role company_admin: their company (a company admin's own "
        "when they make one)")
    resident_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1,
        description="role resident: the resident this login acts as (their QR code, phone keys "
        "and visitor passes); their household is the user's",
    )


class UserUpdate(Strict):
    """Only the keys given change; `disabled: true` also revokes the user's tokens."""

    password: str | None = Field(default=None, min_length=10, max_length=1024)
    role: Role | None = None
    site_id: SiteId | None = None
    household_id: RowId | None = None
    company_id: CompanyId | None = None
    disabled: bool | None = None

    _not_null = field_validator("password", "role", "disabled")(_refuse_null)


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    site_id: str | None
    household_id: int | None
    company_id: str | None = Field(default=None, description="a company admin's company")
    resident_id: int | None = Field(default=None, description="the resident a resident login acts as")
    disabled: bool
    created_at: datetime


class UserList(BaseModel):
    items: list[UserOut]


class UserQuery(Strict):
    site_id: SiteId | None = None
    role: Role | None = None


# --- CSV import ------------------------------------------------------------------------------


class ImportQuery(Strict):
    site_id: SiteId
    dry_run: bool = Field(default=False, description="check the whole file, change nothing")


class ImportOut(BaseModel):
    dry_run: bool
    rows: int = Field(description="data rows in the file")
    created: int = Field(description="records created (or that would be, on a dry run)")


class RowProblemOut(BaseModel):
    line: int = Field(description="1-based line of the file; the header is line 1")
    column: str = Field(description="the column's header, or '' for the whole row")
    reason: str = Field(description="in English")
    message: str = Field(description="the column and the reason for people, in the reader's "
                         "language (Accept-Language: zh-CN or en)")


class ImportRejectedOut(BaseModel):
    error: Literal["import_rejected"] = "import_rejected"
    detail: str
    rows: list[RowProblemOut]


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
    unit_label: str | None = Field(default=None, description="the unit as people name it: "
                                   "building code and number, e.g. B1 101")
    name: str
    phone: str | None
    groups: list[int]
    cards: list[CardOut]
    created_at: datetime
    updated_at: datetime
    household_id: RowId | None = None
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


# --- read-only registry ----------------------------------------------------------------------


class SiteOut(BaseModel):
    id: str
    name: str
    timezone: str
    company_id: str


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
