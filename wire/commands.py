from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from wire._base import Name, UtcDatetime, WireModel

CommandName = Literal["unlock", "lock", "lockdown", "release", "resync", "elevator_recall"]
_NEEDS_DOOR = ("unlock", "lock")


class EdgeCommand(WireModel):
    """Hub → edge on `cmd`. The edge answers on `cmd/ack` with the same id."""

    id: str = Field(min_length=1, max_length=64)
    ts: UtcDatetime
    command: CommandName
    door: Name | None = None
    reason: str | None = Field(default=None, max_length=500)
    issued_by: str | None = Field(default=None, max_length=128)
    duration_s: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _door_when_needed(self) -> EdgeCommand:
        if self.command in _NEEDS_DOOR and self.door is None:
            raise ValueError(f"command {self.command!r} needs a door")
        return self


class CommandAck(WireModel):
    id: str = Field(min_length=1, max_length=64)
    ts: UtcDatetime
    result: Literal["ok", "failed", "rejected"]
    reason: str = Field(default="", max_length=500)
    # the edge's outbox sequence number it was sent under: the hub confirms it on `stored`
    seq: int | None = Field(default=None, ge=1, le=2**63 - 1)
