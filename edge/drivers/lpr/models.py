"""What a plate camera reported, whatever its vendor's format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PlateReading:
    plate: str  # as recognised, e.g. 粤B12345 (the vendor's separators removed)
    colour: str | None  # blue, yellow, green, white, black or None when unknown
    confidence: float  # 0 to 1
    seen_at: datetime | None  # the camera's own clock, UTC, when it says
    camera_serial: str | None
    reading_id: str | None  # the camera's id for the reading, when it gives one
    offline: bool  # a reading the camera stored while it could not push, sent late
    picture: bytes | None  # JPEG, when the camera sent one


@dataclass(frozen=True, slots=True, kw_only=True)
class PushAnswer:
    """The HTTP body the camera expects back, which also works its barrier relay."""

    body: bytes
    content_type: str = "application/json"
