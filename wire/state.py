from __future__ import annotations

from typing import Literal

from pydantic import Field

from wire._base import UtcDatetime, WireModel

# Liveness, agreed by both sides: an edge says "online" again every HEARTBEAT_SHARE of its MQTT
# keepalive, and the hub counts it offline once it has heard nothing for SILENT_AFTER times the
# keepalive: one heartbeat may go missing (plus a quarter keepalive of delay) without an
# alarm, and a power loss is seen within 1.25 x keepalive + the hub's sweep, before the
# broker's own 1.5 x keepalive (when it sends the will).
HEARTBEAT_SHARE = 0.5
SILENT_AFTER = 1.25


def heartbeat_s(keepalive_s: float) -> float:
    """How often an edge republishes its state."""
    return keepalive_s * HEARTBEAT_SHARE


def silent_after_s(keepalive_s: float) -> float:
    """How long the hub waits, hearing nothing, before it counts an edge offline."""
    return keepalive_s * SILENT_AFTER


class EdgeState(WireModel):
    """Retained on `state`; the offline form is also the agent's MQTT will."""

    status: Literal["online", "offline"]
    agent_version: str = Field(max_length=64)
    perm_version: int | None = Field(default=None, ge=0)
    perm_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # the installation (wire.config) the edge runs, and the last one it refused (if that is
    # newer): the version, and why, in a few words
    config_version: int | None = Field(default=None, ge=0)
    config_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    config_refused_version: int | None = Field(default=None, ge=0)
    config_refused: str | None = Field(default=None, max_length=2000)
    ts: UtcDatetime | None = None
    # the outbox: messages waiting for the hub's `stored`, and the last sequence number written
    outbox_waiting: int | None = Field(default=None, ge=0)
    outbox_last_seq: int | None = Field(default=None, ge=0, le=2**63 - 1)
    # hub messages it refused (unsigned, forged, replayed, for another edge) since it started
    downlink_refused: int | None = Field(default=None, ge=0, le=2**63 - 1)
    # the edge's MQTT keepalive: it republishes this state every heartbeat_s() of it
    keepalive_s: int | None = Field(default=None, ge=1, le=3600)
