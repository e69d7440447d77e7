"""Event ids stored far from their UUIDv7 time: the ingest's look for a reused id stays within
the days around each id's time, whatever the depth of the partitioned history (issue 19)

Revision ID: 0048a
Revises: 0040a
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0048a"
down_revision: str | None = "0040a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_id_outliers",
        sa.Column("id", sa.String(36).with_variant(sa.Uuid(as_uuid=False), "postgresql"),
                  primary_key=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_event_id_outliers_ts", "event_id_outliers", ["ts"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # the events already stored whose ts lies over a day from their id's time: from now on
        # the ingest looks for a reused id only around that time (one pass over the history)
        op.execute(
            "INSERT INTO event_id_outliers (id, ts) SELECT id, ts FROM event_log "
            "WHERE substr(id::text, 15, 1) <> '7' OR abs(extract(epoch FROM ts) - "
            "(('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)"
            "::bigint / 1000.0)) > 86400 ON CONFLICT DO NOTHING")


def downgrade() -> None:
    op.drop_index("ix_event_id_outliers_ts", table_name="event_id_outliers")
    op.drop_table("event_id_outliers")
