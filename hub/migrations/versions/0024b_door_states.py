"""door states: where each door's events left it, for the guard's building panel

Revision ID: 0024b
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024b"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "door_states",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("edge", sa.String(length=64), nullable=False),
        sa.Column("door", sa.String(length=64), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("held_open", sa.Boolean(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("locked_down", sa.Boolean(), nullable=False),
        sa.Column("fire_released", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_door_states_site_id", "door_states", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_door_states_site_id", table_name="door_states")
    op.drop_table("door_states")
