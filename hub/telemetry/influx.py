"""The InfluxDB sink (influxdb-client's async write API, line protocol over /api/v2/write).

One point per device and time: tags site, edge, device; one field per reading. Writing the
same point again overwrites it (same series, same timestamp), so a redelivered event that is
written again is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

import aiohttp
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from hub.telemetry.base import (
    DeviceRef,
    TelemetryPoint,
    TelemetryQueryUnsupported,
    TelemetryWriteError,
)

MEASUREMENT = "telemetry"


def to_points(points: Sequence[TelemetryPoint]) -> list[Point]:
    grouped: dict[tuple[str, str, str, datetime], Point] = {}
    for p in points:
        key = (p.site, p.edge, p.device, p.ts)
        point = grouped.get(key)
        if point is None:
            point = (Point(MEASUREMENT).tag("site", p.site).tag("edge", p.edge)
                     .tag("device", p.device).time(p.ts, WritePrecision.MS))
            grouped[key] = point
        point.field(p.name, p.value)
    return list(grouped.values())


class InfluxTelemetrySink:
    """`async with InfluxTelemetrySink(url=..., token=..., org=..., bucket=...) as sink:`"""

    def __init__(self, *, url: str, token: str, org: str, bucket: str,
                 timeout_s: float = 10.0, cooldown_s: float = 30.0) -> None:
        self.url, self._token, self._org, self._bucket = url, token, org, bucket
        self._timeout_ms = int(timeout_s * 1000)
        self._cooldown_s = cooldown_s
        self._failed_at: float | None = None  # after a failure, fail fast for a while
        self._client: InfluxDBClientAsync | None = None

    async def __aenter__(self) -> Self:
        # The client opens an aiohttp session, so it is made inside the running loop.
        self._client = InfluxDBClientAsync(url=self.url, token=self._token, org=self._org,
                                           timeout=self._timeout_ms)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def write(self, points: Sequence[TelemetryPoint]) -> None:
        if not points:
            return
        if self._client is None:
            raise TelemetryWriteError("the InfluxDB sink is not open (use `async with`)")
        if self._failed_at is not None and time.monotonic() - self._failed_at < self._cooldown_s:
            raise TelemetryWriteError(f"InfluxDB at {self.url} failed recently; not retried "
                                      f"for {self._cooldown_s:g} s")
        try:
            await self._client.write_api().write(bucket=self._bucket, org=self._org,
                                                 record=to_points(points))
        except ApiException as exc:
            self._failed_at = time.monotonic()
            raise TelemetryWriteError(
                f"InfluxDB at {self.url} refused {len(points)} points: {exc.status} "
                f"{exc.reason}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._failed_at = time.monotonic()
            raise TelemetryWriteError(f"InfluxDB at {self.url} unreachable: {exc!r}") from exc
        self._failed_at = None

    async def query(self, device: DeviceRef, since: datetime | None, until: datetime | None,
                    limit: int, *, name: str | None = None) -> list[TelemetryPoint]:
        raise TelemetryQueryUnsupported(
            f"telemetry is stored in InfluxDB ({self.url}, bucket {self._bucket!r}), which the "
            "hub does not read back: query it there; the device's latest readings are in "
            "its current state")
