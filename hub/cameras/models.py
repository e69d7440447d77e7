"""Tables of the installed cameras (issue 15), the camera alerts, the snapshots and clips
the edges upload, and the edges' upload tokens (stored as their SHA-256 only, like the users' bearer tokens)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow


class CameraAlert(Base):
    """A camera event (motion in an armed zone), with the id of its snapshot and clip."""

    __tablename__ = "camera_alerts"
    __table_args__ = (
        Index("ix_camera_alerts_ts_id", "ts", "id"),
        Index("ix_camera_alerts_site_ts", "site_id", "ts"),
    )
    # the event's id (event_log is partitioned on PostgreSQL: no foreign key to it, 0040a)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    camera: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    zone: Mapped[str | None] = mapped_column(String(64))
    area: Mapped[float | None] = mapped_column(Float)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    clip_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str | None] = mapped_column(String(500))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)


class Snapshot(Base):
    """A JPEG snapshot or a short clip an edge uploaded; deleted after `expires_at`."""

    __tablename__ = "camera_snapshots"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # chosen by the edge
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    edge: Mapped[str] = mapped_column(String(64))
    camera: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # snapshot / clip
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(UtcDateTime)  # taken, at the edge
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class EdgeUploadToken(Base):
    """An edge's credential for HTTP uploads; one live token per edge (issuing one revokes
    the previous)."""

    __tablename__ = "edge_upload_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Camera(Base):
    """A camera installed on an edge (issue 15): where its picture comes from, the door whose
    QR codes it reads, its motion zones (the edge's `cameras:` entries, compiled by the hub)."""

    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("site_id", "edge_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))  # the events' `camera`
    label: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(64), default="ip-camera")
    source: Mapped[str] = mapped_column(String(500))
    door_id: Mapped[int | None] = mapped_column(ForeignKey("doors.id"), index=True)
    zones: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # the floors of its edge's building whose corridor it sees: a unit alarm panel on one of
    # them attaches this camera's snapshot to its alarms (issue 18)
    floors: Mapped[list[int] | None] = mapped_column(JSON)
