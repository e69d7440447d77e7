"""Partitioning an existing table in a migration (PostgreSQL): used by 0040a and 0040b."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from hub.history.ddl import PARTITIONED, create_default, next_start, partition_of, period_start

# periods made ahead by the migration (the hub's job keeps making them)
AHEAD = {"month": 3, "day": 7}


def partition_by(bind: sa.Connection, table: str, casts: dict[str, str],
                 types: dict[str, str], *, sequence: str | None = None) -> None:
    """Rebuild `table` partitioned on ts by its period (PARTITIONED), with its rows, indexes
    and the key (id, ts); `casts` convert columns on the way, `types` are the new ones;
    `sequence`: the id's, kept (it belonged to the old table's column)."""
    period = PARTITIONED[table]
    old = f"{table}_unpartitioned"
    indexes = [row[0] for row in bind.execute(sa.text(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = :t AND indexname <> :pk"), {"t": table, "pk": f"{table}_pkey"})]
    names = [row[0] for row in bind.execute(sa.text(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = :t AND indexname <> :pk"), {"t": table, "pk": f"{table}_pkey"})]
    for name in names:
        op.execute(f"DROP INDEX {name}")
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE (ts)")
    for column, kind in types.items():
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} "
                   f"USING CAST(CAST({column} AS text) AS {kind})")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, ts)")
    starts = {period_start(row[0], period) for row in bind.execute(sa.text(
        f"SELECT DISTINCT date_trunc('{period}', ts, 'UTC') FROM {old}"))}
    start = period_start(datetime.now(UTC), period)
    for _ in range(AHEAD[period] + 1):
        starts.add(start)
        start = next_start(start, period)
    for start in sorted(starts):
        op.execute(partition_of(table, start, next_start(start, period)))
    op.execute(create_default(table))
    listed = [row[0] for row in bind.execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = :t ORDER BY ordinal_position"), {"t": old})]
    select = ", ".join(casts.get(name, name) for name in listed)
    op.execute(f"INSERT INTO {table} ({', '.join(listed)}) SELECT {select} FROM {old}")
    if sequence is not None:  # else dropped with the old table
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
    op.execute(f"DROP TABLE {old}")
    for indexdef in indexes:  # on the partitioned table: made on every partition
        op.execute(indexdef)
    op.execute(f"ANALYZE {table}")


def unpartition(bind: sa.Connection, table: str, types: dict[str, str], *,
                sequence: str | None = None) -> None:
    """Back to one plain table keyed by id (the rows of every partition)."""
    indexes = [row[0] for row in bind.execute(sa.text(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = :t AND indexname <> :pk"), {"t": table, "pk": f"{table}_pkey"})]
    old = f"{table}_partitioned"
    for indexdef in indexes:
        op.execute(f"DROP INDEX {indexdef.split(' INDEX ', 1)[1].split(' ', 1)[0]}")
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS)")
    for column, kind in types.items():
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} "
                   f"USING CAST({column} AS {kind})")
    listed = [row[0] for row in bind.execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = :t ORDER BY ordinal_position"), {"t": table})]
    select = ", ".join(f"CAST({c} AS {types[c]})" if c in types else c for c in listed)
    op.execute(f"INSERT INTO {table} ({', '.join(listed)}) SELECT {select} FROM {old}")
    if sequence is not None:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
    op.execute(f"DROP TABLE {old}")  # its partitions with it
    op.execute(f"DELETE FROM {table} a USING {table} b WHERE a.id = b.id AND a.ctid > b.ctid")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)")
    for indexdef in indexes:
        op.execute(indexdef)
