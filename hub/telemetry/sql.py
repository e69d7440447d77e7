"""The default sink: the hub's own database (`telemetry` table), written in the ingest's
transaction so that a telemetry event is stored exactly when its event is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import TelemetryRow
from hub.telemetry.base import DeviceRef, TelemetryPoint

_TABLE = cast(Table, TelemetryRow.__table__)


def _row(point: TelemetryPoint) -> dict[str, Any]:
    numeric = isinstance(point.value, float)
    return {
        "site_id": point.site, "edge": point.edge, "device": point.device, "name": point.name,
        "ts": point.ts, "unit": point.unit,
        "value_num": point.value if numeric else None,
        "value_text": None if numeric else point.value,
    }


class SqlTelemetrySink:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def write(self, points: Sequence[TelemetryPoint]) -> None:
        async with self._sessions() as session, session.begin():
            await self.write_in(session, points)

    @staticmethod
    async def write_in(session: AsyncSession, points: Sequence[TelemetryPoint]) -> None:
        """Within the caller's transaction (the ingest's, idempotent by event id)."""
        if points:
            await session.execute(insert(_TABLE), [_row(p) for p in points])

    async def query(self, device: DeviceRef, since: datetime | None, until: datetime | None,
                    limit: int, *, name: str | None = None) -> list[TelemetryPoint]:
        t = TelemetryRow
        stmt = select(t).where(t.site_id == device.site, t.edge == device.edge,
                               t.device == device.device)
        if name is not None:
            stmt = stmt.where(t.name == name)
        if since is not None:
            stmt = stmt.where(t.ts >= since)
        if until is not None:
            stmt = stmt.where(t.ts < until)
        stmt = stmt.order_by(t.ts.desc(), t.id.desc()).limit(limit)
        async with self._sessions() as session:
            rows = list(await session.scalars(stmt))
        return [
            TelemetryPoint(site=r.site_id, edge=r.edge, device=r.device, name=r.name, ts=r.ts,
                           value=cast(float, r.value_num) if r.value_text is None
                           else r.value_text,
                           unit=r.unit)
            for r in rows
        ]
