"""Reading one alarm's steps from alarm_history partitioned by month (migration 0045a), with the
bound the hub adds (the alarm's raise and clear, hub.rules.alarms.history_query) and without
it (alarm_id alone, as before), on a throwaway PostgreSQL.

Three years of monthly partitions (as the default 3-year retention keeps), N alarms spread
over them, three steps each (raised, acknowledged 5 min later, cleared 30 min later),
generated in the database. Then the steps of random alarms are read one query at a time,
both ways: p50/p99 latency, and how many partitions one plan touches.
Usage: .venv/bin/python bench/alarm_history.py [--alarms 300000] [--reads 2000]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.report import report
from harness.services import PostgresServer
from hub.db import run_migrations
from hub.history.ddl import create_partition, next_start, period_start
from hub.rules.alarms import STEP_MARGIN

MONTHS = 36
_ALARMS = """
INSERT INTO alarms (id, site_id, type, severity, dedup_key, message, state, count, first_seen,
                    last_seen, raised_at, cleared_at, cleared_by)
SELECT i, 'demo', 'door_forced', 'high', 'k' || i, 'forced', 'cleared', 1, t, t, t,
       t + interval '30 minutes', 'guard'
FROM (SELECT i, %(start)s::timestamptz + (i * (%(span)s / %(n)s)) * interval '1 second' AS t
      FROM generate_series(1, %(n)s) AS i) g
"""
_STEPS = """
INSERT INTO alarm_history (alarm_id, ts, action, actor, note)
SELECT id, raised_at + o.after, o.action, 'guard', NULL FROM alarms,
  (VALUES (interval '0', 'raised'), (interval '5 minutes', 'acknowledged'),
          (interval '30 minutes', 'cleared')) AS o(after, action)
ORDER BY 2
"""
_BOUNDED = ("SELECT * FROM alarm_history WHERE alarm_id = %(id)s AND ts >= %(lo)s "
            "AND ts <= %(hi)s ORDER BY ts, id")
_UNBOUNDED = "SELECT * FROM alarm_history WHERE alarm_id = %(id)s ORDER BY ts, id"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=300_000)
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    pg = PostgresServer()
    pg.start()
    try:
        run_migrations(pg.create_database("bench"))
        now = datetime.now(UTC)
        first = period_start(now - timedelta(days=31 * MONTHS), "month")
        with psycopg.connect(pg.dsn("bench"), autocommit=True) as db:
            db.execute("INSERT INTO sites (id, name, timezone) VALUES ('demo', 'D', 'UTC')")
            month = first
            while month < period_start(now, "month"):
                with db.transaction():
                    for statement in create_partition("alarm_history", month,
                                                      next_start(month, "month")):
                        db.execute(statement)
                month = next_start(month, "month")
            started = time.perf_counter()
            span = (now - first).total_seconds()
            db.execute(_ALARMS, {"start": first, "span": span, "n": args.alarms})
            db.execute(_STEPS)
            loaded = time.perf_counter() - started
            db.execute("VACUUM ANALYZE alarms")
            db.execute("VACUUM ANALYZE alarm_history")
            parts = db.execute("SELECT count(*) FROM pg_partition_tree('alarm_history') "
                               "WHERE isleaf").fetchone()
            rows = db.execute("SELECT count(*) FROM alarm_history").fetchone()
            print(f"{args.alarms:,} alarms, {rows[0] if rows else 0:,} steps in "
                  f"{parts[0] if parts else 0} partitions, loaded in {loaded:.1f} s", flush=True)
            alarms = db.execute("SELECT id, raised_at, cleared_at FROM alarms").fetchall()
            picks = random.Random(7).sample(alarms, min(args.reads, len(alarms)))
            figures: dict[str, list[float]] = {"bounded": [], "unbounded": []}
            plans: dict[str, int] = {}
            for label, sql in (("bounded", _BOUNDED), ("unbounded", _UNBOUNDED)):
                alarm_id, raised, cleared = picks[0]
                params = {"id": alarm_id, "lo": raised - STEP_MARGIN, "hi": cleared + STEP_MARGIN}
                plan = "\n".join(r[0] for r in db.execute(
                    "EXPLAIN " + sql.replace("%(id)s", str(alarm_id)).replace(
                        "%(lo)s", f"'{params['lo'].isoformat()}'").replace(
                        "%(hi)s", f"'{params['hi'].isoformat()}'")).fetchall())
                plans[label] = len(set(re.findall(r"on (alarm_history_\w+)", plan)))
                for alarm_id, raised, cleared in picks:
                    params = {"id": alarm_id, "lo": raised - STEP_MARGIN,
                              "hi": cleared + STEP_MARGIN}
                    t0 = time.perf_counter()
                    found = db.execute(sql, params, prepare=False).fetchall()
                    figures[label].append((time.perf_counter() - t0) * 1000)
                    assert len(found) == 3, (alarm_id, found)
            for label, times in figures.items():
                cuts = statistics.quantiles(times, n=100)
                report(f"one alarm's steps, {label}, {args.alarms:,} alarms over {MONTHS} months",
                       f"p50 {cuts[49]:.2f} ms, p99 {cuts[98]:.2f} ms, "
                       f"{plans[label]} partitions in the plan ({len(times)} reads)")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
