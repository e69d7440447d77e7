"""access log indexes: newest first per site, per site and edge (building), per credential

Revision ID: 0011
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Each serves a filter of GET /access-events as a backward range scan in (ts, id)
    # order, so a page reads about `limit` rows however many events are stored.
    op.create_index("ix_access_events_site_ts_id", "access_events", ["site_id", "ts", "id"])
    op.create_index(
        "ix_access_events_site_edge_ts_id", "access_events", ["site_id", "edge", "ts", "id"]
    )
    op.create_index("ix_access_events_credential_ts", "access_events", ["credential", "ts"])


def downgrade() -> None:
    op.drop_index("ix_access_events_credential_ts", table_name="access_events")
    op.drop_index("ix_access_events_site_edge_ts_id", table_name="access_events")
    op.drop_index("ix_access_events_site_ts_id", table_name="access_events")
