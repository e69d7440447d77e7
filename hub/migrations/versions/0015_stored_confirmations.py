"""stored confirmations: per-edge committed sequence ranges, and what each edge reports waiting

Revision ID: 0015
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Each worker's commits as ranges (insert-only, so two workers never wait on one row);
    # folded into edge_uplink.stored_through now and then, gaps stay as ranges above it.
    op.create_table(
        "uplink_ranges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_uplink_ranges_edge", "uplink_ranges", ["site_id", "edge", "first_seq"])
    op.create_table(
        "edge_uplink",
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("edge", sa.String(64), primary_key=True),
        sa.Column("stored_through", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("folded_at", sa.DateTime(timezone=True)),
    )
    with op.batch_alter_table("edges") as batch:
        batch.add_column(sa.Column("outbox_waiting", sa.BigInteger()))
        batch.add_column(sa.Column("outbox_last_seq", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("edges") as batch:
        batch.drop_column("outbox_last_seq")
        batch.drop_column("outbox_waiting")
    op.drop_table("edge_uplink")
    op.drop_index("ix_uplink_ranges_edge", table_name="uplink_ranges")
    op.drop_table("uplink_ranges")
