"""event_log and access_events: partitioned by month on PostgreSQL, uuid ids, jsonb payloads

On PostgreSQL each table is rebuilt: the old one renamed aside, the new one created
`PARTITION BY RANGE (ts)` with the key (id, ts) (a partitioned table's unique keys must hold
its partition key; a redelivered event carries the same ts), a partition per month that has
rows plus the months around now, a DEFAULT partition, the rows copied (ids cast to uuid,
payloads to jsonb), the indexes made once the rows are in, the old table dropped.
The foreign keys to event_log (from access_events and camera_alerts) go on both engines: the
access log is kept longer than the event log, and a key to a partitioned table would have
to carry ts and would stop its partitions being dropped.
On SQLite only those foreign keys go (the table is copied without them).

Revision ID: 0040a
Revises: 0017 (depends on 0009, 0012 and so 0011)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.history.migrate import partition_by, unpartition

revision: str = "0040a"
# the tables and every index of the access log (0011, 0012, 0017), camera_alerts (0009)
down_revision: str | tuple[str, ...] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0009", "0012")  # 0012 depends on 0011

_FK = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_UUID = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"
# A stored id that is not a UUID (none the wire accepts; hand-made rows) gets a stable one
# derived from it, the same in both tables.
_ID = f"CASE WHEN id ~ {_UUID} THEN CAST(id AS uuid) ELSE CAST(md5(id) AS uuid) END"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for table in ("access_events", "camera_alerts"):
            with op.batch_alter_table(table, naming_convention=_FK) as batch:
                batch.drop_constraint(f"fk_{table}_id_event_log", type_="foreignkey")
        return
    for table in ("access_events", "camera_alerts"):
        for fk in sa.inspect(bind).get_foreign_keys(table):
            if fk["referred_table"] == "event_log" and fk["name"]:
                op.drop_constraint(fk["name"], table, type_="foreignkey")
    columns = {"id": _ID}
    partition_by(bind, "event_log", {**columns, "data": "CAST(data AS jsonb)"},
                 {"id": "uuid", "data": "jsonb"})
    partition_by(bind, "access_events", columns, {"id": "uuid"})


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        unpartition(bind, "access_events", {"id": "varchar(36)"})
        unpartition(bind, "event_log", {"id": "varchar(36)", "data": "json"})
    # The foreign keys are not put back: the access log may hold events whose event_log rows
    # retention has dropped.
