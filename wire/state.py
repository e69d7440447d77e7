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
    # the outbox: messages waiting for the hub's `stored`, and the last sequence number written
    outbox_waiting: int | None = Field(default=None, ge=0)
    outbox_last_seq: int | None = Field(default=None, ge=0, le=2**63 - 1)
