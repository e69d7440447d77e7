"""CSV import benchmark: 10,000 units, then 10,000 residents (Chinese names, ID numbers)
through the real API on a migrated database; prints the time of the dry run, the import, and
of a refused file (one bad row at the end, nothing written).

    .venv/bin/python bench/csv_import.py [--units N] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hub.api import create_app, create_user
from hub.db import create_engine, create_sessionmaker, migrate
from hub.models import Building, Resident, Site

BUILDINGS = 20
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"


def id_number(i: int) -> str:
    body = f"440304{1950 + i % 50:04d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]
    return body + check


class NoPublisher:
    def registry_changed(self, site_id: str) -> None:
        pass


async def run(units: int, url: str) -> None:
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        session.add(Site(id="bench", name="基准小区"))
        await session.flush()
        session.add_all(
            Building(site_id="bench", code=f"B{b}", name=f"{b}号楼") for b in range(1, 21)
        )
        await create_user(session, "admin", "bench password 1", "admin")
    per_building = units // BUILDINGS
    unit_rows = [
        f"B{b},{floor:02d}{n:02d},{floor},{80 + n % 40}.5,occupied"
        for b in range(1, BUILDINGS + 1)
        for floor, n in ((1 + k // 10, 1 + k % 10) for k in range(per_building))
    ]
    unit_csv = "building,number,floor,area,status\n" + "\n".join(unit_rows) + "\n"
    resident_rows = []
    for i, row in enumerate(unit_rows):
        building, number = row.split(",")[:2]
        name = SURNAMES[i % 20] + GIVEN[(i // 20) % 20] + GIVEN[(i // 400) % 20]
        resident_rows.append(f"{building},{number},{name},owner,138{i:08d},{id_number(i)}")
    resident_csv = "building,unit,name,type,phone,id_number\n" + "\n".join(resident_rows) + "\n"

    app = create_app(sessions=sessions, publisher=NoPublisher())
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": "bench password 1"}
        )
        token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}

        async def post(path: str, text: str, dry: bool = False) -> tuple[float, int, Any]:
            query = "?site_id=bench" + ("&dry_run=true" if dry else "")
            start = time.perf_counter()
            resp = await client.post(path + query, data=text.encode(), headers=headers)
            body = await resp.json()
            return time.perf_counter() - start, resp.status, body

        kb = len(unit_csv.encode()) / 1024
        print(
            f"database: {url.split(':')[0]}; {len(unit_rows)} units ({kb:.0f} KiB), "
            f"{len(resident_rows)} residents ({len(resident_csv.encode()) / 1024:.0f} KiB)"
        )
        for label, path, text, dry in (
            ("units dry run", "/api/v1/import/units", unit_csv, True),
            ("units import", "/api/v1/import/units", unit_csv, False),
            ("residents dry run", "/api/v1/import/residents", resident_csv, True),
            ("residents import", "/api/v1/import/residents", resident_csv, False),
            ("residents again (all refused)", "/api/v1/import/residents", resident_csv, False),
        ):
            took, status, body = await post(path, text, dry)
            summary = body.get("created", body.get("detail"))
            print(f"{label:32s} {took * 1000:8.0f} ms  HTTP {status}  {summary}")
        bad = resident_csv.replace("\n", "\nB1,9999,无名,owner,,\n", 1)
        took, status, body = await post("/api/v1/import/residents", bad)
        print(f"{'one bad row (nothing written)':32s} {took * 1000:8.0f} ms  HTTP {status}")
    async with sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Resident))
    print(f"residents in the database: {total}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    if args.postgres:
        from harness.services import PostgresServer

        server = PostgresServer()
        server.start()
        try:
            asyncio.run(run(args.units, server.create_database("bench_import")))
        finally:
            server.stop()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args.units, f"sqlite+aiosqlite:///{tmp}/bench.db"))


if __name__ == "__main__":
    main()
