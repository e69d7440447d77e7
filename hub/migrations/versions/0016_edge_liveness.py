"""edge liveness (keepalive, when it counts as silent) and dead letters per edge

Revision ID: 0016
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.models import UtcDateTime

revision: str = "0016"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edges") as batch:
        batch.add_column(sa.Column("keepalive_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("silent_at", UtcDateTime(), nullable=True))
    # the sweep looks only at online edges whose time is up
    op.create_index("ix_edges_status_silent_at", "edges", ["status", "silent_at"])
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("site_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("edge", sa.String(64), nullable=True))
    op.create_index("ix_dead_letters_site_edge_received", "dead_letters",
                    ["site_id", "edge", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_site_edge_received", table_name="dead_letters")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("edge")
        batch.drop_column("site_id")
    op.drop_index("ix_edges_status_silent_at", table_name="edges")
    with op.batch_alter_table("edges") as batch:
        batch.drop_column("silent_at")
        batch.drop_column("keepalive_s")
