"""Request and answer models of the work-order, equipment-ledger and technician endpoints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

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

Priority = Literal["urgent", "high", "normal", "low"]
State = Literal["open", "assigned", "in_progress", "resolved", "closed"]
Kind = Literal["fault", "preventive", "repair", "manual"]
Skill = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$",
                             description="e.g. elevator_door, plumbing (lower case)")]
Note = Annotated[str, Field(min_length=1, max_length=4000)]
MAX_PHOTOS_IN_BODY = 4


class WorkOrderQuery(Strict):
    site: SiteId | None = None
    state: State | None = None
    assignee: RowId | None = Field(default=None, description="technician user id")
    device: RowId | None = None
    priority: Priority | None = None
    kind: Kind | None = None
    overdue: bool | None = Field(
        default=None, description="true: not resolved and past the due time; false: the others")
    limit: Limit = 50
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")
    _cursor = field_validator("cursor")(_cursor_of(int))


class WorkOrderIn(Strict):
    """Staff name a site, a unit or a device; a resident's repair request is for their unit."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    skill: Skill = "general_repair"
    priority: Priority = "normal"
    site_id: SiteId | None = None
    unit_id: RowId | None = None
    device_id: RowId | None = None
    technician_id: RowId | None = Field(
        default=None, description="assign to this technician (staff only); else by skill")
    photos: list[str] = Field(
        default_factory=list, max_length=MAX_PHOTOS_IN_BODY,
        description="base64 JPEG or PNG images; larger ones go to POST /work-orders/{id}/photos")


class TransitionIn(Strict):
    note: str | None = Field(default=None, max_length=4000)


class ReassignIn(Strict):
    technician_id: RowId | None = Field(
        description="the technician to take it; null: choose by skill and workload")
    note: str | None = Field(default=None, max_length=4000)


class NoteIn(Strict):
    text: Note


class PartIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=100_000)


class RatingIn(Strict):
    stars: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)


class PhotoIn(Strict):
    content_base64: str = Field(min_length=1, description="a JPEG or PNG image, base64")


class HistoryOut(BaseModel):
    at: datetime
    user_id: int | None
    actor: str = Field(description="a username, or system:<rule|pm|escalation>")
    actor_text: str = Field(description="who, for people, in the reader's language")
    action: str
    from_state: State | None
    to_state: State
    assignee_id: int | None
    note: str | None


class NoteOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    author: str
    text: str


class PartOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    name: str
    quantity: int


class PhotoOut(BaseModel):
    id: int
    at: datetime
    content_type: str
    size: int
    url: str


class WorkOrderOut(BaseModel):
    id: int
    site_id: str
    kind: Kind
    source: str
    title: str = Field(description="in the reader's language when the hub wrote it")
    title_code: str | None = Field(description="the title's code in hub/texts, if any")
    title_params: dict[str, Any] | None = Field(description="the code's parameters")
    state: State
    priority: Priority
    skill: str
    device_id: int | None
    unit_id: int | None
    household_id: int | None
    fault_code: str | None
    pm_due_on: date | None
    assignee_id: int | None
    assignee: str | None = Field(description="the assignee's username")
    requested_by: int | None
    created_at: datetime
    due_at: datetime
    assigned_at: datetime | None
    started_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    escalated_at: datetime | None
    overdue: bool = Field(description="not resolved and past the due time")
    rating: int | None


class PlaceOut(BaseModel):
    """Where the job is: the unit of a repair, or the device of a fault and its building."""

    building: str | None = Field(description="the building's name (code)")
    unit: str | None = Field(description="the unit's number")
    floor: int | None
    device: str | None = Field(description="the device's name")
    edge: str | None = Field(description="the edge that drives the device")


class ContactOut(BaseModel):
    """Whom the technician calls: the resident who asked for the repair."""

    name: str
    phone: str | None


class ChecklistItemOut(BaseModel):
    code: str = Field(description="the item's number in the rule, e.g. A1-05 of TSG T5002-2017")
    cycle: str = Field(description="the maintenance cycle it belongs to, e.g. half_monthly")
    text_en: str
    text_zh: str
    done: bool
    done_by: str | None = Field(default=None, description="who ticked it")
    done_at: datetime | None = None


class ChecklistIn(Strict):
    ticks: dict[Annotated[str, Field(min_length=1, max_length=16)], bool] = Field(
        max_length=200, description="item code -> ticked (true) or unticked (false)")


class WorkOrderDetail(WorkOrderOut):
    description: str
    checklist: list[ChecklistItemOut] = Field(
        default_factory=list, description="a preventive visit's items; all ticked to resolve")
    rating_comment: str | None
    rated_at: datetime | None
    history: list[HistoryOut]
    notes: list[NoteOut]
    parts: list[PartOut]
    photos: list[PhotoOut]
    place: PlaceOut | None = Field(default=None, description="null: the order names no place")
    contact: ContactOut | None = Field(default=None, description="null: nobody to call")


class WorkOrderList(BaseModel):
    items: list[WorkOrderOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="null on the last page")


# --- equipment ledger -------------------------------------------------------------------


class CycleOut(BaseModel):
    name: str = Field(description="half_monthly, quarterly … (hub/workorders/cycles.yaml)")
    days: int
    max_days: int = Field(description="the longest interval its rule allows")
    rule: str = Field(description="e.g. TSG T5002-2017, GB 25201-2010")
    text_en: str
    text_zh: str
    last_done_on: date | None
    next_due_on: date


class CycleIn(Strict):
    name: str = Field(min_length=1, max_length=32, description="a cycle of the device's type")
    days: int | None = Field(default=None, ge=1, le=3660, description="default: the rule's")
    next_due_on: date | None = Field(default=None, description="default: one cycle from now")


class EquipmentQuery(Strict):
    site: SiteId | None = None
    due_before: date | None = Field(default=None, description="next due on or before this day")


class EquipmentOut(BaseModel):
    id: int = Field(description="the device's id")
    device_id: int
    site_id: str
    edge: str
    name: str
    device_type: str
    model: str
    install_date: date | None
    cycle_days: int | None = Field(description="maintained every this many days")
    last_maintained_on: date | None
    next_due_on: date | None
    lead_days: int | None = Field(description="open the preventive order this many days "
                                              "ahead (null: the hub's default)")
    skill: str | None = Field(description="of its preventive orders (null: the device type)")
    open_preventive_order: int | None
    cycles: list[CycleOut] = Field(
        default_factory=list, description="its maintenance cycles by the rules of the trade")


class EquipmentList(BaseModel):
    items: list[EquipmentOut]


class EquipmentPatch(Strict):
    """Fields left out stay; null clears. Without next_due_on, a new cycle or last
    maintenance date sets it to last maintained (or installed) + cycle."""

    install_date: date | None = None
    cycle_days: int | None = Field(default=None, ge=1, le=3660)
    last_maintained_on: date | None = None
    next_due_on: date | None = None
    lead_days: int | None = Field(default=None, ge=0, le=60)
    skill: Skill | None = None
    cycles: list[CycleIn] | None = Field(
        default=None, max_length=20,
        description="replaces the device's maintenance cycles; [] sets its type's defaults")

    @field_validator("last_maintained_on")
    @classmethod
    def _after_install(cls, value: date | None, info: ValidationInfo) -> date | None:
        installed = info.data.get("install_date")
        if value is not None and installed is not None and value < installed:
            raise Refusal("invalid.after", "must not be before install_date",
                          other=field_word("install_date"))
        return value


# --- technicians ------------------------------------------------------------------------


class TechnicianQuery(Strict):
    site: SiteId | None = None
    skill: Skill | None = None


class TechnicianOut(BaseModel):
    id: int
    username: str
    site_id: str | None
    skills: list[str]
    open_orders: int = Field(description="assigned or in progress")
    active: bool


class TechnicianList(BaseModel):
    items: list[TechnicianOut]


class TechnicianPatch(Strict):
    skills: list[Skill] = Field(max_length=50, description="replaces the technician's skills")


# --- reports ----------------------------------------------------------------------------


class ReportQuery(Strict):
    site: SiteId | None = None
    since: QueryDatetime | None = Field(default=None, description="opened at or after")
    until: QueryDatetime | None = Field(default=None, description="opened before")
    format: Literal["json", "csv"] = "json"

    _ordered = field_validator("until")(until_after_since)


class ReportRow(BaseModel):
    group: Literal["all", "priority", "skill", "kind"]
    key: str
    opened: int
    resolved: int
    mean_resolve_minutes: float | None = Field(description="opening to resolution")
    within_due: int
    within_due_share: float | None = Field(description="of the resolved, 0 to 1")
    mean_rating: float | None


class ReportOut(BaseModel):
    since: datetime | None
    until: datetime | None
    rows: list[ReportRow]
