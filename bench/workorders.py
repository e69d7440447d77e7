"""Work-order figures on a throwaway PostgreSQL (loopback):

  - open_fault_order, a new order (insert, assignment by skill and workload, history,
    outbox) committed alone: p50/p99;
  - open_fault_order for a fault that already has its open order (the rule firing again):
    p50/p99;
  - 8 sessions racing to open the same faults: orders opened (must equal the faults), time;
  - the technician's list (GET /work-orders, 50 a page) with N orders stored: p50/p99;
  - one job pass escalating N overdue orders (in transactions of 500).

Usage: .venv/bin/python bench/workorders.py [--orders 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.report import report
from harness.services import PostgresServer
from harness.stats import summarize
from hub.api import create_app, create_user
from hub.db import create_engine, create_sessionmaker, migrate
from hub.models import Device, Site
from hub.workorders import TechnicianSkill, open_fault_order
from hub.workorders.jobs import WorkOrderJobs

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PASSWORD = "bench password 1"


def line(what: str, values: list[float]) -> None:
    report(what, summarize(values, "ms", 1000).text(2))


class _NoPublisher:
    def registry_changed(self, *args: object, **kwargs: object) -> None:
        pass


async def run(url: str, n: int) -> None:
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as s, s.begin():
        s.add(Site(id="bench", name="Bench", timezone="Asia/Shanghai"))
        await s.flush()
        devices = [Device(site_id="bench", edge=f"e{i // 20}", name=f"lift-{i}",
                          device_type="elevator", model="m", status="online") for i in range(n)]
        s.add_all(devices)
        techs = [await create_user(s, f"tech{i}", PASSWORD, "technician", site_id="bench")
                 for i in range(5)]
        s.add_all([TechnicianSkill(user_id=t.id, skill="elevator_door") for t in techs])
    ids = [d.id for d in devices]

    async def open_one(device_id: int, code: str = "Err48") -> bool:
        async with sessions() as s, s.begin():
            return (await open_fault_order(
                s, site_id="bench", device_id=device_id, fault_code=code,
                skill="elevator_door", priority="urgent", title="door fault", now=T0))[1]

    new, again = [], []
    for device_id in ids:
        start = time.perf_counter()
        assert await open_one(device_id)
        new.append(time.perf_counter() - start)
    for device_id in ids[:500]:
        start = time.perf_counter()
        assert not await open_one(device_id)
        again.append(time.perf_counter() - start)
    line("open_fault_order, new order (one commit each)", new)
    line("open_fault_order, already open", again)

    faults = ids[:50]
    start = time.perf_counter()
    results = await asyncio.gather(*(open_one(d, "Err02") for _ in range(8) for d in faults))
    took = time.perf_counter() - start
    print(f"8 sessions racing on {len(faults)} faults: {sum(results)} orders opened "
          f"({len(results)} calls in {took:.2f} s)")
    assert sum(results) == len(faults)

    app = create_app(sessions=sessions, publisher=_NoPublisher(), token_ttl_s=3600)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/api/v1/auth/login",
                                 json={"username": "tech0", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        lists = []
        for _ in range(200):
            start = time.perf_counter()
            resp = await client.get("/api/v1/work-orders?limit=50", headers=headers)
            assert resp.status == 200
            await resp.read()
            lists.append(time.perf_counter() - start)
        line(f"GET /work-orders as a technician ({n + len(faults)} stored)", lists)

    start = time.perf_counter()
    _, escalated = await WorkOrderJobs(sessions, clock=lambda: T0 + timedelta(hours=5)).run_once()
    print(f"one job pass escalating {len(escalated)} orders: "
          f"{time.perf_counter() - start:.2f} s")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    server = PostgresServer()
    server.start()
    try:
        asyncio.run(run(server.create_database("bench_workorders"), args.orders))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
