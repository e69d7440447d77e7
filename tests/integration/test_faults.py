"""Faults under load, on real parts: hub workers (`lintel hub` processes on the shared
subscription) killed with SIGKILL, the broker restarted, an edge offline while 100,000 events
pile up. Whatever happens, every event an edge's outbox handed to the broker (its PUBACK let
the event leave the outbox) is stored exactly once, and each edge's events arrive in order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from edge.config import parse_config
from edge.outbox import Outbox
from edge.uplink import Uplink
from hub.db import run_migrations
from tests.support.mqtt import Collector
from tests.support.services import MosquittoServer, PostgresServer, free_port
from wire import AccessData, EdgeState, parse_event, topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SITE = "faults"


def swipe(n: int) -> AccessData:
    return AccessData(door=f"d{n % 4}", credential=str(1000 + n % 997), result="denied",
                      reason="unknown_card", decision_us=5)


class HubWorkers:
    """`lintel hub` processes on one shared subscription, each with its persistent session."""

    def __init__(self, database_url: str, mqtt_port: int, count: int, tmp_path: Path) -> None:
        self.procs: list[subprocess.Popen[str] | None] = [None] * count
        self.env = [{**os.environ, "LINTEL_HUB_DATABASE_URL": database_url,
                     "LINTEL_HUB_MQTT_PORT": str(mqtt_port),
                     "LINTEL_HUB_MQTT_CLIENT_ID": f"hub-fault-{i}",
                     "LINTEL_HUB_MQTT_SHARED_GROUP": "hub",
                     "LINTEL_HUB_HTTP_PORT": str(free_port()),
                     "LINTEL_HUB_ADMIN_PASSWORD": "fault-test-pass",
                     "LINTEL_HUB_DATA_DIR": str(tmp_path / f"hub{i}")} for i in range(count)]

    async def start(self, i: int) -> None:
        # Popen returns at once; the wait for the worker to serve is awaited below
        proc = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "lintel.cli", "hub"], env=self.env[i],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs[i] = proc
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
        assert "hub serving" in line, f"hub worker {i} did not start: {line!r}"

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None and proc.poll() is None, f"worker {i} is not running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


class LoadEdge:
    """An edge's real outbox and uplink, writing `rate` access events per second."""

    def __init__(self, name: str, mqtt_port: int, data_dir: Path) -> None:
        data_dir.mkdir(parents=True)
        self.name = name
        self.outbox = Outbox(data_dir / "outbox.db", site=SITE, edge=name)
        self.config = parse_config({
            "site": SITE, "edge": name, "data_dir": str(data_dir),
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "backoff_min_s": 1,
                     "backoff_max_s": 1}})
        self.written = 0

    def write(self, count: int) -> None:
        self.outbox.add_events([(f"d{(self.written + i) % 4}", swipe(self.written + i))
                                for i in range(count)])
        self.written += count

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Uplink]:
        def state() -> EdgeState:
            return EdgeState(status="online", agent_version="test")

        async with Uplink(self.config, self.outbox, state=state, version="test") as uplink:
            yield uplink


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"faults_{random.randrange(16**8):08x}"
    url = postgres_server.create_database(name)
    run_migrations(url)
    with psycopg.connect(f"host=127.0.0.1 port={postgres_server.port} user=postgres "
                         f"dbname={name}", autocommit=True) as db:
        db.execute("INSERT INTO sites (id, name, timezone) VALUES (%s, 'faults', 'UTC')", (SITE,))
        for e in range(4):
            db.execute("INSERT INTO edges (site_id, name, status) VALUES (%s, %s, 'unknown')",
                       (SITE, f"e{e}"))
    yield f"host=127.0.0.1 port={postgres_server.port} user=postgres dbname={name}"


def stored(dsn: str) -> dict[str, list[int]]:
    """Each edge's stored sequence numbers, one entry per stored row."""
    with psycopg.connect(dsn) as db:
        rows = db.execute("SELECT edge, seq FROM event_log WHERE kind = 'access'").fetchall()
    out: dict[str, list[int]] = {}
    for edge, seq in rows:
        out.setdefault(edge, []).append(seq)
    return out


async def all_stored(dsn: str, edges: list[LoadEdge], timeout: float) -> dict[str, list[int]]:
    """Wait until every edge's outbox is empty (the broker has it all) and the hub stored
    as many rows as were written; returns what is stored."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await asyncio.to_thread(stored, dsn)
        done = all(len(e.outbox) == 0 for e in edges) and sum(map(len, rows.values())) >= sum(
            e.written for e in edges)
        if done or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


def assert_exactly_once(rows: dict[str, list[int]], edges: list[LoadEdge]) -> None:
    for edge in edges:
        assert len(edge.outbox) == 0, f"{edge.name}: {len(edge.outbox)} never acknowledged"
        seqs = rows.get(edge.name, [])
        assert len(seqs) == len(set(seqs)), f"{edge.name}: stored twice"
        assert sorted(seqs) == list(range(1, edge.written + 1)), (
            f"{edge.name}: {edge.written} written, {len(set(seqs))} stored")


async def produce(edges: list[LoadEdge], uplinks: list[Uplink], stop: asyncio.Event,
                  per_tick: int = 4) -> None:
    """Each edge writes `per_tick` events every 20 ms (200/s per edge) until `stop`."""
    while not stop.is_set():
        for edge, uplink in zip(edges, uplinks, strict=True):
            edge.write(per_tick)
            uplink.wake()
        await asyncio.sleep(0.02)


@dataclass
class Load:
    """Two hub workers and edges writing under load (see `under_load`)."""

    workers: HubWorkers
    edges: list[LoadEdge]
    uplinks: list[Uplink]
    database: str
    stop: asyncio.Event
    writing: asyncio.Task[None]

    async def finish(self) -> dict[str, list[int]]:
        """Stop writing; what is stored once every outbox is empty and every event stored."""
        self.stop.set()
        await self.writing
        return await all_stored(self.database, self.edges, timeout=90)


@contextlib.asynccontextmanager
async def under_load(tmp_path: Path, database: str, mosquitto: MosquittoServer,
                     edge_count: int) -> AsyncIterator[Load]:
    """Two `lintel hub` workers on the shared subscription, and `edge_count` edges each
    writing 200 events/s through its real outbox and uplink."""
    workers = HubWorkers(_sqlalchemy_url(database), mosquitto.port, 2, tmp_path)
    edges = [LoadEdge(f"e{i}", mosquitto.port, tmp_path / f"e{i}") for i in range(edge_count)]
    try:
        await asyncio.gather(workers.start(0), workers.start(1))
        async with contextlib.AsyncExitStack() as stack:
            uplinks = [await stack.enter_async_context(e.running()) for e in edges]
            stop = asyncio.Event()
            writing = asyncio.create_task(produce(edges, uplinks, stop))
            stack.callback(writing.cancel)  # a failed test leaves no writer behind
            yield Load(workers, edges, uplinks, database, stop, writing)
    finally:
        workers.stop()
        for edge in edges:
            edge.outbox.close()


@pytest.mark.timeout(300)
async def test_hub_worker_killed_ten_times_under_load(
    tmp_path: Path, database: str, mosquitto: MosquittoServer
) -> None:
    async with under_load(tmp_path, database, mosquitto, 3) as load:
        for kill in range(10):
            victim = kill % 2  # the other worker keeps running meanwhile
            await asyncio.sleep(random.uniform(0.3, 0.8))
            load.workers.kill(victim)
            await load.workers.start(victim)  # same client id: its session's messages come back
        rows = await load.finish()
        assert sum(e.written for e in load.edges) > 2000
        assert_exactly_once(rows, load.edges)


@pytest.mark.timeout(240)
async def test_broker_restarted_under_load(
    tmp_path: Path, database: str, mosquitto: MosquittoServer
) -> None:
    async with under_load(tmp_path, database, mosquitto, 3) as load:
        for _ in range(2):
            await asyncio.sleep(1.5)
            mosquitto.stop()  # persistence on: queued messages survive the restart
            await asyncio.sleep(1.0)  # events pile up in the outboxes meanwhile
            mosquitto.start()
        await asyncio.sleep(1.5)
        rows = await load.finish()
        assert all(u.reconnects >= 2 for u in load.uplinks), [u.reconnects for u in load.uplinks]
        assert_exactly_once(rows, load.edges)


@pytest.mark.timeout(240)
async def test_broker_restarted_while_every_hub_worker_is_down(
    tmp_path: Path, database: str, mosquitto: MosquittoServer
) -> None:
    """Mosquitto 2.0.11 restores the hub workers' persistent sessions after a restart but
    not their `$share/` subscription: until a worker subscribes again, events it accepts
    reach no one. The edges hold them in their outboxes until a hub answers (topics.ready)."""
    async with under_load(tmp_path, database, mosquitto, 2) as load:
        await asyncio.sleep(1.0)
        load.workers.kill(0)
        load.workers.kill(1)
        mosquitto.stop()
        mosquitto.start()
        await asyncio.sleep(3.0)  # the edges are back on the broker; no hub is
        assert all(u.connected.is_set() for u in load.uplinks)
        assert all(len(e.outbox) > 0 for e in load.edges)  # held, not handed to no one
        await asyncio.gather(load.workers.start(0), load.workers.start(1))
        await asyncio.sleep(1.0)
        rows = await load.finish()
        assert_exactly_once(rows, load.edges)


@pytest.mark.timeout(300)
async def test_edge_offline_while_100000_events_pile_up(
    tmp_path: Path, database: str, mosquitto: MosquittoServer
) -> None:
    workers = HubWorkers(_sqlalchemy_url(database), mosquitto.port, 2, tmp_path)
    edge = LoadEdge("e0", mosquitto.port, tmp_path / "e0")
    try:
        await asyncio.gather(workers.start(0), workers.start(1))
        for _ in range(100):  # offline: 100,000 events pile up, 1,000 per write
            edge.write(1000)
        assert len(edge.outbox) == 100_000
        watcher = Collector("127.0.0.1", mosquitto.port, topics.event(SITE, "e0", "access"),
                            client_id="order-watch")
        try:
            started = time.monotonic()
            async with edge.running():
                rows = await all_stored(database, [edge], timeout=180)
                drained = time.monotonic() - started
            arrived = watcher.wait_for(100_000, timeout=30)
        finally:
            watcher.close()
        assert_exactly_once(rows, [edge])
        # in order per device: each reader's events reached the broker by increasing seq
        by_device: dict[str, list[int]] = {}
        for _, payload, _ in arrived:
            event = parse_event(payload)
            by_device.setdefault(event.device, []).append(event.seq)
        assert sum(map(len, by_device.values())) == 100_000
        assert all(seqs == sorted(seqs) for seqs in by_device.values())
        print(f"100,000 events drained and stored by 2 hub workers in {drained:.1f} s")
    finally:
        workers.stop()
        edge.outbox.close()


def _sqlalchemy_url(dsn: str) -> str:
    parts = dict(p.split("=", 1) for p in dsn.split())
    return (f"postgresql+psycopg://{parts['user']}@{parts['host']}:{parts['port']}/"
            f"{parts['dbname']}")
