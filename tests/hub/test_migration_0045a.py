"""Migration 0045a over a populated database: alarm_history partitioned by month on
PostgreSQL with every step kept and its id's sequence carried on; the foreign key to alarms
gone on both engines (and back, with its cascade, when migrated down)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy import create_engine as create_sync_engine

from hub.db import downgrade, run_migrations, sync_url

pytestmark = pytest.mark.integration

_ALARM = ("INSERT INTO alarms (id, site_id, type, severity, dedup_key, message, state, count, "
          "first_seen, last_seen, raised_at) VALUES (:id, 's', 'door_forced', 'high', :key, "
          "'forced', 'active', 1, :ts, :ts, :ts)")
_STEP = ("INSERT INTO alarm_history (alarm_id, ts, action, actor, note, note_code, note_params) "
         "VALUES (:alarm, :ts, :action, 'guard', :note, NULL, NULL)")
TIMES = ["2025-01-15 08:00:00+00", "2025-06-30 23:59:59+00", "2026-12-01 00:00:00+00"]


def _steps(conn: object) -> list[tuple[int, int, str, str]]:
    return [(r[0], r[1], r[2], r[3]) for r in conn.execute(text(  # type: ignore[attr-defined]
        "SELECT id, alarm_id, action, note FROM alarm_history ORDER BY id")).all()]


def test_alarm_history_is_partitioned_with_every_step(db_url: str) -> None:
    run_migrations(db_url, "0023a")  # alarm_history as deployed before
    engine = create_sync_engine(sync_url(db_url))
    if engine.dialect.name == "sqlite":  # as the hub's engine does (hub.db)
        event.listen(engine, "connect", lambda c, _: c.execute("PRAGMA foreign_keys=ON"))
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sites (id, name, timezone) VALUES ('s', 'S', 'UTC')"))
            for n, ts in enumerate(TIMES, start=1):
                conn.execute(text(_ALARM), {"id": n, "key": f"k{n}", "ts": ts})
                for action in ("raised", "cleared"):
                    conn.execute(text(_STEP), {"alarm": n, "ts": ts, "action": action,
                                               "note": f"{action} {n}"})
            before = _steps(conn)
        run_migrations(db_url)  # every head: 0045a among them
        with engine.begin() as conn:
            assert _steps(conn) == before
            # the id's sequence carries on after the rows moved
            conn.execute(text(_STEP), {"alarm": 1, "ts": datetime.now(UTC), "action": "note",
                                       "note": "new"})
            assert _steps(conn)[-1][0] == before[-1][0] + 1
        # no foreign key to alarms on either engine (the retention deletes the steps itself)
        assert not inspect(engine).get_foreign_keys("alarm_history")
        if engine.dialect.name == "postgresql":
            _partitioned(engine)
        downgrade(db_url, "0045a-1")
        with engine.begin() as conn:
            assert [s[1] for s in _steps(conn)] == [1, 1, 2, 2, 3, 3, 1]
            # the foreign key is back and cascades
            conn.execute(text("DELETE FROM alarms WHERE id = 3"))
            assert [s[1] for s in _steps(conn)] == [1, 1, 2, 2, 1]
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                assert conn.execute(text("SELECT relkind FROM pg_class "
                                         "WHERE relname = 'alarm_history'")).scalar() == "r"
    finally:
        engine.dispose()


def _partitioned(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text(
            "SELECT relkind FROM pg_class WHERE relname = 'alarm_history'")).scalar() == "p"
        now = datetime.now(UTC)
        parts = {r[0] for r in conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST('alarm_history' AS regclass)"))}
        assert {"alarm_history_p20250101", "alarm_history_p20261201",
                f"alarm_history_p{now:%Y%m}01", "alarm_history_default"} <= parts
        assert {r[0] for r in conn.execute(text(
            "SELECT tableoid::regclass::text FROM alarm_history WHERE action <> 'note'"))} == {
            "alarm_history_p20250101", "alarm_history_p20250601", "alarm_history_p20261201"}
        key = conn.execute(text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'alarm_history_pkey'")).scalar()
        assert key == "PRIMARY KEY (id, ts)"
