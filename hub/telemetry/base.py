"""What every telemetry sink takes and gives: points of one device's named readings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from hub.errors import HubError

Value = float | str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRef:
    """A device as events name it: unique within its site and edge."""

    site: str
    edge: str
    device: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetryPoint:
    site: str
    edge: str
    device: str
    name: str
    ts: datetime
    value: Value  # numbers (and booleans, as 0/1) are floats; anything else is text
    unit: str | None = None


class TelemetryError(HubError):
    """A sink could not store or read telemetry."""


class TelemetryWriteError(TelemetryError):
    """The sink refused or could not be reached (the ingest then keeps the points in SQL)."""


class TelemetryQueryUnsupported(TelemetryError):
    """This sink stores telemetry but cannot read it back through the hub."""


@runtime_checkable
class TelemetrySink(Protocol):
    async def write(self, points: Sequence[TelemetryPoint]) -> None:
        """Store points; writing the same point twice leaves one (redeliveries are harmless)."""
        ...

    async def query(self, device: DeviceRef, since: datetime | None, until: datetime | None,
                    limit: int, *, name: str | None = None) -> list[TelemetryPoint]:
        """Points of one device in [since, until), newest first, at most `limit`."""
        ...


def as_value(raw: float | str) -> Value:
    """A wire reading as a sink stores it."""
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        return float(raw)
    return raw
