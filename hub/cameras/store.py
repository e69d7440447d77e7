"""Camera alerts from the ingest, upload tokens, snapshot storage and its retention."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.cameras.models import CameraAlert, EdgeUploadToken
from hub.cameras.models import Snapshot as SnapshotRow
from hub.models import Edge, utcnow
from hub.tasks import Periodic
from wire.events import CameraEvent

log = logging.getLogger(__name__)
_ALERTS = cast(Table, CameraAlert.__table__)


def alert_row(event: CameraEvent) -> dict[str, Any]:
    data = event.data
    return {"id": event.id, "site_id": event.site, "edge": event.edge, "camera": data.camera,
            "event": data.event, "zone": data.zone, "area": data.area,
            "snapshot_id": data.snapshot_id, "clip_id": data.clip_id, "detail": data.detail,
            "ts": event.ts}


async def record_camera_alerts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """In the ingest's transaction, once per event id whatever the broker redelivers."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt = postgresql.insert(_ALERTS) if dialect == "postgresql" else sqlite.insert(_ALERTS)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["id"]), rows)


def upload_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_upload_token(session: AsyncSession, edge_id: int) -> str:
    """A new upload token for the edge (shown once); its earlier tokens stop working."""
    now = utcnow()
    await session.execute(
        update(EdgeUploadToken)
        .where(EdgeUploadToken.edge_id == edge_id, EdgeUploadToken.revoked_at.is_(None))
        .values(revoked_at=now))
    token = secrets.token_urlsafe(32)
    session.add(EdgeUploadToken(edge_id=edge_id, token_hash=upload_token_hash(token),
                                created_at=now))
    await session.flush()
    return token


async def edge_of_upload_token(session: AsyncSession, token: str) -> Edge | None:
    """The edge a live upload token belongs to, or None."""
    return await session.scalar(
        select(Edge).join(EdgeUploadToken, EdgeUploadToken.edge_id == Edge.id)
        .where(EdgeUploadToken.token_hash == upload_token_hash(token),
               EdgeUploadToken.revoked_at.is_(None)))


async def delete_expired(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(SnapshotRow).where(SnapshotRow.expires_at <= now)
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


class SnapshotRetention(Periodic):
    """`async with SnapshotRetention(sessions, interval_s=…):` deletes snapshots and clips past
    their retention, now and then every `interval_s` (any hub worker may run it)."""

    task_name = "snapshot-retention"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 interval_s: float = 3600.0) -> None:
        super().__init__(interval_s)
        self._sessions = sessions
        self.deleted = 0

    async def run_once(self) -> int:
        async with self._sessions() as session, session.begin():
            deleted = await delete_expired(session, utcnow())
        self.deleted += deleted
        if deleted:
            log.info("snapshot retention: %d expired snapshots and clips deleted", deleted)
        return deleted


def expiry(ts: datetime, retention_days: float) -> datetime:
    return ts + timedelta(days=retention_days)
