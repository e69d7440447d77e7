"""The one contract between edge and hub: MQTT topics and message models.

Everything here depends on pydantic only, so both sides can import it without
importing each other.
"""

from wire import topics
from wire.commands import CommandAck, EdgeCommand
from wire.config import ConfigContent, ConfigSnapshot
from wire.devices import DeviceData, Reading, TelemetryData
from wire.errors import WireError
from wire.events import (
    AccessData,
    AccessEvent,
    AgentData,
    AgentEvent,
    CameraData,
    CameraEvent,
    DeviceEvent,
    DoorData,
    DoorEvent,
    Event,
    TelemetryEvent,
    new_event_id,
    parse_event,
)
from wire.permissions import (
    AccessGroupRule,
    AntiPassbackRule,
    CardCredential,
    CardFormatRule,
    DoorInfo,
    PermissionDelta,
    PermissionSnapshot,
    PhoneKeyGrant,
    ResidentPin,
    Schedule,
    SnapshotContent,
    TimeWindow,
    VisitorPassLimit,
)
from wire.state import EdgeState
from wire.stored import StoredRanges

__all__ = [
    "AccessData",
    "AccessEvent",
    "AccessGroupRule",
    "AgentData",
    "AgentEvent",
    "AntiPassbackRule",
    "CameraData",
    "CameraEvent",
    "CardCredential",
    "CardFormatRule",
    "CommandAck",
    "ConfigContent",
    "ConfigSnapshot",
    "DeviceData",
    "DeviceEvent",
    "DoorData",
    "DoorEvent",
    "DoorInfo",
    "EdgeCommand",
    "EdgeState",
    "Event",
    "PermissionDelta",
    "PermissionSnapshot",
    "PhoneKeyGrant",
    "Reading",
    "ResidentPin",
    "Schedule",
    "SnapshotContent",
    "StoredRanges",
    "TelemetryData",
    "TelemetryEvent",
    "TimeWindow",
    "VisitorPassLimit",
    "WireError",
    "new_event_id",
    "parse_event",
    "topics",
]
