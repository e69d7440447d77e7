"""Compile and publish a 100,000-credential snapshot: real SQLite and PostgreSQL, real Mosquitto.

Seeds one site (one edge, one door, one group, 100,000 residents each with a card), then times
`PermissionPublisher.publish_site(force=True)` several times — load, compile, hash, serialise and
publish retained at QoS 1 until the broker acknowledged — and prints the p50. Also times the
edge's side: validating the payload into a PermissionSnapshot and applying it to the cache.

    .venv/bin/python bench/permission_compile.py [--cards 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.access.cache import PermissionCache
from harness.downlink import SIGNER
from harness.services import MosquittoServer, PostgresServer
from harness.stats import percentile
from hub.compiler import PermissionPublisher, compile_edge, load_registry
from hub.db import create_engine, create_sessionmaker, migrate
from hub.models import (
    AccessGroup,
    CardCredential,
    Door,
    Edge,
    Resident,
    Schedule,
    Site,
    group_doors,
    resident_groups,
    utcnow,
)
from hub.mqtt import MqttClient
from wire import PermissionSnapshot


async def seed(url: str, cards: int) -> None:
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as s, s.begin():
        s.add(Site(id="big", name="Big", timezone="Asia/Shanghai"))
        await s.flush()
        edge = Edge(site_id="big", name="edge-1")
        s.add(edge)
        sched = Schedule(site_id="big", name="day",
                         windows=[{"days": [0, 1, 2, 3, 4, 5, 6], "start": "06:00", "end": "23:00"}])
        s.add(sched)
        await s.flush()
        door = Door(site_id="big", edge_id=edge.id, name="main", label="Main")
        s.add(door)
        group = AccessGroup(site_id="big", name="all", schedule_id=sched.id)
        s.add(group)
        await s.flush()
        await s.execute(insert(group_doors).values(group_id=group.id, door_id=door.id))
        for start in range(0, cards, 20_000):
            ids = range(start + 1, min(cards, start + 20_000) + 1)
            await s.execute(insert(Resident), [{"id": i, "site_id": "big", "name": f"r{i}"}
                                               for i in ids])
            await s.execute(insert(resident_groups), [{"resident_id": i, "group_id": group.id}
                                                      for i in ids])
            await s.execute(insert(CardCredential), [
                {"site_id": "big", "resident_id": i, "card_number": str(10_000_000 + i),
                 "status": "active"} for i in ids])
    await engine.dispose()


async def measure(url: str, port: int, runs: int) -> tuple[list[float], list[float], bytes]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    compile_only: list[float] = []
    publish: list[float] = []
    async with MqttClient(host="127.0.0.1", port=port, client_id="bench-hub") as mqtt:
        await mqtt.wait_ready(10)
        publisher = PermissionPublisher(sessions, mqtt, publish_all_on_start=False,
                                        downlink=SIGNER)
        for _ in range(runs):
            started = time.perf_counter()
            async with sessions() as s:
                reg = await load_registry(s, "big")
            content = compile_edge("big", reg.edges[0][0], reg.edges[0][1], reg)
            content.content_hash()
            compile_only.append(time.perf_counter() - started)
            started = time.perf_counter()
            [result] = await publisher.publish_site("big", force=True)
            publish.append(time.perf_counter() - started)
            assert result.published and result.credentials > 0
        payload = PermissionSnapshot.build(content, 1, utcnow()).model_dump_json().encode()
    await engine.dispose()
    return compile_only, publish, payload


def edge_side(payload: bytes, runs: int) -> tuple[list[float], list[float]]:
    validate: list[float] = []
    apply: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            started = time.perf_counter()
            snap = PermissionSnapshot.model_validate_json(payload)
            validate.append(time.perf_counter() - started)
            with PermissionCache(Path(tmp) / f"p{i}.db") as cache:
                started = time.perf_counter()
                cache.apply(snap)
                apply.append(time.perf_counter() - started)
    return validate, apply


def p50(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.3f} s (min {min(values):.3f}, max {max(values):.3f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    broker = MosquittoServer()
    broker.start()
    pg = PostgresServer()
    pg.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            targets = {
                "sqlite": f"sqlite+aiosqlite:///{tmp}/bench.db",
                "postgresql": pg.create_database("bench_compile"),
            }
            payload = b""
            for name, url in targets.items():
                await seed(url, args.cards)
                compiled, published, payload = await measure(url, broker.port, args.runs)
                print(f"{name:>10}: load+compile+hash {p50(compiled)}")
                print(f"{name:>10}: compile+publish (broker acked) {p50(published)}")
            validate, apply = edge_side(payload, args.runs)
            print(f"      edge: validate {len(payload) / 1e6:.1f} MB snapshot {p50(validate)}")
            print(f"      edge: apply to the SQLite cache {p50(apply)}")
    finally:
        pg.stop()
        broker.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
