"""vehicle lanes in the installation: edge, direction, plate camera credentials, barrier

Revision ID: 0032a
Revises: 0027a
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032a"
down_revision: str | None = "0027a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0019a"


def upgrade() -> None:
    op.create_table(
        "lanes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("push_format", sa.String(length=32), nullable=False),
        sa.Column("camera_user", sa.String(length=64), nullable=False),
        sa.Column("camera_secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("barrier", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["edge_id"], ["edges.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "name", name="uq_lanes_site_name"),
    )
    op.create_index("ix_lanes_site_id", "lanes", ["site_id"])
    op.create_index("ix_lanes_edge_id", "lanes", ["edge_id"])


def downgrade() -> None:
    op.drop_table("lanes")
