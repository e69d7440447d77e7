"""Disk per million events before (text ids, json payloads, one table) and after (uuid ids,
jsonb payloads, monthly partitions) migrations 0040a, on a throwaway PostgreSQL.

Two databases: one migrated to every head and then brought back below 0040a/0040b (the
schema as it was), one at every head. Each gets the same N access events, generated in the
database (generate_series): an event_log row (UUIDv7-like id, the access payload) and its
access_events row, spread over 30 days (events sorted by time, as the ingest writes them).
Prints, per layout, the load time and pg_total_relation_size (table, indexes, TOAST, every
partition) per million events, per table and in all.
Usage: .venv/bin/python bench/event_storage.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.report import report
from harness.services import PostgresServer
from hub.db import downgrade, run_migrations

# ts spread over 30 days; id: 48 bits of the ms, version 7, variant 8, the rest from md5(i)
_EVENTS = """
WITH g AS (
  SELECT i, timestamptz '2026-11-01 00:00+00' + (i * (2592000.0 / %(n)s)) * interval '1 second'
         AS ts FROM generate_series(1, %(n)s) AS i
), h AS (
  SELECT i, ts, lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || md5(i::text)
         AS hex FROM g
)
INSERT INTO event_log (id, kind, site_id, edge, device, seq, ts, received_at, data)
SELECT CAST(substr(hex, 1, 8) || '-' || substr(hex, 9, 4) || '-7' || substr(hex, 13, 3) || '-8'
            || substr(hex, 16, 3) || '-' || substr(hex, 19, 12) AS {id}),
       'access', 'site-' || (i %% 4), 'b' || (i %% 40) || '-edge', 'reader-' || (i %% 8), i, ts,
       ts + interval '40 milliseconds',
       CAST(json_build_object('door', 'B' || (i %% 40) || '-main', 'credential_type', 'card',
            'credential', (1000000 + i %% 20000)::text, 'resident_id', i %% 20000,
            'result', 'granted', 'reason', 'granted', 'decision_us', 300 + i %% 500,
            'pass_id', NULL) AS {data})
FROM h
"""
_ACCESS = """
INSERT INTO access_events (id, site_id, edge, door, ts, credential_type, credential,
                           resident_id, result, reason, decision_us)
SELECT id, site_id, edge, data->>'door', ts, 'card', data->>'credential',
       CAST(data->>'resident_id' AS integer), 'granted', 'granted',
       CAST(data->>'decision_us' AS integer)
FROM event_log
"""
# every relation of the table: itself or its partitions, with indexes and TOAST
# (pg_partition_tree lists nothing for a table that is not partitioned)
_SIZE = ("SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) "
         "FROM pg_partition_tree(CAST(%(t)s AS regclass))), "
         "pg_total_relation_size(CAST(%(t)s AS regclass)))")


def load(pg: PostgresServer, name: str, before: bool, n: int) -> dict[str, float]:
    url = pg.create_database(name)
    run_migrations(url)
    if before:  # the schema as it was: 0040a and 0040b undone
        downgrade(url, "0040a@-1")
        downgrade(url, "0040b@-1")
    id_type, data_type = ("varchar(36)", "json") if before else ("uuid", "jsonb")
    with psycopg.connect(pg.dsn(name), autocommit=True) as db:
        if before:  # the foreign key it had (0001)
            db.execute("ALTER TABLE access_events ADD FOREIGN KEY (id) REFERENCES event_log (id) "
                       "ON DELETE CASCADE")
        started = time.perf_counter()
        db.execute(_EVENTS.format(id=id_type, data=data_type), {"n": n})
        db.execute(_ACCESS)
        elapsed = time.perf_counter() - started
        db.execute("VACUUM ANALYZE event_log")
        db.execute("VACUUM ANALYZE access_events")
        sizes = {t: float(db.execute(_SIZE, {"t": t}).fetchone()[0])
                 for t in ("event_log", "access_events")}
        parts = db.execute("SELECT count(*) FROM pg_partition_tree('event_log') "
                           "WHERE isleaf").fetchone()[0]
    per_million = 1e6 / n
    return {"load_s": elapsed, "partitions": parts,
            **{f"{t} MB/M": s * per_million / 2**20 for t, s in sizes.items()},
            "total MB/M": sum(sizes.values()) * per_million / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    pg = PostgresServer()
    pg.start()
    try:
        figures = {}
        for label, before in (("before: text id + json, one table", True),
                              ("after: uuid + jsonb, monthly partitions", False)):
            f = load(pg, "before" if before else "after", before, args.events)
            figures[before] = f
            print(f"{label}: {args.events:,} events loaded in {f['load_s']:.1f} s "
                  f"({args.events / f['load_s']:,.0f}/s, {f['partitions']:.0f} leaf tables); "
                  f"event_log {f['event_log MB/M']:.0f} MB, access_events "
                  f"{f['access_events MB/M']:.0f} MB, total {f['total MB/M']:.0f} MB per million "
                  "events", flush=True)
        b, a = figures[True], figures[False]
        report(f"event storage, {args.events:,} access events",
               f"per million events: before {b['total MB/M']:.0f} MB (event_log "
               f"{b['event_log MB/M']:.0f}, access_events {b['access_events MB/M']:.0f}), after "
               f"{a['total MB/M']:.0f} MB (event_log {a['event_log MB/M']:.0f}, access_events "
               f"{a['access_events MB/M']:.0f}): {a['total MB/M'] / b['total MB/M']:.2f}x")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
