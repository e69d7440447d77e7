"""Request and response models of the credential endpoints: signed QR and phone keys, visitor
passes, cards."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.api.core.schemas import (
    Limit,
    Name,
    Out,
    Phone,
    QueryDatetime,
    RowId,
    SiteId,
    Strict,
    _cursor_of,
    _refuse_null,
    until_after_since,
)
from hub.texts.validation import Refusal, field_word
from wire.floors import FloorIn

PassStatus = Literal["active", "revoked"]
# Database-safe: PostgreSQL refuses NUL in text and integers past int32 (a 5xx otherwise).
Text200 = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]


class QrQuery(Strict):
    format: Literal["json", "png", "svg"] = Field(
        default="json", description="json: the token; png / svg: the QR image of it"
    )


class QrOut(BaseModel):
    token: str = Field(description="the text the QR code holds")
    resident_id: int
    not_before: datetime
    expires: datetime
    refresh_in_s: int = Field(description="seconds until the app should fetch the next code")


class PhoneKeyCreate(Strict):
    public_key: str = Field(description="raw Ed25519 public key, base64 (32 bytes)")
    label: str = Field(default="", max_length=100, pattern=r"^[^\x00]*$")

    @field_validator("public_key")
    @classmethod
    def _ed25519(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refusal("invalid.base64", "is not base64") from exc
        if len(raw) != 32:
            raise Refusal("invalid.key_length",
                          f"an Ed25519 public key is 32 bytes, this is {len(raw)}", n=len(raw))
        return base64.b64encode(raw).decode()


class PhoneKeyOut(Out):
    id: int
    resident_id: int
    public_key: str
    label: str
    status: Literal["active", "revoked"]
    created_at: datetime
    revoked_at: datetime | None


class PhoneKeyList(BaseModel):
    items: list[PhoneKeyOut]


class VisitorPassCreate(Strict):
    visitor_name: Text200
    visitor_phone: Phone
    unit_id: RowId = Field(description="the host unit")
    doors: list[Name] = Field(min_length=1, max_length=50, description="door names in the site")
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    max_uses: int = Field(default=2, ge=1, le=100, description="uses allowed, e.g. in and out")
    floors: list[FloorIn] | None = Field(
        default=None, max_length=20,
        description="floors a car reader among `doors` enables: by default the host unit's; "
        "a resident may name only that one, staff any (numbers, -1 = B1, or labels)")

    @model_validator(mode="after")
    def _window(self) -> VisitorPassCreate:
        if self.valid_until <= self.valid_from:
            raise Refusal("invalid.after", "valid_until must be after valid_from",
                          other=field_word("valid_from"))
        if (self.valid_until - self.valid_from).days > 31:
            raise Refusal("invalid.pass_too_long", "a visitor pass lasts at most 31 days")
        return self


PassState = Literal["in_force", "expired", "used_up", "revoked"]


class VisitorPassQuery(Strict):
    site_id: SiteId | None = None
    unit_id: RowId | None = None
    building_id: RowId | None = Field(default=None, description="passes to the building's units")
    status: PassStatus | None = None
    state: PassState | None = Field(default=None, description=(
        "as the desk sees it now: in_force (active, within its window, uses left), expired, "
        "used_up or revoked"))
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="part of the visitor's name or phone")
    since: QueryDatetime | None = Field(default=None, description="issued at or after")
    until: QueryDatetime | None = Field(default=None, description="issued before")
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page")
    limit: Limit = 50

    _ordered = field_validator("until")(until_after_since)
    _cursor = field_validator("cursor")(_cursor_of(int))


class ShareQuery(Strict):
    code: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                      description="the share link's code")


class VisitorPassOut(BaseModel):
    id: int
    site_id: str
    unit_id: int
    unit_label: str = Field(description="the host unit as people name it: building code and "
                            "number, e.g. B1 101")
    visitor_name: str
    visitor_phone: str
    doors: list[str]
    valid_from: datetime
    valid_until: datetime
    max_uses: int
    uses: int = Field(description="uses recorded from the doors' access events")
    floors: list[int] = Field(default_factory=list, description="floors enabled at car readers")
    status: PassStatus
    created_at: datetime
    revoked_at: datetime | None
    qr_url: str | None = Field(description="the pass's QR image (PNG); null for a reader who "
                               "may not hold it (a technician)")
    share_url: str | None = Field(description="a link for the visitor: the QR image, no login "
                                  "needed; null for a reader who may not hold it")


class VisitorPassIssued(VisitorPassOut):
    token: str = Field(description="the signed text the QR code holds")
    qr_png_base64: str


class VisitorPassList(BaseModel):
    items: list[VisitorPassOut] = Field(description="newest first")
    next_cursor: str | None = Field(default=None, description="null on the last page")


# --- cards -----------------------------------------------------------------------------------

CardNumber = Annotated[
    str, Field(pattern=r"^[0-9]{1,20}$", description="digits only, 1 to 20 of them")
]
CardStatus = Literal["active", "revoked", "lost", "suspended"]
# what the door would make of the card now: its status, or the validity window's verdict
CardState = Literal["active", "revoked", "lost", "suspended", "expired", "not_yet_valid"]
FacilityCode = Annotated[int, Field(ge=0, le=65535)]


def _until_after_from(value: datetime | None, info: ValidationInfo) -> datetime | None:
    start = info.data.get("valid_from")
    if value is not None and start is not None and value <= start:
        raise Refusal("invalid.after", "valid_until must be after valid_from",
                      other=field_word("valid_from"))
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
