"""Event history on PostgreSQL partitioned by time: partitions made ahead, retention by kind.

`ddl` holds the statements (shared with the migrations that partition the tables, through
`migrate`); `partitions` reads and changes a table's partitions; `maintenance` is the hub's
periodic job: partitions ahead, then retention (DETACH and DROP of whole partitions on
PostgreSQL, bounded batched deletes on SQLite).
"""

from hub.history.ddl import PARTITIONED, is_partition_name

__all__ = ["PARTITIONED", "is_partition_name"]
