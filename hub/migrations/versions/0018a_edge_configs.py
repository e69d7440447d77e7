"""edge configurations: the version the hub pushed to each edge, and what the edge reports
running and refused

Revision ID: 0018a
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.models import UtcDateTime

revision: str = "0018a"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "edge_config_versions",
        sa.Column("edge_id", sa.Integer(), sa.ForeignKey("edges.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=False),
    )
    with op.batch_alter_table("edges") as batch:
        batch.add_column(sa.Column("config_version_held", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("config_refused_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("config_refused", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edges") as batch:
        batch.drop_column("config_refused")
        batch.drop_column("config_refused_version")
        batch.drop_column("config_version_held")
    op.drop_table("edge_config_versions")
