"""The manager's slowest lists with 10,000 residents, timed as a person sees them (issue 16).

Makes a SQLite hub database (or PostgreSQL with --postgres, a throwaway server on loopback)
with one site, 50 buildings of 50 units, N residents (one card each, half in an access group),
serves the API and the console in this process, and times:
  - the API calls behind each list: a page of 50 residents, the same searched by name and
    filtered by building, a page of 50 cards searched by holder, the last page (offset);
  - in Debian's Chromium: from navigation to the first page of rows shown, for the residents
    page and the cards page (target: data shown <= 500 ms).
Prints p50 / p95 / max per measure (ms). Usage:
  .venv/bin/python bench/manager_lists.py [--residents 10000] [--samples 30] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.services import PostgresServer, free_port
from hub.api import create_app, create_user
from hub.console import add_console
from hub.models import (
    AccessGroup,
    Building,
    CardCredential,
    Household,
    Resident,
    Site,
    Unit,
    resident_groups,
    utcnow,
)
from hub.schema import metadata

PASSWORD = "bench password 1"
BUILDINGS, UNITS_PER_BUILDING = 50, 50
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
SHOWN = """
new MutationObserver((_, observer) => {
  if (document.querySelectorAll("tr[data-resident], tr[data-card]").length >= 50) {
    window.lintelShown = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


class NoPublisher:
    def registry_changed(self, *_: Any, **__: Any) -> None:
        """The bench changes nothing after loading."""


async def load(sessions: async_sessionmaker[AsyncSession], residents: int) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        session.add(Site(id="bench", name="Bench", timezone="Asia/Shanghai"))
        await session.flush()
        await session.execute(insert(Building), [
            {"id": b + 1, "site_id": "bench", "code": f"B{b + 1}", "name": f"{b + 1}号楼"}
            for b in range(BUILDINGS)])
        await session.execute(insert(Unit), [
            {"id": b * UNITS_PER_BUILDING + u + 1, "building_id": b + 1,
             "number": f"{u // 4 + 1}{u % 4 + 1:02d}", "floor": u // 4 + 1, "status": "occupied"}
            for b in range(BUILDINGS) for u in range(UNITS_PER_BUILDING)])
        units = BUILDINGS * UNITS_PER_BUILDING
        await session.execute(insert(Household), [
            {"id": u + 1, "site_id": "bench", "unit_id": u + 1, "name": "", "created_at": now}
            for u in range(units)])
        session.add(AccessGroup(id=1, site_id="bench", name="all"))
        await session.flush()
        await session.execute(insert(Resident), [
            {"id": i + 1, "site_id": "bench", "unit_id": i % units + 1,
             "household_id": i % units + 1, "type": "owner" if i % 3 else "tenant",
             "name": f"{SURNAMES[i % len(SURNAMES)]}{i:05d}", "phone": f"139{i:08d}",
             "created_at": now, "updated_at": now} for i in range(residents)])
        await session.execute(insert(CardCredential), [
            {"site_id": "bench", "resident_id": i + 1, "card_number": str(10_000_000 + i),
             "status": "active", "created_at": now, "updated_at": now} for i in range(residents)])
        await session.execute(insert(resident_groups), [
            {"resident_id": i + 1, "group_id": 1} for i in range(0, residents, 2)])
        await create_user(session, "manager1", PASSWORD, "manager", "bench")


@asynccontextmanager
async def database(postgres: bool, tmp: Path) -> AsyncIterator[str]:
    if not postgres:
        yield f"sqlite+aiosqlite:///{tmp / 'hub.db'}"
        return
    async with PostgresServer(tmp / "pg") as server:
        yield server.url("lintel")  # type: ignore[attr-defined]


def stats(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"{name:<58} p50 {statistics.median(ms):7.1f}  p95 {p95:7.1f}  max {ms[-1]:7.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        async with database(args.postgres, Path(tmp_dir)) as url:
            engine = create_async_engine(url)
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            sessions = async_sessionmaker(engine, expire_on_commit=False)
            started = time.perf_counter()
            await load(sessions, args.residents)
            print(f"{'sqlite' if not args.postgres else 'postgresql'}: {args.residents} residents "
                  f"loaded in {time.perf_counter() - started:.1f} s")
            app = create_app(sessions=sessions, publisher=NoPublisher())
            add_console(app)
            runner = web.AppRunner(app)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            try:
                await measure(f"http://127.0.0.1:{port}", args.samples)
            finally:
                await runner.cleanup()
                await engine.dispose()


async def measure(base: str, samples: int) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/auth/login",
                             json={"username": "manager1", "password": PASSWORD}) as resp:
            assert resp.status == 200, await resp.text()
            token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        shapes = {
            "GET /residents?limit=50 (first page)": "/residents?limit=50",
            "GET /residents?limit=50&offset=9950 (last page)": "/residents?limit=50&offset=9950",
            "GET /residents?q=王&building_id=7&limit=50": "/residents?q=%E7%8E%8B&building_id=7&limit=50",
            "GET /residents?q=13900004&limit=50 (phone)": "/residents?q=13900004&limit=50",
            "GET /residents?group_id=1&type=tenant&limit=50": "/residents?group_id=1&type=tenant&limit=50",
            "GET /cards?limit=50": "/cards?limit=50",
            "GET /cards?q=李&limit=50 (holder)": "/cards?q=%E6%9D%8E&limit=50",
            "GET /units (all 2,500, the page's unit names)": "/units",
        }
        for name, path in shapes.items():
            times = []
            for _ in range(samples):
                t0 = time.perf_counter()
                async with http.get(f"{base}/api/v1{path}", headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, (path, resp.status)
                times.append((time.perf_counter() - t0) * 1000)
            stats(name, times)
    await in_browser(base, max(5, samples // 3))


async def in_browser(base: str, samples: int) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                           args=CHROMIUM_ARGS)
        ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 860})
        resp = await ctx.request.post(f"{base}/api/v1/auth/login",
                                      data={"username": "manager1", "password": PASSWORD})
        assert resp.status == 200
        # the moment the page's own script puts the 50th row in (a MutationObserver, read from
        # the navigation's start): what follows in the same task cannot delay what is measured
        await ctx.add_init_script(SHOWN)
        page = await ctx.new_page()
        for path, ready in (("/manage/residents", "#resident-rows tr[data-resident]"),
                            ("/manage/cards", "#card-rows tr[data-card]")):
            times = []
            for _ in range(samples):
                await page.goto(f"{base}{path}", wait_until="commit")
                await page.locator(ready).nth(49).wait_for(timeout=30_000)
                times.append(float(await page.evaluate("window.lintelShown")))
            stats(f"Chromium {path}: navigation to 50 rows shown", times)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
