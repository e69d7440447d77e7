"""What a Modbus link reads and reports: plain frozen records, no protocol objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Table = Literal["coil", "discrete_input", "holding", "input"]
Transport = Literal["rtu", "tcp"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadBlock:
    """One read request per poll: `count` consecutive registers or bits of one table."""

    table: Table
    address: int
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    """One unit and the line it hangs on; the units of one line share its endpoint fields."""

    name: str
    transport: Transport
    unit_id: int
    blocks: tuple[ReadBlock, ...]
    port: str | None = None  # serial device (rtu)
    host: str = "127.0.0.1"  # tcp
    tcp_port: int = 502
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    interval_s: float = 1.0
    timeout_s: float = 0.5
    offline_after: int = 3  # consecutive failed polls before the device is reported offline
    backoff_min_s: float = 0.2
    backoff_max_s: float = 10.0

    @property
    def endpoint(self) -> tuple[str, ...]:
        """What identifies the line: the serial port, or the TCP host and port."""
        if self.transport == "rtu":
            return ("rtu", str(self.port))
        return ("tcp", self.host, str(self.tcp_port))

    @property
    def line_settings(self) -> tuple[int, int, str, int]:
        """Serial settings every unit of one RTU line must share."""
        return (self.baudrate, self.bytesize, self.parity, self.stopbits)


@dataclass(frozen=True, slots=True, kw_only=True)
class PollResult:
    """One complete poll: every block's values keyed by (table, address)."""

    device: str
    values: dict[tuple[Table, int], int | bool]
    latency_s: float  # first request sent to last reply received
    lateness_s: float  # how late the poll started against its schedule


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatus:
    device: str
    online: bool
    reason: str = ""


@dataclass(slots=True)
class Counters:
    """Error counters, reported with the device's health."""

    polls: int = 0
    ok: int = 0
    timeouts: int = 0  # no reply at all
    crc_errors: int = 0  # reply bytes arrived but no frame with a valid CRC
    exceptions: int = 0  # Modbus exception replies
    reconnects: int = 0
    write_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Timing:
    """Recent poll latencies and start lateness, for health and the benchmark."""

    latencies: list[float] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)  # write request to its reply
    keep: int = 1000

    def add(self, latency: float, lateness: float) -> None:
        for series, value in ((self.latencies, latency), (self.lateness, lateness)):
            series.append(value)
            if len(series) > self.keep:
                del series[: len(series) - self.keep]

    def add_write(self, seconds: float) -> None:
        self.writes.append(seconds)
        if len(self.writes) > self.keep:
            del self.writes[: len(self.writes) - self.keep]
