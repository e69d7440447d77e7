from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from wire._base import Name, UtcDatetime, WireModel
from wire.homesec import ArmMode

CommandName = Literal[
    "unlock", "lock", "lockdown", "release", "resync", "elevator_recall", "reset_permissions",
    # the configuration the edge is to take next whatever version it runs (config_version/hash)
    "reset_config",
    # a door's reader: install mode for `duration_s` (OSDP's default key allowed, then a key
    # of its own), and a new key for a reader in service
    "reader_install", "rotate_key",
    # a unit's alarm panel (`device`): arm away or stay, or disarm (`arm_mode`); zones in
    # `bypass` are left out of this arming
    "arm",
    # a vehicle lane's barrier raised by a guard (`lane`, `reason`; `plate`: the held car it
    # lets in, recorded as a temporary vehicle)
    "lane_open",
]
_NEEDS_DOOR = ("unlock", "lock", "reader_install", "rotate_key")
VALIDITY_S = 30  # a command's validity by default: a remote unlock that arrives late is not meant


class EdgeCommand(WireModel):
    """Hub → edge on `cmd` (signed). The edge answers on `cmd/ack` with the same id.

    The target and the validity are inside the signed body: the edge refuses a command for
    another edge, one it has seen (it remembers ids until they expire) and one past `expires`."""

    id: str = Field(min_length=1, max_length=64)
    site: Name
    edge: Name
    ts: UtcDatetime = Field(description="issued at")
    expires: UtcDatetime = Field(description="the edge refuses the command after this")
    command: CommandName
    door: Name | None = None
    reason: str | None = Field(default=None, max_length=500)
    issued_by: str | None = Field(default=None, max_length=128)
    duration_s: float | None = Field(default=None, gt=0, le=3600)
    # reset_permissions: the snapshot the edge is to accept next even though its version is
    # below the one held (the way out of a bad, e.g. far-future, version)
    perm_version: int | None = Field(default=None, ge=1)
    perm_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # reset_config: likewise for the installation (wire.config), e.g. after the hub's database
    # was restored from a backup and counts configuration versions again from lower
    config_version: int | None = Field(default=None, ge=1)
    config_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    device: Name | None = Field(default=None, description="arm: the alarm panel's device id")
    arm_mode: ArmMode | None = None
    bypass: list[int] | None = Field(default=None, max_length=64,
                                     description="arm: zones left out of this arming")
    lane: Name | None = Field(default=None, description="lane_open: the lane")
    plate: str | None = Field(default=None, max_length=16,
                              description="lane_open: the held car let in, if for one")

    @model_validator(mode="after")
    def _fields_needed(self) -> EdgeCommand:
        if self.command in _NEEDS_DOOR and self.door is None:
            raise ValueError(f"command {self.command!r} needs a door")
        if self.command == "reader_install" and self.duration_s is None:
            raise ValueError("reader_install needs duration_s (how long install mode lasts)")
        if (self.command == "reset_permissions") != (
                self.perm_version is not None and self.perm_hash is not None):
            raise ValueError("perm_version and perm_hash go with reset_permissions, and only there")
        if (self.command == "reset_config") != (
                self.config_version is not None and self.config_hash is not None):
            raise ValueError("config_version and config_hash go with reset_config, and only there")
        if (self.command == "arm") != (self.device is not None and self.arm_mode is not None):
            raise ValueError("device and arm_mode go with arm, and only there")
        if (self.command == "lane_open") != (self.lane is not None):
            raise ValueError("lane goes with lane_open, and only there")
        if self.expires <= self.ts:
            raise ValueError("expires must be after ts")
        return self


class CommandAck(WireModel):
    id: str = Field(min_length=1, max_length=64)
    ts: UtcDatetime
    result: Literal["ok", "failed", "rejected"]
    reason: str = Field(default="", max_length=500)
    # the edge's outbox sequence number it was sent under: the hub confirms it on `stored`
    seq: int | None = Field(default=None, ge=1, le=2**63 - 1)
