"""Migration 0017 (access events keep the edge's `malformed` note) over a stored access log."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, text

from hub.db import downgrade, run_migrations, sync_url

pytestmark = pytest.mark.integration

_EVENT = ("INSERT INTO event_log (id, kind, site_id, edge, device, seq, ts, received_at, data) "
          "VALUES (:id, 'access', 's', 'e', 'r', :seq, :ts, :ts, '{}')")
_ACCESS = ("INSERT INTO access_events (id, site_id, edge, door, ts, credential_type, credential, "
           "result, reason, decision_us{extra}) VALUES (:id, 's', 'e', 'd1', :ts, 'card', :card, "
           "'denied', 'unknown_card', 5{values})")


def test_upgrade_keeps_the_access_log_then_downgrades(db_url: str) -> None:
    run_migrations(db_url, "0012")  # the log and its indexes as deployed before 0017
    engine = create_sync_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(text(_EVENT), {"id": "old", "seq": 1, "ts": "2026-12-01 08:00:00"})
            conn.execute(text(_ACCESS.format(extra="", values="")),
                         {"id": "old", "ts": "2026-12-01 08:00:00", "card": "1001"})
        run_migrations(db_url, "0017")
        with engine.begin() as conn:
            conn.execute(text(_EVENT), {"id": "cut", "seq": 2, "ts": "2026-12-01 09:00:00"})
            conn.execute(text(_ACCESS.format(extra=", malformed", values=", :note")),
                         {"id": "cut", "ts": "2026-12-01 09:00:00", "card": "9" * 128,
                          "note": "credential: 140 characters cut to 128"})
            rows = conn.execute(text("SELECT id, malformed FROM access_events ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [
                ("cut", "credential: 140 characters cut to 128"), ("old", None)]
        indexes = {i["name"] for i in inspect(engine).get_indexes("access_events")}
        assert {"ix_access_events_malformed_ts_id", "ix_access_events_site_door_ts_id"} <= indexes
        downgrade(db_url, "0017@-1")  # 0017 alone; SQLite copies the table: its indexes stay
        columns = {c["name"] for c in inspect(engine).get_columns("access_events")}
        assert "malformed" not in columns and "credential" in columns
        indexes = {i["name"] for i in inspect(engine).get_indexes("access_events")}
        assert "ix_access_events_malformed_ts_id" not in indexes
        assert "ix_access_events_site_door_ts_id" in indexes
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM access_events")).scalar() == 2
        run_migrations(db_url)  # and up again, to every head
        columns = {c["name"] for c in inspect(engine).get_columns("access_events")}
        assert "malformed" in columns
    finally:
        engine.dispose()
