"""alarm_history: partitioned by month on PostgreSQL, like the event log (issue 19)

The steps of every alarm (raised, acknowledged, cleared: who and when) are records a property
company keeps for years and then lets go a month at a time. On PostgreSQL the table is rebuilt
as 0040a did the event log (hub.history.migrate): `PARTITION BY RANGE (ts)`, the key (id, ts),
a partition per month that has rows and the months around now, a DEFAULT partition, the rows
copied, the id's sequence kept.
The foreign key to `alarms` goes on both engines: on a partitioned table, attaching and
dropping a month lock `alarms` as well, while raising an alarm locks `alarms` and then this
table, and the two deadlocked (seen in tests/hub/test_alarm_history_partitioned.py). The steps
are written beside their alarm and deleted with it by the retention (hub.rules.alarms).

Revision ID: 0045a
Revises: 0023a (alarm_history's last columns; 0007 made it)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.history.migrate import partition_by, unpartition

revision: str = "0045a"
down_revision: str | tuple[str, ...] | None = "0023a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_FK_NAME = "fk_alarm_history_alarm_id_alarms"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        with op.batch_alter_table("alarm_history", naming_convention=_NAMES) as batch:
            batch.drop_constraint(_FK_NAME, type_="foreignkey")
        return
    for fk in sa.inspect(bind).get_foreign_keys("alarm_history"):
        if fk["referred_table"] == "alarms" and fk["name"]:
            op.drop_constraint(fk["name"], "alarm_history", type_="foreignkey")
    partition_by(bind, "alarm_history", {}, {}, sequence="alarm_history_id_seq")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        unpartition(bind, "alarm_history", {}, sequence="alarm_history_id_seq")
        op.execute("DELETE FROM alarm_history h WHERE NOT EXISTS "
                   "(SELECT 1 FROM alarms a WHERE a.id = h.alarm_id)")
        op.create_foreign_key(_FK_NAME, "alarm_history", "alarms", ["alarm_id"], ["id"],
                              ondelete="CASCADE")
        return
    with op.batch_alter_table("alarm_history", naming_convention=_NAMES) as batch:
        batch.create_foreign_key(_FK_NAME, "alarms", ["alarm_id"], ["id"], ondelete="CASCADE")
