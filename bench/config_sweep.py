"""The hub's start-up sweep of edge configurations (hub.installation.push): how long it takes
and what it costs for a compound of many edges, when every edge lacks its configuration (the
first start after an upgrade that compiles differently) and when every edge runs what the hub
holds (an ordinary restart: one compile per edge, no message).

A real database (SQLite file, or PostgreSQL with --database-url) and a real Mosquitto; each
edge has one OSDP line with `--doors` doors, installed through the installation's services.

    PYTHONPATH=. .venv/bin/python bench/config_sweep.py [--edges 200] [--doors 8]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, update

from harness.downlink import SIGNER
from hub.db import create_engine, create_sessionmaker, migrate
from hub.edgeconfig import EdgeConfigPublisher
from hub.installation import SYSTEM, Installer, create_door, create_edge, create_line
from hub.installation.push import ConfigPusher
from hub.installation.specs import DoorSpec, EdgeSpec, LineSpec
from hub.models import Edge, EdgeConfigVersion, Site
from hub.mqtt import MqttClient
from tests.support.services import MosquittoServer


async def _install(url: str, edges: int, doors: int) -> None:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        session.add(Site(id="bench", name="Bench"))
        await session.flush()
        inst = Installer(session, SYSTEM)
        for n in range(edges):
            edge = await create_edge(inst, EdgeSpec(site_id="bench", name=f"e{n:04d}"))
            line = await create_line(inst, LineSpec(edge_id=edge.id, name="readers",
                                                    port="/dev/ttyUSB0", protocol="osdp"))
            for d in range(doors):
                await create_door(inst, DoorSpec(edge_id=edge.id, name=f"e{n:04d}-d{d}",
                                                 line_id=line.id, reader_address=d + 1))
    await engine.dispose()


async def _sweep(url: str, mqtt: MqttClient, what: str) -> None:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    cpu = time.process_time()
    start = time.perf_counter()
    publisher = EdgeConfigPublisher(mqtt, SIGNER)
    async with ConfigPusher(sessions, publisher, debounce_s=0.01) as pusher:
        await pusher.wait_swept(600)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    async with sessions() as session:
        versions = list(await session.scalars(select(EdgeConfigVersion.version)))
    await engine.dispose()
    print(f"{what}: {len(versions)} edges swept in {wall:.2f} s wall, {used:.2f} s CPU "
          f"({1000 * used / max(len(versions), 1):.1f} ms CPU per edge); versions now "
          f"{min(versions)}..{max(versions)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=200)
    parser.add_argument("--doors", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/hub.db"
        await migrate(url)
        await _install(url, args.edges, args.doors)
        broker = MosquittoServer()
        broker.start()
        try:
            async with MqttClient(host=broker.host, port=broker.port, client_id="bench") as mqtt:
                await mqtt.wait_ready(10)
                await _sweep(url, mqtt, "never published (each one compiled and sent)")
                # the edges report running what the hub holds: the next start sends nothing
                engine = create_engine(url)
                async with create_sessionmaker(engine)() as session, session.begin():
                    for edge_id, version in (await session.execute(select(
                            EdgeConfigVersion.edge_id, EdgeConfigVersion.version))).all():
                        await session.execute(update(Edge).where(Edge.id == edge_id)
                                              .values(config_version_held=version))
                await engine.dispose()
                await _sweep(url, mqtt, "in step (each one compiled, nothing sent)")
        finally:
            broker.cleanup()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
