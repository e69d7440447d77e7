"""The compiled permission snapshot the hub publishes (retained) to each edge."""

from __future__ import annotations

import hashlib
import json
import re
import zoneinfo
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from wire._base import Name, UtcDatetime, WireModel
from wire.errors import Refused
from wire.floors import Floor, floor_list
from wire.vehicles import VehiclePermissions

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
            raise Refused("invalid.weekdays", "days must be 0 (Monday) to 6 (Sunday)")
        return sorted(set(days))

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise Refused("invalid.hhmm", f"{value!r} is not HH:MM", value=value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if minutes(self.end) <= minutes(self.start):
            raise Refused("invalid.end_after_start", f"end {self.end} is not after start {self.start}",
                          start=self.start, end=self.end)
        return self


class Schedule(WireModel):
    id: Name
    windows: list[TimeWindow] = Field(min_length=1)


DoorModeName = Literal["normal", "locked_down", "unlocked_on_schedule"]


class DoorInfo(WireModel):
    id: Name
    name: str = Field(max_length=200)
    mode: DoorModeName = "normal"
    pin_required: bool = Field(
        default=False, description="card + PIN: a granted card opens only after its holder's PIN")
    unlock_schedule: Name | None = Field(
        default=None,
        description="unlocked_on_schedule: the schedule whose windows keep the door unlocked",
    )

    @model_validator(mode="after")
    def _schedule_for_mode(self) -> DoorInfo:
        if self.mode == "unlocked_on_schedule" and self.unlock_schedule is None:
            raise ValueError(f"door {self.id}: unlocked_on_schedule needs an unlock_schedule")
        return self


HolidayMode = Literal["normal", "closed", "schedule"]


class AccessGroupRule(WireModel):
    id: int
    doors: list[Name]
    schedule: Name | None = Field(default=None, description="None means at all times")
    holiday_mode: HolidayMode = Field(
        default="normal",
        description="on a site holiday: normal = the weekly schedule as usual, closed = no "
        "access, schedule = holiday_schedule instead of the weekly one",
    )
    holiday_schedule: Name | None = None
    floors: list[Floor] = Field(
        default_factory=list, max_length=200,
        description="building floors (1 ground, -1 B1, no 0) a car reader among `doors` "
        "enables for this group's credentials",
    )

    _floors = field_validator("floors")(floor_list)

    @model_validator(mode="after")
    def _holiday_schedule(self) -> AccessGroupRule:
        if (self.holiday_mode == "schedule") != (self.holiday_schedule is not None):
            raise ValueError(
                f"group {self.id}: holiday_schedule is required with holiday_mode 'schedule' "
                "and only then"
            )
        return self


class AntiPassbackRule(WireModel):
    """An entry/exit door pair: a card must leave through `exit` before entering again.

    hard refuses a second entry (or an exit without entry); soft grants and reports it. A
    card's last direction is forgotten after `reset_s` (None: never, until it passes the other
    door)."""

    id: int
    entry: Name
    exit: Name
    mode: Literal["soft", "hard"] = "hard"
    reset_s: int | None = Field(default=None, ge=1, le=7 * 86400)

    @model_validator(mode="after")
    def _two_doors(self) -> AntiPassbackRule:
        if self.entry == self.exit:
            raise ValueError(f"anti-passback {self.id}: entry and exit are the same door")
        return self


PublicKey = Annotated[str, Field(min_length=44, max_length=44, pattern=r"^[A-Za-z0-9+/]{43}=$")]


class CardCredential(WireModel):
    card: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z:_-]+$")
    resident_id: int | None = None
    status: Literal["active", "revoked", "lost", "suspended"] = "active"
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    groups: list[int] = Field(default_factory=list)
    floors: list[Floor] = Field(
        default_factory=list, max_length=200,
        description="the holder's own floors (a resident's unit), enabled by a car reader "
        "where one of `groups` grants entry, beside those groups' floors",
    )

    _floors = field_validator("floors")(floor_list)


WiegandBits = Literal[26, 34]


def _both_formats() -> list[WiegandBits]:
    return [26, 34]


class CardFormatRule(WireModel):
    """How the site's readers' raw Wiegand reads are decoded, and whether the facility code
    is checked. 26-bit is H10301 (8-bit facility, 16-bit card); 34-bit carries a 16-bit
    facility and a 16-bit card; both with leading even and trailing odd parity. A number the
    reader decoded itself carries no facility code and is taken as it is."""

    wiegand: list[WiegandBits] = Field(default_factory=_both_formats, min_length=1,
                                       description="raw formats the site's cards use")
    check_facility: bool = Field(default=False, description="refuse reads of other facilities")
    facility_codes: list[int] = Field(default_factory=list, max_length=64,
                                      description="the site's facility codes")

    @field_validator("facility_codes")
    @classmethod
    def _codes(cls, codes: list[int]) -> list[int]:
        if any(not 0 <= c <= 0xFFFF for c in codes):
            raise ValueError("a facility code is 0 to 65535")
        return sorted(set(codes))

    @model_validator(mode="after")
    def _codes_to_check(self) -> CardFormatRule:
        if self.check_facility and not self.facility_codes:
            raise ValueError("check_facility needs the site's facility_codes")
        return self


# pbkdf2_sha256$<iterations>$<salt, base64>$<hash, base64>: what the edge needs to verify
PIN_HASH_PATTERN = r"^pbkdf2_sha256\$[0-9]{4,7}\$[A-Za-z0-9+/=]{16,44}\$[A-Za-z0-9+/=]{44}$"


class ResidentPin(WireModel):
    """A resident's keypad PIN as the hub stores it: salted PBKDF2, verified at the edge
    offline. The duress PIN, when set, shares the salt and the iterations, so one derivation
    checks both."""

    resident_id: int
    hash: str = Field(pattern=PIN_HASH_PATTERN)
    duress_hash: str | None = Field(default=None, pattern=PIN_HASH_PATTERN)

    @model_validator(mode="after")
    def _same_salt(self) -> ResidentPin:
        if self.duress_hash is not None and (
                self.duress_hash.rsplit("$", 1)[0] != self.hash.rsplit("$", 1)[0]):
            raise ValueError(f"resident {self.resident_id}: the duress PIN must share the "
                             "PIN's salt and iterations")
        return self


class PhoneKeyGrant(WireModel):
    """A resident's registered phone key for Bluetooth: raw Ed25519 public key, base64."""

    id: int = Field(ge=1)
    resident_id: int
    public_key: str = Field(min_length=44, max_length=44)


class VisitorPassLimit(WireModel):
    """How often a visitor pass may be used, and the uses the hub has recorded so far."""

    id: int = Field(ge=1)
    max_uses: int = Field(ge=1)
    uses: int = Field(default=0, ge=0)


class SnapshotContent(WireModel):
    """What a snapshot grants; its canonical JSON is what the hash covers."""

    site: Name
    edge: Name
    timezone: str = "Asia/Shanghai"
    doors: list[DoorInfo] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    groups: list[AccessGroupRule] = Field(default_factory=list)
    credentials: list[CardCredential] = Field(default_factory=list)
    holidays: list[date] = Field(
        default_factory=list, description="the site's holiday dates, site local"
    )
    anti_passback: list[AntiPassbackRule] = Field(default_factory=list)
    card_format: CardFormatRule = Field(default_factory=CardFormatRule)
    pins: list[ResidentPin] = Field(
        default_factory=list, description="PINs of the residents holding a credential here")
    # Signed credentials (QR, Bluetooth, visitor passes). Their grants ride in `credentials`
    # under the keys `qr:<resident id>`, `ble:<phone key id>` and `pass:<pass id>` (no card
    # reader yields these: OSDP card numbers are decimal), so they share the card's status,
    # validity, groups and schedules; a pass's door set is a group with id -<pass id>.
    hub_public_key: str | None = Field(
        default=None, min_length=44, max_length=44,
        description="the hub's Ed25519 public key (raw, base64) that signs QR and pass tokens",
    )
    phone_keys: list[PhoneKeyGrant] = Field(default_factory=list)
    visitor_passes: list[VisitorPassLimit] = Field(default_factory=list)
    downlink_keys: list[PublicKey] = Field(
        default_factory=list, max_length=8,
        description="the hub keys (raw Ed25519, base64) the edge accepts on its downlink besides "
        "its configured ones: the current key and, during a rollover, the next",
    )
    vehicles: VehiclePermissions | None = Field(
        default=None, description="the site's vehicle permissions, for an edge with lanes")

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
            if group.holiday_schedule is not None and group.holiday_schedule not in schedules:
                raise ValueError(
                    f"group {group.id} names unknown holiday schedule {group.holiday_schedule!r}"
                )
        doors = {d.id for d in self.doors}
        for door in self.doors:
            if door.unlock_schedule is not None and door.unlock_schedule not in schedules:
                raise ValueError(f"door {door.id} names unknown schedule {door.unlock_schedule!r}")
        for pair in self.anti_passback:
            missing_doors = [d for d in (pair.entry, pair.exit) if d not in doors]
            if missing_doors:
                raise ValueError(f"anti-passback {pair.id} names unknown doors {missing_doors}")
        pin_holders = [p.resident_id for p in self.pins]
        if len(set(pin_holders)) != len(pin_holders):
            raise ValueError("a resident has two PIN records")
        for cred in self.credentials:
            missing = [g for g in cred.groups if g not in groups]
            if missing:
                raise ValueError(f"credential {cred.card} names unknown groups {missing}")
        return self

    def content_json(self) -> str:
        """The canonical JSON of the content (not version or time): fields in declaration
        order, compact, written by pydantic's serialiser in one pass (the compiler sorts every
        list, so equal content gives equal text)."""
        return self.model_dump_json(include=_CONTENT_KEYS)

    def content_hash(self) -> str:
        """SHA-256 over `content_json()`."""
        return hashlib.sha256(self.content_json().encode()).hexdigest()


_CONTENT_KEYS = set(SnapshotContent.model_fields)


def sealed_payload(content_json: str, version: int, digest: str, issued_at: datetime) -> bytes:
    """A PermissionSnapshot's JSON from its content's JSON, without serialising it again."""
    tail = json.dumps({"version": version, "hash": digest,
                       "issued_at": issued_at.astimezone(UTC).isoformat().replace("+00:00", "Z")},
                      separators=(",", ":"))
    return (content_json[:-1] + "," + tail[1:]).encode()


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


class PermissionDelta(WireModel):
    """The credentials that changed from `base_version` to `version` (nothing else did).

    Sent (not retained) just before the retained full snapshot of `version`, so an edge holding
    exactly the base applies a revocation in milliseconds instead of parsing every credential
    again; an edge holding anything else ignores it and waits for the full snapshot. `hash` is
    the full snapshot's, which then arrives as a no-op."""

    site: Name
    edge: Name
    base_version: int = Field(ge=1)
    base_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    version: int = Field(ge=2)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    issued_at: UtcDatetime
    upsert: list[CardCredential] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list, description="card numbers no longer held")

    @model_validator(mode="after")
    def _follows(self) -> PermissionDelta:
        if self.version <= self.base_version:
            raise ValueError(f"version {self.version} does not follow {self.base_version}")
        cards = [c.card for c in self.upsert] + self.remove
        if len(set(cards)) != len(cards):
            raise ValueError("a card appears twice in upsert/remove")
        return self
