"""Telemetry ingest benchmark: telemetry events/s stored by the hub into SQLite and PostgreSQL.

Each event is one device's poll (5 readings), from 200 devices. Two figures per database:
- `broker`: events queued in a real Mosquitto for the hub's persistent session, then drained by
  the hub's MQTT client and ingest (parse, event_log, device state, telemetry rows, commit, ack);
- `direct`: the same ingest fed batches of 100 messages without a broker (the database's share).
Bounded by --events and --max-s.

    .venv/bin/python bench/telemetry_ingest.py [--events N] [--max-s S] [--db sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sqlalchemy import func, select

from harness.services import MosquittoServer, PostgresServer
from hub.db import create_engine, create_sessionmaker, migrate
from hub.ingest import Ingest, hub_subscriptions
from hub.models import TelemetryRow
from hub.mqtt import Message, MqttClient
from hub.seed import seed_demo
from wire import new_event_id, topics

DEVICES = 200
READINGS = 5
TOPIC = topics.event("demo", "b1-edge", "telemetry")


def payloads(n: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(n):
        device = i % DEVICES
        out.append(json.dumps({
            "id": new_event_id(), "ts": (start + timedelta(milliseconds=i)).isoformat(),
            "site": "demo", "edge": "b1-edge", "device": f"lift-{device}", "seq": i,
            "kind": "telemetry",
            "data": {"device_type": "elevator", "model": "bench-lift", "readings": [
                {"name": "floor", "value": i % 30, "unit": None},
                {"name": "direction", "value": "up", "unit": None},
                {"name": "running", "value": True, "unit": None},
                {"name": "door", "value": "closed", "unit": None},
                {"name": "load", "value": 312.5, "unit": "kg"},
            ]},
        }).encode())
    return out


class _NoBroker:
    """Stands in for MqttClient when the ingest is fed directly."""

    subscribed = True  # as a client whose subscriptions stand

    def __init__(self) -> None:
        self.messages: asyncio.Queue[Message] = asyncio.Queue()

    def ack(self, message: Message) -> None:
        pass


async def fresh_db(kind: str, tmp: Path, pg: PostgresServer | None, tag: str) -> str:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp}/{tag}.db"
    else:
        assert pg is not None
        url = pg.create_database(f"bench_{tag}_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    return url


async def direct(url: str, events: list[bytes], max_s: float) -> tuple[int, float]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    await seed_demo(sessions)
    ingest = Ingest(sessions, _NoBroker())  # type: ignore[arg-type]
    start = time.perf_counter()
    done = 0
    for i in range(0, len(events), 100):
        batch = [Message(TOPIC, p, 1, False, j, 0) for j, p in enumerate(events[i:i + 100])]
        await ingest.handle(batch)
        done += len(batch)
        if time.perf_counter() - start > max_s:
            break
    elapsed = time.perf_counter() - start
    async with sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(TelemetryRow))
    assert stored == done * READINGS
    await engine.dispose()
    return done, elapsed


async def through_broker(url: str, events: list[bytes], max_s: float) -> tuple[int, float]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    await seed_demo(sessions)
    broker = MosquittoServer()
    broker.start()
    try:
        def hub_mqtt() -> MqttClient:
            return MqttClient(host=broker.host, port=broker.port, client_id="bench-hub",
                              subscriptions=hub_subscriptions("hub"))

        async with hub_mqtt() as mqtt:  # register the persistent session, then go away
            await mqtt.wait_ready(10)
        async with MqttClient(host=broker.host, port=broker.port, client_id="bench-edge",
                              clean_session=True) as edge:
            await edge.wait_ready(10)
            await asyncio.gather(*(edge.publish(TOPIC, p, qos=1) for p in events))
        mqtt = hub_mqtt()
        start = time.perf_counter()
        async with mqtt, Ingest(sessions, mqtt) as ingest:
            while ingest.stats.events < len(events) and time.perf_counter() - start < max_s:
                await asyncio.sleep(0.01)
            await ingest.wait_idle(30)
            done = ingest.stats.events
        elapsed = time.perf_counter() - start
    finally:
        broker.cleanup()
        await engine.dispose()
    return done, elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--max-s", type=float, default=60.0)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    events = payloads(args.events)
    pg: PostgresServer | None = None
    print(f"telemetry ingest: {args.events} events × {READINGS} readings from {DEVICES} devices,"
          f" {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="lintel-bench-") as tmp:
        try:
            for kind in args.db.split(","):
                if kind == "postgresql" and pg is None:
                    pg = PostgresServer()
                    pg.start()
                for mode, run in (("direct", direct), ("broker", through_broker)):
                    url = await fresh_db(kind, Path(tmp), pg, mode)
                    done, elapsed = await run(url, events, args.max_s)
                    print(f"  {kind:10s} {mode:6s}: {done:6d} events in {elapsed:6.2f} s = "
                          f"{done / elapsed:7.0f} events/s ({done * READINGS / elapsed:7.0f} "
                          f"readings/s)")
        finally:
            if pg is not None:
                pg.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
