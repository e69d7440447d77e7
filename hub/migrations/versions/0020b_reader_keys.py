"""readers' own keys, as their edges reported them sealed to the hub's key

Revision ID: 0020b
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020b"
down_revision: str | None = "0001"  # sites
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reader_keys",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("door", sa.String(64), nullable=False),
        sa.Column("address", sa.Integer(), nullable=False),
        sa.Column("sealed_key", sa.String(400), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("keyed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "edge", "door"),
    )


def downgrade() -> None:
    op.drop_table("reader_keys")
