"""Event envelope and the typed data of each event kind."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from wire._base import Name, UtcDatetime, WireModel, describe
from wire.devices import DeviceData, TelemetryData
from wire.errors import WireError
from wire.homesec import HomeSecurityData
from wire.topics import TopicParts
from wire.vehicles import LaneData, VehicleData

EventId = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"),
]

AccessReason = Literal[
    "granted",
    "unknown_card",
    "revoked",
    "lost",
    "suspended",
    "expired",
    "not_yet_valid",
    "outside_schedule",
    "not_permitted",
    "door_locked_down",
    "unknown_door",
    "anti_passback",
    "holiday",
    # signed credentials (QR, Bluetooth, visitor passes)
    "malformed_token",
    "bad_signature",
    "token_expired",
    "token_not_yet_valid",
    "replayed",
    "unknown_key",
    "stale_challenge",
    "unknown_pass",
    "pass_expired",
    "pass_used_up",
    "pass_revoked",
    # the reader's vocabulary: raw Wiegand reads and card + PIN
    "bad_parity",
    "unknown_format",
    "wrong_facility",
    "pin_wrong",
    "pin_timeout",
    "pin_not_set",
    # a grant under a duress PIN (a warning only: the door opens as usual, guards are told)
    "duress",
]
CredentialType = Literal["card", "qr", "ble", "visitor_pass"]


def new_event_id(at: datetime | None = None) -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds then randomness, so ids sort by time;
    `at`: the time it carries (now by default; a replay or a test stamps its own)."""
    ms = time.time_ns() // 1_000_000 if at is None else int(at.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return str(uuid.UUID(int=value))


CREDENTIAL_MAX_LEN = 128  # longer ones are cut to fit and the event flagged `malformed`


class AccessData(WireModel):
    door: Name
    credential_type: CredentialType = "card"
    credential: str = Field(min_length=1, max_length=CREDENTIAL_MAX_LEN,
                            description="as read, e.g. the card number")
    resident_id: int | None = None
    result: Literal["granted", "denied"]
    reason: AccessReason
    decision_us: int = Field(ge=0, description="time taken by the decision, microseconds")
    warning: AccessReason | None = Field(
        default=None, description="a refusal let through, e.g. soft anti_passback"
    )
    pass_id: int | None = Field(default=None, description="the visitor pass presented, if any")
    pass_uses: int | None = Field(
        default=None, ge=0, description="uses of the pass counted at this edge, this one included"
    )
    # A hub from before the flag refuses unknown fields: only flagged events carry it (a
    # field's own exclude_if: a wrapping model_serializer tripled every dump's cost).
    malformed: str | None = Field(
        default=None, min_length=1, max_length=500, exclude_if=lambda value: value is None,
        description="set when what was read could not be carried as it is: what was altered "
        "and how (e.g. a card number truncated); the attempt is kept, never dropped",
    )

    @model_validator(mode="after")
    def _result_matches_reason(self) -> AccessData:
        if (self.result == "granted") != (self.reason == "granted"):
            raise ValueError(f"result {self.result!r} contradicts reason {self.reason!r}")
        return self


DoorEventType = Literal[
    "unlocked", "locked", "opened", "closed", "held_open", "forced_open", "rex",
    "lockdown", "released",
    # the reader's own reports: its tamper switch and power monitor
    "reader_tamper", "reader_tamper_cleared", "reader_power_fail", "reader_power_ok",
    # wrong PINs in a row at the door's keypad (a door-level alarm)
    "pin_failures",
]


DoorCause = Literal["grant", "rex", "remote", "schedule", "lockdown", "fire"]


class DoorData(WireModel):
    door: Name
    event: DoorEventType
    cause: DoorCause | None = None
    detail: str | None = Field(default=None, max_length=500)


AgentEventType = Literal[
    "started", "stopping", "perm_applied", "perm_rejected", "device_online",
    "device_offline", "command",
    # a reader answers but offers OSDP's default key or fails the secure channel (`door`,
    # `address`; `reason`: default_key / secure_channel_failed): the edge does not use it
    "reader_insecure",
    # commissioning: a door's reader in install mode (OSDP's default key allowed) for a
    # while, given a key of its own (`sealed_key`: the key sealed to the hub), a KEYSET
    # refused, the install window over
    "reader_install", "reader_keyed", "reader_key_failed", "reader_install_ended",
    # free space under the edge's data folder fell below its threshold / is back above it
    "disk_low", "disk_ok",
    # a hub → edge message refused: not signed by an accepted hub key, for another edge,
    # replayed or stale (edge.trust); `reason` and `topic` say which and where
    "downlink_refused",
    # the hub's configuration (wire.config) applied, or refused as a whole (`config_version`;
    # `reason`: a short word, `detail`: what and why); a refused one leaves the previous running
    "config_applied", "config_refused",
    # a plate camera's push refused: wrong or missing credentials (`detail`: the lane, the
    # peer and how many were refused since the last report)
    "camera_push_refused",
]


class AgentData(WireModel):
    event: AgentEventType
    door: Name | None = None  # a reader's events: its door, and its OSDP address
    address: int | None = Field(default=None, ge=0, le=127)
    detail: str = Field(default="", max_length=2000)
    perm_version: int | None = Field(default=None, ge=0)
    config_version: int | None = Field(default=None, ge=0)
    reason: str | None = Field(default=None, max_length=64)
    topic: str | None = Field(default=None, max_length=256)
    sealed_key: str | None = Field(
        default=None, max_length=400,
        description="reader_keyed: the reader's new key sealed to the hub's key (base64)")
    key_fingerprint: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{16}$",
        description="reader_keyed: the first 8 bytes of the key's SHA-256, hex")


class CameraData(WireModel):
    """kind `camera`: an alert a camera raised, with its snapshot (and clip) uploaded to the
    hub over HTTP under the ids given here (`GET /api/v1/snapshots/{id}`)."""

    camera: Name
    event: Literal["motion"]
    zone: Name | None = Field(default=None, description="the armed zone the motion was in")
    area: float | None = Field(default=None, ge=0, le=1, description="part of the zone changed")
    snapshot_id: EventId | None = Field(default=None, description="JPEG at the hub, if any")
    clip_id: EventId | None = Field(default=None, description="short clip at the hub, if any")
    detail: str | None = Field(default=None, max_length=500)


class _Envelope(WireModel):
    id: EventId
    ts: UtcDatetime = Field(description="time at the edge, UTC")
    site: Name
    edge: Name
    device: Name
    seq: int = Field(ge=0, description="per-edge monotonic sequence number")


class AccessEvent(_Envelope):
    kind: Literal["access"] = "access"
    data: AccessData


class DoorEvent(_Envelope):
    kind: Literal["door"] = "door"
    data: DoorData


class AgentEvent(_Envelope):
    kind: Literal["agent"] = "agent"
    data: AgentData


class DeviceEvent(_Envelope):
    kind: Literal["device"] = "device"
    data: DeviceData


class TelemetryEvent(_Envelope):
    kind: Literal["telemetry"] = "telemetry"
    data: TelemetryData


class CameraEvent(_Envelope):
    kind: Literal["camera"] = "camera"
    data: CameraData


class VehicleEvent(_Envelope):
    kind: Literal["vehicle"] = "vehicle"
    data: VehicleData


class LaneEvent(_Envelope):
    kind: Literal["lane"] = "lane"
    data: LaneData


class HomeSecurityEvent(_Envelope):
    kind: Literal["homesec"] = "homesec"
    data: HomeSecurityData


Event = Annotated[
    AccessEvent | DoorEvent | AgentEvent | DeviceEvent | TelemetryEvent | CameraEvent
    | VehicleEvent | LaneEvent | HomeSecurityEvent,
    Field(discriminator="kind"),
]
_EVENT = TypeAdapter(Event)


def parse_event(raw: bytes | str, topic: TopicParts | None = None) -> Event:
    """Parse and validate an event; with `topic`, also check it was published where it claims.

    Raises WireError naming the field and the reason; nothing is half-accepted.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        event = _EVENT.validate_json(raw)
    except ValidationError as exc:
        raise WireError(f"invalid event: {describe(exc)}") from exc
    if topic is not None:
        claimed = (event.site, event.edge, event.kind)
        actual = (topic.site, topic.edge, topic.kind)
        if claimed != actual:
            raise WireError(
                f"event claims site/edge/kind {'/'.join(claimed)} "
                f"but was published on {'/'.join(str(a) for a in actual)}"
            )
    return event
