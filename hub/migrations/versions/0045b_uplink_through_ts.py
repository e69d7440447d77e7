"""edge_uplink.through_ts: the edge's time of the event at stored_through

The fold (hub.stored) reads an edge's events above stored_through by (site, edge, seq); with
the event log partitioned by ts that read probed every month. The edge's time of the event at
stored_through bounds the ts of those above it (an edge stamps its events in the order it
numbers them), so the read prunes to the recent months. Empty until the next fold.

Revision ID: 0045b
Revises: 0015 (edge_uplink)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0045b"
down_revision: str | tuple[str, ...] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edge_uplink") as batch:
        batch.add_column(sa.Column("through_ts", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("edge_uplink") as batch:
        batch.drop_column("through_ts")
