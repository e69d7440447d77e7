"""access log indexes: per site and door, per site, edge and result

Revision ID: 0012
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0011",)


def upgrade() -> None:
    # Door names repeat across sites (every site has a "B1-d1"): on (door, ts) a site's
    # door page walks the other sites' rows too; with site_id first it reads only its own.
    op.create_index(
        "ix_access_events_site_door_ts_id", "access_events", ["site_id", "door", "ts", "id"]
    )
    # A building's denied entries (edge = the building's edge) without reading the 90 %
    # granted ones in between.
    op.create_index(
        "ix_access_events_site_edge_result_ts_id",
        "access_events",
        ["site_id", "edge", "result", "ts", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_access_events_site_edge_result_ts_id", table_name="access_events")
    op.drop_index("ix_access_events_site_door_ts_id", table_name="access_events")
