"""PostgreSQL partitions of the event tables: their periods, names and statements.

Each partitioned table has monthly (events) or daily (telemetry) RANGE partitions on `ts`,
named `<table>_pYYYYMMDD` after their first day (UTC), and a DEFAULT partition
`<table>_default` that takes any row no partition covers (a late event whose month was
dropped, an edge whose clock runs years ahead): nothing is refused for its time.
Shared by the migrations (0040a, 0040b, 0045a) and the hub's maintenance job, so both name and bound
partitions alike. Pure: strings in, strings out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["day", "month"]
# How far an edge's clock (an event's `ts`) may lag the hub's: a query bounded by the hub's
# time (`received_at`, a command's issue) adds `ts >= that - EDGE_CLOCK_MARGIN` so that it
# prunes to the partitions it needs and still finds an event stamped by a slow edge.
EDGE_CLOCK_MARGIN = timedelta(days=7)

# table -> period of its partitions
PARTITIONED: dict[str, Period] = {"event_log": "month", "access_events": "month",
                                  "telemetry": "day", "alarm_history": "month"}
_NAME = re.compile(rf"^({'|'.join(PARTITIONED)})_(p\d{{8}}|default)$")
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


def is_partition_name(name: str | None) -> bool:
    """A partition (attached or detached, awaiting its drop) of a partitioned table: the
    hub makes and drops them, so the schema comparison of the models leaves them out."""
    return name is not None and _NAME.match(name) is not None


def period_start(ts: datetime, period: Period) -> datetime:
    ts = ts.astimezone(UTC)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period == "day" else day.replace(day=1)


def next_start(start: datetime, period: Period) -> datetime:
    if period == "day":
        return datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=UTC)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month, day=1)


def partition_name(table: str, start: datetime) -> str:
    return f"{table}_p{start:%Y%m%d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def _literal(ts: datetime) -> str:
    return f"'{ts.astimezone(UTC):%Y-%m-%d %H:%M:%S}+00'"


def create_partition(table: str, start: datetime, end: datetime) -> list[str]:
    """Statements (one transaction) that make the partition [start, end): created apart, the
    rows the DEFAULT partition holds for that range moved into it, then attached (ATTACH takes
    a lighter lock on the table than CREATE .. PARTITION OF; the ingest keeps writing)."""
    name, lo, hi = partition_name(table, start), _literal(start), _literal(end)
    return [
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        (f"WITH moved AS (DELETE FROM {default_name(table)} WHERE ts >= {lo} AND ts < {hi} "
         f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"),
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})",
    ]


def partition_of(table: str, start: datetime, end: datetime) -> str:
    """The partition made at once (an empty table: the migrations)."""
    return (f"CREATE TABLE {partition_name(table, start)} PARTITION OF {table} "
            f"FOR VALUES FROM ({_literal(start)}) TO ({_literal(end)})")


def create_default(table: str) -> str:
    return f"CREATE TABLE {default_name(table)} PARTITION OF {table} DEFAULT"


# The partitions of a table with their bounds as text (the session's time zone set to UTC).
LIST_PARTITIONS = (
    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:table AS regclass)"
)
# Partitions detached but not dropped yet (a job stopped between the two): dropped next time.
LIST_DETACHED = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND NOT c.relispartition "
    "AND c.relname LIKE :pattern"
)


def parse_bound(bound: str) -> tuple[datetime, datetime] | None:
    """[start, end) of `FOR VALUES FROM (..) TO (..)`; None for the DEFAULT partition."""
    found = _BOUND.search(bound)
    if found is None:
        return None
    return _parse_ts(found.group(1)), _parse_ts(found.group(2))


def _parse_ts(text: str) -> datetime:
    if re.search(r"[+-]\d\d$", text):
        text += ":00"
    return datetime.fromisoformat(text).astimezone(UTC)


__all__ = ["EDGE_CLOCK_MARGIN", "LIST_DETACHED", "LIST_PARTITIONS", "PARTITIONED", "Period", "create_default",
           "create_partition", "default_name", "is_partition_name", "next_start",
           "parse_bound", "partition_name", "partition_of", "period_start"]
