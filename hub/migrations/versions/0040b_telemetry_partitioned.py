"""telemetry: partitioned by day on PostgreSQL (raw readings leave a whole day at a time)

The raw telemetry is rebuilt like the event log in 0040a: `PARTITION BY RANGE (ts)`, the key
(id, ts), a partition per day that has rows and the days around now, a DEFAULT partition,
the rows copied and the id's sequence kept. Nothing changes on SQLite.

Revision ID: 0040b
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from hub.history.migrate import partition_by, unpartition

revision: str = "0040b"
down_revision: str | tuple[str, ...] | None = "0002"  # telemetry
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        partition_by(bind, "telemetry", {}, {}, sequence="telemetry_id_seq")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        unpartition(bind, "telemetry", {}, sequence="telemetry_id_seq")
