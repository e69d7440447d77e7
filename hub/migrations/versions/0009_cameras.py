"""cameras: camera alerts, uploaded snapshots and clips, edge upload tokens

Revision ID: 0009
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "camera_alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("edge", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("area", sa.Float(), nullable=True),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("clip_id", sa.String(length=36), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["id"], ["event_log.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_camera_alerts_ts_id", "camera_alerts", ["ts", "id"])
    op.create_index("ix_camera_alerts_site_ts", "camera_alerts", ["site_id", "ts"])
    op.create_table(
        "camera_snapshots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("edge", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_camera_snapshots_site_id", "camera_snapshots", ["site_id"])
    op.create_index("ix_camera_snapshots_expires_at", "camera_snapshots", ["expires_at"])
    op.create_table(
        "edge_upload_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["edge_id"], ["edges.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_edge_upload_tokens_edge_id", "edge_upload_tokens", ["edge_id"])


def downgrade() -> None:
    op.drop_index("ix_edge_upload_tokens_edge_id", table_name="edge_upload_tokens")
    op.drop_table("edge_upload_tokens")
    op.drop_index("ix_camera_snapshots_expires_at", table_name="camera_snapshots")
    op.drop_index("ix_camera_snapshots_site_id", table_name="camera_snapshots")
    op.drop_table("camera_snapshots")
    op.drop_index("ix_camera_alerts_site_ts", table_name="camera_alerts")
    op.drop_index("ix_camera_alerts_ts_id", table_name="camera_alerts")
    op.drop_table("camera_alerts")
