"""Request and answer models of the patrol API (hub.api.patrol.routes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from hub.api.core.schemas import SiteId, Strict

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class CheckpointCreate(Strict):
    site_id: SiteId
    code: Code
    name: Text
    name_zh: Text | None = None
    location: Text | None = None
    kind: Literal["display", "door"] = "display"
    door: Code | None = Field(None, description="kind door: the door whose reader reads it")


class CheckpointOut(BaseModel):
    id: int
    site_id: str
    code: str
    name: str
    name_zh: str | None
    location: str | None
    kind: str
    door: str | None = Field(None, description="kind door: the door whose reader reads it")
    secret: str | None = Field(None, description="the display's key: shown once, on creation")


class GuardCardCreate(Strict):
    site_id: SiteId
    username: Annotated[str, Field(min_length=1, max_length=64)]
    card_number: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Fa-f]+$")]


class GuardCardOut(BaseModel):
    id: int
    site_id: str
    username: str
    card_number: str


class CheckpointList(BaseModel):
    items: list[CheckpointOut]


class StopIn(Strict):
    checkpoint: Code
    allowance_s: int = Field(ge=30, le=86_400, description="due this long after the previous")


class RouteCreate(Strict):
    site_id: SiteId
    code: Code
    name: Text
    name_zh: Text | None = None
    every_min: int | None = Field(None, ge=10, le=1440)
    from_hour: int | None = Field(None, ge=0, le=23)
    to_hour: int | None = Field(None, ge=0, le=23)
    stops: list[StopIn] = Field(min_length=1, max_length=200)


class StopOut(BaseModel):
    checkpoint: str
    allowance_s: int


class RouteOut(BaseModel):
    id: int
    site_id: str
    code: str
    name: str
    name_zh: str | None
    every_min: int | None
    from_hour: int | None
    to_hour: int | None
    stops: list[StopOut]
    waiting_since: datetime | None = Field(
        None, description="the start of its scheduled round nobody has taken yet (the next "
                          "guard to start the route takes it)")


class RouteList(BaseModel):
    items: list[RouteOut]


class GuardKeyCreate(Strict):
    public_key: str = Field(min_length=44, max_length=44, description="raw Ed25519, base64")


class GuardKeyOut(BaseModel):
    id: int
    public_key: str


class RoundStart(Strict):
    site_id: SiteId
    route: Code


class ReadingPost(Strict):
    id: str = Field(min_length=8, max_length=36, description="chosen by the phone: its key")
    checkpoint: Code
    ts: AwareDatetime = Field(description="when read, on the phone")
    code: str | None = Field(None, max_length=12)
    signature: str | None = Field(None, max_length=100)


class ReadingsPost(Strict):
    readings: list[ReadingPost] = Field(min_length=1, max_length=500)


class ReadingOut(BaseModel):
    id: str
    checkpoint_id: int
    position: int
    ts: datetime
    late: bool
    out_of_order: bool


class RoundOut(BaseModel):
    id: int
    site_id: str
    route_id: int
    guard: str | None
    started_at: datetime
    deadline: datetime
    state: str
    finished_at: datetime | None
    readings: list[ReadingOut]


class RoundList(BaseModel):
    items: list[RoundOut]


class RoundQuery(Strict):
    site_id: SiteId | None = None
    state: Literal["open", "completed", "incomplete"] | None = None
    limit: int = Field(100, ge=1, le=500)


class PatrolReportRow(BaseModel):
    site_id: str
    route: str
    guard: str
    rounds: int
    completed: int
    incomplete: int
    open: int
    completion_rate: float = Field(description="completed / (completed + incomplete)")
    missed: int = Field(description="checkpoints missed")
    stalled: int = Field(description="times the guard stopped (no checkpoint in time)")
    late: int
    out_of_order: int


class PatrolReport(BaseModel):
    items: list[PatrolReportRow]


class PatrolExceptionRow(BaseModel):
    at: datetime = Field(description="when the hub found it")
    round: int
    route: str
    guard: str = Field(description="'-': a scheduled round nobody took")
    kind: str = Field(description="missed (a checkpoint) or stalled (the guard stopped)")
    checkpoint: str
    checkpoint_name: str
    checkpoint_name_zh: str | None


class PatrolExceptions(BaseModel):
    items: list[PatrolExceptionRow]
