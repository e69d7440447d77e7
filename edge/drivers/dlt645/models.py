"""What a DL/T 645 line is told (its meters) and what it reports (readings, health)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterConfig:
    name: str  # the device id
    address: str  # the meter's 12-digit number
    items: tuple[str, ...] = ("energy_kwh",)  # names in items.ITEMS
    meter_type: int = 0x10  # a CJ/T 188 meter's type: 0x10 cold water, 0x11 hot water
    interval_s: float = 3600.0
    timeout_s: float = 1.0  # after the request left: the standard lets a meter take 500 ms
    retry_s: float = 60.0  # a missed reading is tried again this soon, not an interval later
    offline_after: int = 3  # consecutive failed polls
    backoff_max_s: float = 3600.0  # an offline meter is tried at most this rarely


@dataclass(frozen=True, slots=True, kw_only=True)
class LineConfig:
    port: str
    baudrate: int = 2400  # DL/T 645-2007's default for RS-485 meters, 8E1
    parity: str = "E"
    wake: int = 4  # FE bytes before each request
    protocol: str = "dlt645"  # or "cjt188": water meters (CJ/T 188-2004) on the same kind of line


@dataclass(slots=True)
class Counters:
    polls: int = 0
    ok: int = 0
    timeouts: int = 0
    garbled: int = 0  # checksum, framing, foreign address, wrong DI
    errors: int = 0  # the meter's own error answers


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One complete poll of one meter."""

    meter: str
    values: dict[str, Decimal]
    latency_s: float  # the whole poll, every item


@dataclass(frozen=True, slots=True)
class MeterStatus:
    meter: str
    online: bool
    reason: str | None = None


MeterEvent = MeterReading | MeterStatus


@dataclass(slots=True)
class MeterState:
    config: MeterConfig
    counters: Counters = field(default_factory=Counters)
    online: bool = False
    due: float = 0.0
    failures: int = 0
    retry_s: float = 0.0
    last_error: str | None = None
