"""plate corrections: a guard's correction of a misread plate, logged

Revision ID: 0032c
Revises: 0027a
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032c"
down_revision: str | None = "0027a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plate_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("read_plate", sa.String(length=16), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("corrected_by", sa.String(length=128), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_plate_corrections_site_id", "plate_corrections", ["site_id"])
    op.create_index("ix_plate_corrections_event_id", "plate_corrections", ["event_id"])


def downgrade() -> None:
    op.drop_table("plate_corrections")
