"""Request and response models of the signed-credential endpoints (QR, phone keys, passes)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from hub.api.schemas import Name, Phone, SiteId, Strict
from wire.floors import FloorIn

PassStatus = Literal["active", "revoked"]
# Database-safe: PostgreSQL refuses NUL in text and integers past int32 (a 5xx otherwise).
Text200 = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]


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
            raise ValueError("is not base64") from exc
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, this is {len(raw)}")
        return base64.b64encode(raw).decode()


class PhoneKeyOut(BaseModel):
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
            raise ValueError("valid_until must be after valid_from")
        if (self.valid_until - self.valid_from).days > 31:
            raise ValueError("a visitor pass lasts at most 31 days")
        return self


class VisitorPassQuery(Strict):
    site_id: SiteId | None = None
    unit_id: RowId | None = None
    status: PassStatus | None = None


class ShareQuery(Strict):
    code: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                      description="the share link's code")


class VisitorPassOut(BaseModel):
    id: int
    site_id: str
    unit_id: int
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
    items: list[VisitorPassOut]
