"""Many rows in one statement, skipping those whose key is already stored.

On PostgreSQL a batch is one statement with one parameter, the rows as a JSON array:
`INSERT .. SELECT .. FROM json_populate_recordset(NULL::table, :rows) ON CONFLICT DO
NOTHING`. One round trip and one execution however many rows, where an executemany runs
the statement once per row, and the encoding is one `pydantic_core.to_json` (Rust; the
stdlib's `json.dumps` with a datetime hook took a third of the ingest's time, by py-spy;
psycopg encodes arrays, the other way to pass columns, in Python: slower still).
The table's own column types convert the values. Elsewhere (SQLite) it is an executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from pydantic_core import to_json
from sqlalchemy import CursorResult, DateTime, Table, Uuid, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_ignore(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], *, key: str,
    returning: bool = False, conflict: tuple[str, ...] | None = None,
) -> set[Any]:
    """Insert `rows` (all with the same keys), skipping those whose `key` exists; with
    `returning`, the keys of the rows inserted now (the others were stored before).
    `conflict`: the unique key's columns when it is not `key` alone (a table partitioned by
    time holds its partition key in it); SQLite then skips a row any unique key refuses."""
    if not rows:
        return set()
    columns = tuple(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        stmt = (sqlite.insert(table).on_conflict_do_nothing() if conflict
                else sqlite.insert(table).on_conflict_do_nothing(index_elements=[key]))
        if not returning:
            await session.execute(stmt, rows)
            return set()
        return set(await session.scalars(stmt.returning(table.c[key]), rows))
    result = await session.execute(
        _recordset_insert(table, columns, key, returning, conflict or (key,),
                          isinstance(table.c[key].type.dialect_impl(dialect), Uuid)),
        {"rows": _json(rows, _time_columns(table, columns))})
    if not returning:
        return set()
    return set(cast(CursorResult[Any], result).scalars())


def _json(rows: Sequence[dict[str, Any]], times: Sequence[str]) -> str:
    """The rows as one JSON array; a naive time in any of the `times` columns is refused (it
    would be read in the session's time zone). Only those are looked at: checking every
    value of every row cost as much as the encoding."""
    for name in times:
        for row in rows:
            value = row[name]
            if value is not None and value.tzinfo is None:
                raise ValueError(f"naive datetime given to the UTC column {name!r}")
    return to_json(rows).decode()


@cache
def _time_columns(table: Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    def is_time(column: str) -> bool:
        kind = table.c[column].type
        return isinstance(getattr(kind, "impl_instance", kind), DateTime)  # through decorators
    return tuple(name for name in columns if is_time(name))


@cache
def _recordset_insert(table: Table, columns: tuple[str, ...], key: str, returning: bool,
                      conflict: tuple[str, ...], uuid_key: bool) -> Any:
    names = ", ".join(columns)
    sql = (
        f"INSERT INTO {table.name} ({names}) SELECT {names} "
        f"FROM json_populate_recordset(NULL::{table.name}, CAST(:rows AS json)) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    )
    if not returning:
        return text(sql)
    if uuid_key:
        # a uuid as text, the string the caller gave: a uuid.UUID made by psycopg, then
        # turned back into a string by the column's type, cost 1 µs a row
        return text(sql + f" RETURNING {key}::text")
    return text(sql + f" RETURNING {key}").columns(table.c[key])  # typed by the column


__all__ = ["insert_ignore"]
