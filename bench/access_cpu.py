"""The hub's CPU per access-log request: what one Python process spends on each query shape.

bench/access_query.py measures 20 clients on a large database; there the hub's CPU per request
is what makes requests queue. This is its quick, repeatable companion for that one figure:
a PostgreSQL with `--events` access events (1 million by default, the same generated data:
100 sites, 1,000 buildings, 100,000 residents with a card each), the API alone (no broker, no
ingest) served by a child process, and one client asking each shape of access_query.py in turn,
`--requests` times, one request at a time, as an admin, a site manager and a guard. Printed per
shape: rows, latency p50, and the server process's CPU (user + system) per request.
`--profile FILE` runs the server under cProfile and writes its stats to FILE (read them with
`python -m pstats FILE`).

Usage: PYTHONPATH=. .venv/bin/python bench/access_cpu.py [--events 1000000] [--requests 200]
           [--data /tmp/accesscpu-1m] [--profile /tmp/access.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from access_query import (  # type: ignore[import-not-found]  # bench/ is not a package
    NAME,
    PASSWORD,
    BenchPostgres,
    Client,
    Loaded,
    login,
    shapes,
)

from harness.report import machine, report
from harness.services import free_port
from hub.db import run_migrations

# an admin (every site), a site manager and a guard of another site
USERS = [Client("admin", "admin", None), Client("manager001", "manager", "s001"),
         Client("guard009", "guard", "s009")]


async def serve(url: str, port: int, profile: str | None) -> None:
    """The API alone on `port` until SIGTERM; the users made if missing."""
    from sqlalchemy import select

    from hub.api.app import create_app
    from hub.api.core.auth import create_user
    from hub.db import create_engine, create_sessionmaker
    from hub.models import User

    class Quiet:  # reads publish nothing
        def registry_changed(self, *args: Any, **kwargs: Any) -> None:
            pass

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        known = set(await session.scalars(select(User.username)))
        for c in USERS:
            if c.username not in known:
                await create_user(session, c.username, PASSWORD, c.role, site_id=c.site)
        await session.commit()
    runner = aiohttp.web.AppRunner(create_app(sessions=sessions, publisher=Quiet()))
    await runner.setup()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not waits
    if profiler is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, profiler.enable)
    print("serving", flush=True)
    await stop.wait()
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    await runner.cleanup()
    await engine.dispose()


async def measure(port: int, server: psutil.Process, loaded: Loaded, per_shape: int,
                  profiling: bool) -> None:
    base = f"http://127.0.0.1:{port}/api/v1"
    async with aiohttp.ClientSession() as http:
        for c in USERS:
            c.auth = await login(http, base, c.username)
        all_shapes = shapes(loaded)
        # a month's export here holds about the rows of a day's at 30 million events
        all_shapes["site, CSV export of 30 days"] = lambda r, c: (
            f"site={c.site or 's001'}&since={_day(loaded.now, 40)}&until={_day(loaded.now, 10)}"
            "&format=csv")
        for shape in list(all_shapes.values())[:2]:  # warm the caches and the code paths
            for i in range(20):
                await get(http, base, USERS[i % 3], shape(random.Random(i), USERS[i % 3]))
        if profiling:
            server.send_signal(signal.SIGUSR1)
        print(f"{'query shape':34} {'rows':>5} {'p50 ms':>7} {'hub CPU ms/req':>15}")
        cpu_all, n_all = 0.0, 0
        for k, (name, shape) in enumerate(all_shapes.items()):
            r = random.Random(k)
            queries = [(USERS[i % 3], shape(r, USERS[i % 3])) for i in range(per_shape)]
            for c, query in queries[:5]:  # this shape's own warm-up
                await get(http, base, c, query)
            times, rows = [], []
            cpu = sum(server.cpu_times()[:2])
            for c, query in queries:
                ms, n = await get(http, base, c, query)
                times.append(ms)
                rows.append(n)
            spent = (sum(server.cpu_times()[:2]) - cpu) * 1000
            cpu_all, n_all = cpu_all + spent, n_all + len(queries)
            print(f"{name:34} {statistics.mean(rows):5.0f} {statistics.median(times):7.1f} "
                  f"{spent / len(queries):15.2f}", flush=True)
        report("access log, hub CPU per request over every shape (one client)",
               f"{cpu_all / n_all:.2f} ms")


def _day(now: datetime, days_ago: int) -> str:
    return (now - timedelta(days=days_ago)).strftime("%Y-%m-%dT00:00:00Z")


async def get(http: aiohttp.ClientSession, base: str, c: Client, query: str
              ) -> tuple[float, int]:
    started = time.perf_counter()
    async with http.get(f"{base}/access-events?{query}", headers=c.auth) as resp:
        text = await resp.text()
        if resp.status != 200:
            raise RuntimeError(f"{query}: {resp.status} {text}")
        if resp.content_type == "text/csv":
            rows = len(text.splitlines()) - 1
        else:
            import json

            rows = len(json.loads(text)["items"])
    return (time.perf_counter() - started) * 1000, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--requests", type=int, default=200, help="per shape")
    parser.add_argument("--data", type=Path, default=None,
                        help="keep the PostgreSQL cluster here; reuse it if already loaded")
    parser.add_argument("--profile", default=None, metavar="FILE",
                        help="cProfile the server over the measured requests into FILE")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve[0], int(args.serve[1]), args.profile))
        return
    from access_query import load

    pg = BenchPostgres(args.data)
    marker = pg.dir / "loaded.json"
    server = None
    try:
        if marker.exists():
            pg.resume()
            loaded = Loaded.read(marker)
        else:
            pg.start()
            run_migrations(pg.create_database(NAME))
            loaded = load(pg, args.events, args.days, False, 3600, 5 * (1 << 30))
            loaded.save(marker)
        print(f"{loaded.events:,} access events; {machine()}", flush=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", pg.url(NAME), str(port),
             *(["--profile", args.profile] if args.profile else [])],
            stdout=subprocess.PIPE, text=True, env={**os.environ})
        assert server.stdout is not None
        if server.stdout.readline().strip() != "serving":
            raise RuntimeError("the API did not start")
        asyncio.run(measure(port, psutil.Process(server.pid), loaded, args.requests,
                            args.profile is not None))
        print(f"load average at the end: {machine()}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        if args.data is None:
            pg.stop()
        else:
            pg.halt()


if __name__ == "__main__":
    main()
