"""vehicle site settings: temporary vehicles, anti-passback and the plate confidence threshold

Revision ID: 0027b
Revises: 0027a
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027b"
down_revision: str | None = "0027a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vehicle_site_settings",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("temporary_entry", sa.String(length=8), nullable=False),
        sa.Column("passback", sa.String(length=8), nullable=False),
        sa.Column("min_confidence", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("site_id"),
    )


def downgrade() -> None:
    op.drop_table("vehicle_site_settings")
