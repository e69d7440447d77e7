from __future__ import annotations

from typing import Literal

from pydantic import Field

from wire._base import UtcDatetime, WireModel


class EdgeState(WireModel):
    """Retained on `state`; the offline form is also the agent's MQTT will."""

    status: Literal["online", "offline"]
    agent_version: str = Field(max_length=64)
    perm_version: int | None = Field(default=None, ge=0)
    perm_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    ts: UtcDatetime | None = None
