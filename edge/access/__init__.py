"""The door decides locally: permission cache, schedules, card decision, door state machine."""

from edge.access.cache import CachedCredential, CachedSnapshot, PermissionCache
from edge.access.decision import AccessDecider, Decision
from edge.access.door import Action, DoorMode, DoorStateMachine, Emit, SetLock
from edge.access.errors import AccessError, CacheStorageError, SnapshotRejectedError
from edge.access.schedule import WeeklySchedule, is_open, site_local

__all__ = [
    "AccessDecider",
    "AccessError",
    "Action",
    "CacheStorageError",
    "CachedCredential",
    "CachedSnapshot",
    "Decision",
    "DoorMode",
    "DoorStateMachine",
    "Emit",
    "PermissionCache",
    "SetLock",
    "SnapshotRejectedError",
    "WeeklySchedule",
    "is_open",
    "site_local",
]
