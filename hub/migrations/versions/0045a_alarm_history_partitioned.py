"""alarm_history: partitioned by month on PostgreSQL, like the event log (issue 19)

The steps of every alarm (raised, acknowledged, cleared: who and when) are records a property
company keeps for years and then lets go a month at a time. On PostgreSQL the table is rebuilt
as 0040a did the event log (hub.history.migrate): `PARTITION BY RANGE (ts)`, the key (id, ts),
a partition per month that has rows and the months around now, a DEFAULT partition, the rows
copied, the id's sequence kept; then the foreign key to `alarms` (ON DELETE CASCADE) is put
back on the partitioned table (PostgreSQL clones it onto every partition). Nothing changes on
SQLite.

Revision ID: 0045a
Revises: 0023a (alarm_history's last columns; 0007 made it)
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from hub.history.migrate import partition_by, unpartition

revision: str = "0045a"
down_revision: str | tuple[str, ...] | None = "0023a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = ("ALTER TABLE alarm_history ADD CONSTRAINT alarm_history_alarm_id_fkey "
       "FOREIGN KEY (alarm_id) REFERENCES alarms (id) ON DELETE CASCADE")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        partition_by(bind, "alarm_history", {}, {}, sequence="alarm_history_id_seq")
        op.execute(_FK)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        unpartition(bind, "alarm_history", {}, sequence="alarm_history_id_seq")
        op.execute(_FK)
