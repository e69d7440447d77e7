"""The rows PostgreSQL reads with json_populate_recordset (hub.bulk)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Table

from hub.bulk import _json, _time_columns
from hub.models import EventLog


def test_rows_are_encoded_with_their_utc_times() -> None:
    at = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    rows = json.loads(_json([{"id": "a", "ts": at, "data": {"door": "d1"}, "seq": 1}], ["ts"]))
    assert rows == [{"id": "a", "ts": "2026-12-03T09:30:00Z", "data": {"door": "d1"}, "seq": 1}]
    assert datetime.fromisoformat(rows[0]["ts"]) == at


def test_a_naive_time_in_any_row_is_refused_with_its_column() -> None:
    at = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    rows = [{"id": "a", "received": at}, {"id": "b", "received": at.replace(tzinfo=None)}]
    with pytest.raises(ValueError, match="naive datetime given to the UTC column 'received'"):
        _json(rows, ["received"])


def test_the_time_columns_are_found_by_their_type() -> None:
    table = EventLog.__table__
    assert isinstance(table, Table)
    assert _time_columns(table, ("id", "ts", "seq", "received_at", "data")) == (
        "ts", "received_at")
