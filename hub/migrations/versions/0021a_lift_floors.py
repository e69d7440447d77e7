"""lifts (梯控): the floors an access group and a visitor pass enable at a car reader

Revision ID: 0021a
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021a"
down_revision: str | None = "0003"  # visitor_passes
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable, no default: an ADD COLUMN that rewrites nothing; null reads as no floors
    for table in ("access_groups", "visitor_passes"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("floors", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("access_groups", "visitor_passes"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("floors")
