"""Every console page of every role with 10,000 residents and 1,000,000 access events loaded
on PostgreSQL, timed in Chromium as a person sees it: navigation to data shown (issue 16's
proof; target <= 500 ms for the slowest page).

Starts a throwaway PostgreSQL on loopback (`alembic upgrade heads`), makes one site of 50
buildings (an edge and 2 doors each) of 50 units, N residents with a card each (half in an
access group), E access events over the last 25 days (about 40,000 a day: 10,000 residents
swiping 4 times; 1 in 10 refused), 20,000 cleared alarms and 2,000 work orders, all
generated inside the database (`generate_series`; secondary indexes of the event tables
dropped while loading and built after). Serves the API and the console in this process and,
for each role's pages (manager, guard, technician, resident), times in Debian's Chromium:
from the navigation's start to "data shown" = the later of the document's DOMContentLoaded
and the frame after the last API answer the page asked for was read (an init script counts
the page's fetches; the page is left once the network is idle).
Prints n, p50 and max per page (ms), slowest first, and each page's three slowest requests. Usage:
  PYTHONPATH=. .venv/bin/python bench/console_pages.py [--residents 10000]
      [--events 1000000] [--samples 7]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.services import PostgresServer, free_port
from hub.api import create_app, create_user
from hub.console import add_console
from hub.console.pages import CONSOLE
from hub.db import run_migrations
from hub.models import Resident, ResidentAccount
from hub.workorders.models import TechnicianSkill

PASSWORD = "bench password 1"
BUILDINGS, UNITS_PER_BUILDING, DOORS_PER_BUILDING, DAYS = 50, 50, 2, 25
USERS = {"manager1": "manager", "guard1": "guard", "tech1": "technician", "resident1": "resident"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(days=DAYS)

REGISTRY = """
INSERT INTO sites (id, name, timezone) VALUES ('bench', '示范小区', 'Asia/Shanghai');
INSERT INTO buildings (id, site_id, code, name)
  SELECT b, 'bench', 'B' || b, b || '号楼' FROM generate_series(1, {buildings}) b;
INSERT INTO edges (id, site_id, name, building_id, status)
  SELECT b, 'bench', 'b' || b || '-edge', b, 'online' FROM generate_series(1, {buildings}) b;
INSERT INTO doors (site_id, edge_id, name, label, mode, relay_output, fail_safe_egress)
  SELECT 'bench', b, 'B' || b || '-d' || d, b || '号楼 ' || d || '号门', 'normal', 0, false
  FROM generate_series(1, {buildings}) b, generate_series(1, {doors}) d;
INSERT INTO units (id, building_id, number, floor, status)
  SELECT (b - 1) * {upb} + u + 1, b, (u / 4 + 1) || '0' || (u % 4 + 1), u / 4 + 1, 'occupied'
  FROM generate_series(1, {buildings}) b, generate_series(0, {upb} - 1) u;
INSERT INTO households (id, site_id, unit_id, name, created_at)
  SELECT id, 'bench', id, '', now() FROM units;
INSERT INTO access_groups (id, site_id, name) VALUES (1, 'bench', '全体住户');
INSERT INTO residents (id, site_id, unit_id, household_id, type, name, phone, created_at,
                       updated_at)
  SELECT i + 1, 'bench', i % {units} + 1, i % {units} + 1,
         CASE WHEN i % 3 = 0 THEN 'tenant' ELSE 'owner' END,
         substr('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗', i % 20 + 1, 1) || lpad(i::text, 5, '0'),
         '139' || lpad(i::text, 8, '0'), now(), now()
  FROM generate_series(0, {residents} - 1) i;
INSERT INTO card_credentials (site_id, resident_id, card_number, status, created_at, updated_at)
  SELECT 'bench', id, (10000000 + id)::text, 'active', now(), now() FROM residents;
INSERT INTO resident_groups (resident_id, group_id)
  SELECT id, 1 FROM residents WHERE id % 2 = 0;
"""

# One row per g: a pseudo-random resident (and their building's door) from a hash of g;
# time grows with g; 1 in 10 refused (an unknown card, no resident).
EVENTS = """
CREATE TEMP VIEW generated AS
SELECT g, lpad(to_hex(g), 32, '0')::uuid AS id, 'b' || b || '-edge' AS edge,
       'B' || b || '-d' || (abs(h / 7) % {doors} + 1) AS door,
       timestamptz '{t0}' + (g * interval '{days} days') / {n} AS ts, denied, r AS resident_id
FROM (SELECT g, h, r, (r - 1) % {units} / {upb} + 1 AS b, abs(h / 13) % 10 = 0 AS denied
      FROM (SELECT g, h, abs(h % {residents}) + 1 AS r
            FROM (SELECT g, hashint8(g) AS h FROM generate_series(1, {n}) g) hashed) p) picked
"""
LOAD_EVENT_LOG = """
INSERT INTO event_log (id, kind, site_id, edge, device, seq, ts, received_at, data)
SELECT id, 'access', 'bench', edge, door, g, ts, ts, '{"credential_type":"card"}'::json
FROM generated
"""
LOAD_ACCESS = """
INSERT INTO access_events (id, site_id, edge, door, ts, credential_type, credential,
                           resident_id, result, reason, decision_us)
SELECT id, 'bench', edge, door, ts, 'card',
       CASE WHEN denied THEN (90000000 + g % 50000)::text ELSE (10000000 + resident_id)::text END,
       CASE WHEN denied THEN NULL ELSE resident_id END,
       CASE WHEN denied THEN 'denied' ELSE 'granted' END,
       CASE WHEN denied THEN 'unknown_card' ELSE 'granted' END, 40 + g % 400
FROM generated
"""
OTHERS = """
INSERT INTO alarms (site_id, building_id, edge, door, rule, type, severity, dedup_key, message,
                    message_code, message_params, state, count, first_seen, last_seen,
                    raised_at, acknowledged_at, acknowledged_by, cleared_at, cleared_by)
SELECT 'bench', a % {buildings} + 1, 'b' || (a % {buildings} + 1) || '-edge',
       'B' || (a % {buildings} + 1) || '-d1', 'door-forced', 'door_forced_open', 'critical',
       'door_forced_open:' || a, 'Door forced open', 'alarm_msg.door_forced_open',
       json_build_object('door', 'B' || (a % {buildings} + 1) || '-d1'), 'cleared', 1,
       t, t, t, t + interval '1 minute', 'guard1', t + interval '5 minutes', 'guard1'
FROM (SELECT a, timestamptz '{t0}' + (a * interval '{days} days') / 20000 AS t
      FROM generate_series(1, 20000) a) x;
INSERT INTO work_orders (site_id, kind, source, title, description, skill, priority, state,
                         unit_id, household_id, created_at, due_at)
SELECT 'bench', 'repair', 'resident', '厨房水龙头漏水 ' || w, '', 'general_repair', 'normal',
       CASE WHEN w % 10 = 0 THEN 'open' ELSE 'closed' END, w % {units} + 1, w % {units} + 1,
       timestamptz '{t0}' + (w * interval '{days} days') / 2000,
       timestamptz '{t0}' + (w * interval '{days} days') / 2000 + interval '3 days'
FROM generate_series(1, 2000) w;
"""
# The moment each page has its data: the frame after the last answer it asked for was read.
SHOWN = """
(() => {
  let pending = 0;
  window.lintelShown = 0;
  const settled = () => setTimeout(() => {
    pending -= 1;
    requestAnimationFrame(() => { window.lintelShown = performance.now(); });
  }, 0);
  const read = (proto, name) => {
    const original = proto[name];
    proto[name] = function (...args) {
      const result = original.apply(this, args);
      if (this.__lintelCounted) return result;
      this.__lintelCounted = true;
      result.finally(settled);
      return result;
    };
  };
  for (const name of ["json", "text", "blob", "arrayBuffer"]) read(Response.prototype, name);
  const fetch = window.fetch;
  window.fetch = function (...args) {
    pending += 1;
    return fetch.apply(this, args).then((resp) => {
      if (resp.status === 204) { resp.__lintelCounted = true; settled(); }
      return resp;
    }, (error) => { settled(); throw error; });
  };
})();
"""


def fmt(template: str, residents: int, events: int) -> str:
    return template.format(buildings=BUILDINGS, doors=DOORS_PER_BUILDING, upb=UNITS_PER_BUILDING,
                           units=BUILDINGS * UNITS_PER_BUILDING, residents=residents,
                           n=events, t0=T0.isoformat(), days=DAYS)


def load(pg: PostgresServer, name: str, residents: int, events: int) -> None:
    started = time.monotonic()
    with psycopg.connect(pg.dsn(name), autocommit=True) as db:
        db.execute(fmt(REGISTRY, residents, events))
        db.execute(fmt(OTHERS, residents, events))
        indexes = db.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
            "('event_log', 'access_events') AND indexname NOT LIKE '%pkey'").fetchall()
        for index, _ in indexes:
            db.execute(f"DROP INDEX {index}")

    failed: list[BaseException] = []

    def insert(statement: str) -> None:
        try:
            with psycopg.connect(pg.dsn(name), autocommit=True) as db:
                db.execute("SET session_replication_role = replica")  # no FK checks: consistent
                db.execute(fmt(EVENTS, residents, events))
                db.execute(statement)
        except BaseException as exc:  # a load that failed must stop the bench, not time nothing
            failed.append(exc)
            raise

    loaders = [threading.Thread(target=insert, args=(sql,)) for sql in (LOAD_EVENT_LOG, LOAD_ACCESS)]
    for loader in loaders:
        loader.start()
    for loader in loaders:
        loader.join()
    if failed:
        raise SystemExit(f"loading the events failed: {failed[0]}")
    with psycopg.connect(pg.dsn(name), autocommit=True) as db:
        db.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            # a partitioned table's index reads "ON ONLY" in pg_indexes: made so, its partitions
            # would get none
            db.execute(definition.replace(" ON ONLY ", " ON "))
        db.execute("VACUUM (ANALYZE)")
        size = db.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
    print(f"postgresql: {residents:,} residents, {events:,} access events, 20,000 alarms, "
          f"2,000 work orders loaded, indexed and analyzed in {time.monotonic() - started:.0f} s; "
          f"database {size[0] if size else '?'}", flush=True)


async def users(url: str) -> None:
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        for username, role in USERS.items():
            user = await create_user(session, username, PASSWORD, role, "bench")
            if role == "resident":
                resident = await session.scalar(select(Resident).where(Resident.id == 1))
                assert resident is not None
                user.household_id = resident.household_id
                session.add(ResidentAccount(user_id=user.id, resident_id=resident.id))
            if role == "technician":
                session.add(TechnicianSkill(user_id=user.id, skill="general_repair"))
    await engine.dispose()


def stats(ms: list[float]) -> tuple[float, float]:
    """The median and the largest: too few samples for a tail percentile (docs/benchmarks.md)."""
    return statistics.median(ms), max(ms)


async def serve_and_time(url: str, samples: int) -> None:
    engine = create_async_engine(url, pool_size=10)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    app = create_app(sessions=sessions, publisher=NoPublisher())
    add_console(app)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        rows = await in_browser(f"http://127.0.0.1:{port}", samples)
    finally:
        await runner.cleanup()
        await engine.dispose()
    rows.sort(key=lambda row: -row[1])
    for name, p50, worst in rows:
        print(f"{name:<34} n={samples} p50 {p50:7.1f}  max {worst:7.1f} ms")
    name, p50, _ = rows[0]
    print(f"slowest page {name}: p50 {p50:.0f} ms (target <= 500 ms: "
          f"{'met' if p50 <= 500 else 'MISSED'})")


class NoPublisher:
    def registry_changed(self, *_: Any, **__: Any) -> None:
        """The bench changes nothing after loading."""


def timed(base: str, request: Any, *, seen: dict[str, list[float]]) -> None:
    """An API call's or the document's time to its answer's end (ms), by path."""
    if "/api/v1/" in request.url or request.resource_type == "document":
        seen.setdefault(request.url.removeprefix(base), []).append(request.timing["responseEnd"])


async def in_browser(base: str, samples: int) -> list[tuple[str, float, float]]:
    from playwright.async_api import async_playwright

    rows = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                           args=CHROMIUM_ARGS)
        for username, role in USERS.items():
            ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 860})
            resp = await ctx.request.post(f"{base}/api/v1/auth/login",
                                          data={"username": username, "password": PASSWORD})
            assert resp.status == 200, await resp.text()
            await ctx.add_init_script(SHOWN)
            page = await ctx.new_page()
            requests: dict[str, list[float]] = {}
            page.on("requestfinished", functools.partial(timed, base, seen=requests))
            for p in CONSOLE.pages:
                if role not in p.roles:
                    continue
                times = []
                requests.clear()
                for _ in range(samples + 1):  # the first warms the caches, not counted
                    await page.goto(f"{base}{p.path}", wait_until="commit")
                    await page.wait_for_load_state("networkidle", timeout=60_000)
                    times.append(float(await page.evaluate(
                        "Math.max(window.lintelShown, performance.getEntriesByType('navigation')"
                        "[0].domContentLoadedEventEnd)")))
                rows.append((f"{role} {p.path}", *stats(times[1:])))
                slowest = sorted(((statistics.median(ms), path) for path, ms in requests.items()),
                                 reverse=True)[:3]
                print(f"{role} {p.path}: " + ", ".join(f"{path} {ms:.0f} ms" for ms, path in slowest),
                      flush=True)
            await ctx.close()
        await browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    pg = PostgresServer()
    pg.start()
    try:
        name = "console_bench"
        url = pg.create_database(name)
        run_migrations(url)
        load(pg, name, args.residents, args.events)
        asyncio.run(users(url))
        asyncio.run(serve_and_time(url, args.samples))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
