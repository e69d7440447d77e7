"""Request and answer models of the camera endpoints (see hub/api/cameras/routes.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from hub.api.core.paging import decode_cursor
from hub.api.core.schemas import Limit, Name, QueryDatetime, SiteId, Strict

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


class CameraAlertQuery(Strict):
    site: SiteId | None = None
    edge: Name | None = None
    camera: Name | None = None
    zone: Name | None = None
    since: QueryDatetime | None = Field(default=None, description="inclusive, with a zone")
    until: QueryDatetime | None = Field(default=None, description="exclusive, with a zone")
    limit: Limit = 50
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value, str)
        return value


class CameraAlertOut(BaseModel):
    id: str
    ts: datetime = Field(description="when the camera saw it (edge time)")
    site: str
    edge: str
    camera: str
    event: str
    zone: str | None
    area: float | None = Field(description="part of the zone that changed")
    detail: str | None
    snapshot_id: str | None
    snapshot_url: str | None = Field(description="GET it for the JPEG (null: none taken)")
    snapshot_available: bool = Field(description="false until the edge's upload arrives, "
                                     "or after its retention")
    clip_id: str | None
    clip_url: str | None
    clip_available: bool


class CameraAlertPage(BaseModel):
    items: list[CameraAlertOut]
    next_cursor: str | None = Field(description="null on the last page")


class SnapshotUploadQuery(Strict):
    id: str = Field(pattern=_UUID, description="the id the edge gave it in its camera event")
    camera: Name
    kind: Literal["snapshot", "clip"] = "snapshot"
    ts: QueryDatetime = Field(description="when it was taken, with a zone")


class SnapshotStored(BaseModel):
    id: str
    url: str
    expires_at: datetime
    created: bool = Field(description="false when the hub already had it (a retried upload)")


class UploadTokenOut(BaseModel):
    edge_id: int
    site: str
    edge: str
    token: str = Field(description="shown once: put it in the edge's config, uploads.token")
