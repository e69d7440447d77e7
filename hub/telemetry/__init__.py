"""Telemetry sinks: the hub's SQL database (default, downsampled when old) or InfluxDB."""

from hub.telemetry.base import (
    DeviceRef,
    TelemetryError,
    TelemetryPoint,
    TelemetryQueryUnsupported,
    TelemetrySink,
    TelemetryWriteError,
    as_value,
)
from hub.telemetry.downsample import Downsampler, DownsampleResult
from hub.telemetry.influx import InfluxTelemetrySink
from hub.telemetry.sql import SqlTelemetrySink

__all__ = [
    "DeviceRef",
    "DownsampleResult",
    "Downsampler",
    "InfluxTelemetrySink",
    "SqlTelemetrySink",
    "TelemetryError",
    "TelemetryPoint",
    "TelemetryQueryUnsupported",
    "TelemetrySink",
    "TelemetryWriteError",
    "as_value",
]
