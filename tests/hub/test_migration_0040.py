"""Migrations 0040a/0040b over a populated database: the event tables partitioned by time on
PostgreSQL (uuid ids, jsonb payloads), every row kept; on SQLite only the foreign keys go."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, text

from hub.db import run_migrations, sync_url
from wire.events import new_event_id

pytestmark = pytest.mark.integration

_EVENT = ("INSERT INTO event_log (id, kind, site_id, edge, device, seq, ts, received_at, data) "
          "VALUES (:id, 'access', 's', 'e', 'r', :seq, :ts, :ts, :data)")
_ACCESS = ("INSERT INTO access_events (id, site_id, edge, door, ts, credential_type, credential, "
           "result, reason, decision_us) VALUES (:id, 's', 'e', 'd1', :ts, 'card', :card, "
           "'denied', 'unknown_card', 5)")
_TELEMETRY = ("INSERT INTO telemetry (site_id, edge, device, name, ts, value_num) "
              "VALUES ('s', 'e', 'lift-1', 'speed', :ts, :v)")
TIMES = ["2025-01-15 08:00:00+00", "2025-06-30 23:59:59+00", "2026-12-01 00:00:00+00"]


def test_a_populated_database_is_partitioned_with_every_row(db_url: str) -> None:
    for revision in ("0017", "0009", "0012", "0002"):  # everything 0040a and 0040b build on
        run_migrations(db_url, revision)
    engine = create_sync_engine(sync_url(db_url))
    ids = [new_event_id() for _ in TIMES]
    try:
        with engine.begin() as conn:
            for n, (event_id, ts) in enumerate(zip(ids, TIMES, strict=True)):
                conn.execute(text(_EVENT), {"id": event_id, "seq": n, "ts": ts,
                                            "data": json.dumps({"n": n, "card": "1001"})})
                conn.execute(text(_ACCESS), {"id": event_id, "ts": ts, "card": f"c{n}"})
                conn.execute(text(_TELEMETRY), {"ts": ts, "v": float(n)})
        run_migrations(db_url)  # every head: 0040a and 0040b among them
        with engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT CAST(id AS text), seq, data FROM event_log ORDER BY seq")).all()
            assert [(r[0], r[1]) for r in rows] == [(i, n) for n, i in enumerate(ids)]
            data = [r[2] if isinstance(r[2], dict) else json.loads(r[2]) for r in rows]
            assert data == [{"n": n, "card": "1001"} for n in range(3)]
            access = conn.execute(text(
                "SELECT CAST(id AS text), credential FROM access_events ORDER BY ts")).all()
            assert [tuple(r) for r in access] == [(i, f"c{n}") for n, i in enumerate(ids)]
            readings = conn.execute(text("SELECT id, value_num FROM telemetry ORDER BY id")).all()
            assert [r[1] for r in readings] == [0.0, 1.0, 2.0]
            # the id's sequence carries on after the rows moved
            conn.execute(text(_TELEMETRY), {"ts": datetime.now(UTC), "v": 9.0})
            new_id = conn.execute(text("SELECT max(id) FROM telemetry")).scalar()
            assert new_id == max(r[0] for r in readings) + 1
        assert not [fk for fk in inspect(engine).get_foreign_keys("access_events")
                    if fk["referred_table"] == "event_log"]
        if engine.dialect.name != "postgresql":
            return
        with engine.connect() as conn:
            kinds = dict(conn.execute(text(
                "SELECT relname, relkind FROM pg_class WHERE relname IN "
                "('event_log', 'access_events', 'telemetry')")).all())
            assert kinds == {"event_log": "p", "access_events": "p", "telemetry": "p"}
            parts = {r[0] for r in conn.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = CAST('access_events' AS regclass)"))}
            now = datetime.now(UTC)
            assert {"access_events_p20250101", "access_events_p20250601",
                    "access_events_p20261201", f"access_events_p{now:%Y%m}01",
                    "access_events_default"} <= parts
            assert {r[0] for r in conn.execute(text(
                "SELECT tableoid::regclass::text FROM access_events"))} == {
                "access_events_p20250101", "access_events_p20250601", "access_events_p20261201"}
            types = {r[0]: r[1] for r in conn.execute(text(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'event_log'"))}
            assert (types["id"], types["data"]) == ("uuid", "jsonb")
            key = conn.execute(text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'event_log_pkey'")).scalar()
            assert key == "PRIMARY KEY (id, ts)"
    finally:
        engine.dispose()


def test_ids_stored_far_from_their_time_are_noted_for_the_ingest(db_url: str) -> None:
    """Migration 0048a: on PostgreSQL the events already stored whose ts lies over a day from
    their UUIDv7 id's time (and those whose id is no UUIDv7) are noted, so the ingest's look
    for a reused id, kept to the days around each id's time, still finds them."""
    run_migrations(db_url, "0040a")
    engine = create_sync_engine(sync_url(db_url))
    now = datetime.now(UTC)
    rows = {"near": (new_event_id(), now), "far": (new_event_id(), "2025-01-15 08:00:00+00"),
            "v4": (str(uuid.uuid4()), now)}
    try:
        with engine.begin() as conn:
            for n, (event_id, ts) in enumerate(rows.values()):
                conn.execute(text(_EVENT), {"id": event_id, "seq": n, "ts": ts, "data": "{}"})
        run_migrations(db_url)
        with engine.begin() as conn:
            noted = {r[0] for r in conn.execute(text(
                "SELECT CAST(id AS text) FROM event_id_outliers"))}
        postgres = engine.dialect.name == "postgresql"
        assert noted == ({rows["far"][0], rows["v4"][0]} if postgres else set())
    finally:
        engine.dispose()
