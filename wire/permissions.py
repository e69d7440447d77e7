"""The compiled permission snapshot the hub publishes (retained) to each edge."""

from __future__ import annotations

import hashlib
import json
import re
import zoneinfo
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from wire._base import Name, UtcDatetime, WireModel

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


class TimeWindow(WireModel):
    """Days are ISO weekdays counted from 0 (Monday) to 6 (Sunday); end is exclusive."""

    days: list[int] = Field(min_length=1, max_length=7)
    start: str = Field(description="HH:MM, site local time")
    end: str = Field(description="HH:MM or 24:00, after start")

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in days):
            raise ValueError("days must be 0 (Monday) to 6 (Sunday)")
        return sorted(set(days))

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not HH:MM")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if minutes(self.end) <= minutes(self.start):
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class Schedule(WireModel):
    id: Name
    windows: list[TimeWindow] = Field(min_length=1)


class DoorInfo(WireModel):
    id: Name
    name: str = Field(max_length=200)
    mode: Literal["normal", "locked_down"] = "normal"


class AccessGroupRule(WireModel):
    id: int
    doors: list[Name]
    schedule: Name | None = Field(default=None, description="None means at all times")
    floors: list[int] = Field(
        default_factory=list, max_length=200,
        description="floors a car reader among `doors` enables for this group's cards",
    )


class CardCredential(WireModel):
    card: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z:_-]+$")
    resident_id: int | None = None
    status: Literal["active", "revoked", "lost", "suspended"] = "active"
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    groups: list[int] = Field(default_factory=list)


class SnapshotContent(WireModel):
    """What a snapshot grants; its canonical JSON is what the hash covers."""

    site: Name
    edge: Name
    timezone: str = "Asia/Shanghai"
    doors: list[DoorInfo] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    groups: list[AccessGroupRule] = Field(default_factory=list)
    credentials: list[CardCredential] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SnapshotContent:
        schedules = {s.id for s in self.schedules}
        groups = {g.id for g in self.groups}
        for group in self.groups:
            if group.schedule is not None and group.schedule not in schedules:
                raise ValueError(f"group {group.id} names unknown schedule {group.schedule!r}")
        for cred in self.credentials:
            missing = [g for g in cred.groups if g not in groups]
            if missing:
                raise ValueError(f"credential {cred.card} names unknown groups {missing}")
        return self

    def content_hash(self) -> str:
        """SHA-256 over the canonical JSON of the content (not version or time)."""
        body = self.model_dump(mode="json", include=set(SnapshotContent.model_fields))
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class PermissionSnapshot(SnapshotContent):
    version: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="content_hash() of the content")
    issued_at: UtcDatetime

    @model_validator(mode="after")
    def _hash_matches(self) -> PermissionSnapshot:
        if self.hash != self.content_hash():
            raise ValueError("hash does not match the snapshot's content")
        return self

    @classmethod
    def build(cls, content: SnapshotContent, version: int, issued_at: datetime) -> PermissionSnapshot:
        """Seal validated content with its version and hash."""
        fields = {name: getattr(content, name) for name in SnapshotContent.model_fields}
        return cls.model_construct(
            **fields, version=version, hash=content.content_hash(), issued_at=issued_at
        )
