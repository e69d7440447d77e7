"""access events keep the edge's `malformed` note (a credential cut or escaped to fit)

Revision ID: 0017
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLAGGED = sa.text("malformed IS NOT NULL")


def upgrade() -> None:
    # nullable, no default: an ADD COLUMN that rewrites nothing, on SQLite or PostgreSQL
    with op.batch_alter_table("access_events") as batch:
        batch.add_column(sa.Column("malformed", sa.String(500), nullable=True))
    # flagged events are rare: a partial index serves `?malformed=true` from them alone
    op.create_index("ix_access_events_malformed_ts_id", "access_events", ["ts", "id"],
                    sqlite_where=_FLAGGED, postgresql_where=_FLAGGED)


def downgrade() -> None:
    op.drop_index("ix_access_events_malformed_ts_id", table_name="access_events")
    with op.batch_alter_table("access_events") as batch:
        batch.drop_column("malformed")
