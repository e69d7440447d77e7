"""What every domain's request and answer models share: the field types (site id, name, row id,
times in queries …), `Strict`, the error answers, login and health. Each domain keeps its own
models beside its routes (e.g. hub.api.access.schemas)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
)

from hub.api.core.paging import decode_cursor
from hub.texts.validation import Refusal, field_word

SiteId = Annotated[str, Field(min_length=1, max_length=64, description="site id, e.g. 'sunrise'")]
# the same spelling rules as door, edge and schedule names on the wire
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Phone = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^\+?[0-9][0-9 ()-]*$")]
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
        raise Refusal("invalid.after", "must be later than since", other=field_word("since"))
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


class Out(BaseModel):
    """An answer read straight from its row: `XOut.model_validate(row)`."""

    model_config = ConfigDict(from_attributes=True)


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise Refusal("invalid.not_null", "may not be null")
    return value


# --- auth and health -------------------------------------------------------------------------


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    expires_at: datetime


class ReplicaOut(BaseModel):
    state: Literal["ok", "paused", "down"] = Field(
        description="down: reads fall back to the primary; paused: replay paused, lag grows")
    lag_bytes: int | None = Field(default=None, description="WAL the replica has not replayed")
    lag_s: float | None = Field(default=None, description="age of the oldest write not replayed")
    error: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    # left out without a replica, so a single-database hub answers as it always did
    replica: ReplicaOut | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="the read replica, when database_replica_url is set")


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


# --- shared queries -------------------------------------------------------------------------


class SiteQuery(Strict):
    site_id: SiteId | None = None


__all__ = [name for name in dir() if name[0].isupper()]
