"""Faults under load, on real parts: hub workers (`lintel hub` processes on the shared
subscription) killed with SIGKILL, the broker restarted or killed with SIGKILL (its
autosave_interval as shipped), an edge cut off from the broker by a network namespace, a
stranger in the hub's `$share` group, an edge offline while 100,000 events pile up. Whatever
happens, every event an edge wrote is stored exactly once, counted by (edge, seq): an event
leaves an edge's outbox only on the hub's signed `stored` confirmation, never on a PUBACK."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from edge.config import parse_config
from edge.outbox import Outbox
from edge.uplink import Uplink
from harness.stored import RecordingGate
from hub.credentials.keys import seed_b64
from hub.db import create_sessionmaker, run_migrations
from hub.stored import progress
from tests.support.downlink import HUB_KEYS, TEST_HUB_KEY
from tests.support.mqtt import Collector
from tests.support.services import MosquittoServer, PostgresServer, free_port
from wire import AccessData, EdgeState, parse_event, topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SITE = "faults"
RESEND_S = 2.0  # an unconfirmed event goes again after this (the default is 10 s)


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
                     "LINTEL_HUB_SIGNING_KEY": seed_b64(TEST_HUB_KEY),  # one key, every worker
                     "LINTEL_HUB_DATA_DIR": str(tmp_path / f"hub{i}")} for i in range(count)]
        self.logs = tmp_path

    async def start(self, i: int) -> None:
        # Popen returns at once; the wait for the worker to serve is awaited below
        log = self.logs / f"hub{i}-stderr.log"
        with log.open("a") as stderr:  # kept so a worker that fails to start says why
            proc = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "lintel.cli", "hub"], env=self.env[i],
                stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.procs[i] = proc
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
        assert "hub serving" in line, (
            f"hub worker {i} did not start: {line!r}; its stderr ends:\n"
            f"{log.read_text(errors='replace')[-3000:]}")

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

    def __init__(self, name: str, mqtt_port: int, data_dir: Path, *,
                 resend_after_s: float = RESEND_S) -> None:
        data_dir.mkdir(parents=True)
        self.name = name
        self.outbox = Outbox(data_dir / "outbox.db", site=SITE, edge=name)
        self.config = parse_config({
            "site": SITE, "edge": name, "data_dir": str(data_dir), "hub_keys": HUB_KEYS,
            "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "backoff_min_s": 1,
                     "backoff_max_s": 1, "resend_after_s": resend_after_s}})
        self.written = 0
        self.gate = RecordingGate(SITE, name, HUB_KEYS)

    def write(self, count: int) -> None:
        self.outbox.add_events([(f"d{(self.written + i) % 4}", swipe(self.written + i))
                                for i in range(count)])
        self.written += count

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Uplink]:
        def state() -> EdgeState:
            return EdgeState(status="online", agent_version="test")

        async with Uplink(self.config, self.outbox, state=state, version="test",
                          gate=self.gate) as uplink:
            yield uplink
        assert self.gate.refused == []  # every confirmation the hub workers sent verified


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
    """Wait until every edge's outbox is empty (the hub confirmed it all) and the hub stored
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
        assert len(edge.outbox) == 0, f"{edge.name}: {len(edge.outbox)} never confirmed"
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
    reach no one. The edges keep them until a hub worker confirms them, and send them again."""
    async with under_load(tmp_path, database, mosquitto, 2) as load:
        await asyncio.sleep(1.0)
        load.workers.kill(0)
        load.workers.kill(1)
        mosquitto.stop()
        mosquitto.start()
        await asyncio.sleep(3.0)  # the edges are back on the broker; no hub is
        assert all(u.connected.is_set() for u in load.uplinks)
        assert all(len(e.outbox) > 0 for e in load.edges)  # kept: no hub confirmed them
        await asyncio.gather(load.workers.start(0), load.workers.start(1))
        await asyncio.sleep(1.0)
        rows = await load.finish()
        assert_exactly_once(rows, load.edges)


@pytest.mark.timeout(240)
async def test_broker_killed_with_sigkill_three_times_under_load(
    tmp_path: Path, database: str, mosquitto: MosquittoServer
) -> None:
    """A broker killed outright forgets what it acknowledged since its last autosave (30 s,
    as shipped): what it had PUBACKed but not delivered is gone. The edges still hold it
    (no hub confirmed it) and send it again."""
    async with under_load(tmp_path, database, mosquitto, 3) as load:
        for _ in range(3):
            await asyncio.sleep(1.5)
            mosquitto.kill()
            await asyncio.sleep(1.0)  # events pile up in the outboxes meanwhile
            mosquitto.start()
        await asyncio.sleep(1.5)
        rows = await load.finish()
        assert all(u.reconnects >= 3 for u in load.uplinks), [u.reconnects for u in load.uplinks]
        assert_exactly_once(rows, load.edges)
        await assert_progress(load.database, load.edges)


@pytest.mark.timeout(240)
async def test_a_stranger_in_the_hub_share_group_loses_nothing(
    tmp_path: Path, database: str, mosquitto: MosquittoServer
) -> None:
    """On a broker whose ACL lets any client into `$share/hub/`, a stranger there is dealt
    its share of every edge's events, PUBACKs them and keeps them: no hub worker confirms
    those, so the edges send them again until a worker has them."""
    stranger = Collector("127.0.0.1", mosquitto.port, topics.shared(topics.HUB_EVENTS),
                         client_id="stranger")
    try:
        async with under_load(tmp_path, database, mosquitto, 3) as load:
            await asyncio.sleep(4.0)
            rows = await load.finish()
            taken = len(stranger.messages)
            assert taken > 100, f"the stranger took only {taken}: the test proves nothing"
            assert sum(u.resent for u in load.uplinks) >= taken * 0.9
            assert_exactly_once(rows, load.edges)
            await assert_progress(load.database, load.edges)
    finally:
        stranger.close()


EDGE_IN_NETNS = """
import asyncio, json, sys
from edge.config import parse_config
from edge.outbox import Outbox
from edge.uplink import Uplink
from harness.stored import RecordingGate
from wire import AccessData, EdgeState

site, name, host, port, folder, keys = sys.argv[1:]

async def main() -> None:
    box = Outbox(f"{folder}/outbox.db", site=site, edge=name)
    config = parse_config({"site": site, "edge": name, "data_dir": folder,
                           "hub_keys": json.loads(keys),
                           "mqtt": {"host": host, "port": int(port), "backoff_min_s": 1,
                                    "backoff_max_s": 1, "resend_after_s": 2}})
    def state(): return EdgeState(status="online", agent_version="test")
    gate = RecordingGate(site, name, json.loads(keys))
    async with Uplink(config, box, state=state, version="test", gate=gate) as uplink:
        stop = asyncio.create_task(asyncio.to_thread(sys.stdin.readline))
        written = 0
        while not stop.done():
            box.add_events([(f"d{(written + i) % 4}", AccessData(
                door=f"d{(written + i) % 4}", credential=str(1000 + (written + i) % 997),
                result="denied", reason="unknown_card", decision_us=5)) for i in range(4)])
            written += 4
            uplink.wake()
            if written % 200 == 0:
                print(json.dumps({"written": written, "waiting": len(box),
                                  "connected": uplink.connected.is_set()}), flush=True)
            await asyncio.sleep(0.02)
        for _ in range(1200):
            if len(box) == 0:
                break
            await asyncio.sleep(0.1)
        print(json.dumps({"done": True, "written": written, "waiting": len(box),
                          "reconnects": uplink.reconnects, "refused": gate.refused}), flush=True)
    box.close()

asyncio.run(main())
"""


class NetnsEdge:
    """An edge process in a network namespace of its own, joined to the host by a veth pair:
    taking the host's end down cuts it off from the broker, as a pulled cable would."""

    def __init__(self, tag: str) -> None:
        self.ns, self.host_if, self.edge_if = f"lintel-{tag}", f"lh{tag}", f"le{tag}"
        octet = int(tag, 16) % 250 + 2
        self.host_ip, self.edge_ip = f"10.217.{octet}.1", f"10.217.{octet}.2"
        self.proc: subprocess.Popen[str] | None = None

    def create(self) -> None:
        for command in (
            f"ip netns add {self.ns}",
            f"ip link add {self.host_if} type veth peer name {self.edge_if}",
            f"ip link set {self.edge_if} netns {self.ns}",
            f"ip addr add {self.host_ip}/30 dev {self.host_if}",
            f"ip link set {self.host_if} up",
            f"ip netns exec {self.ns} ip addr add {self.edge_ip}/30 dev {self.edge_if}",
            f"ip netns exec {self.ns} ip link set {self.edge_if} up",
            f"ip netns exec {self.ns} ip link set lo up",
        ):
            subprocess.run(command.split(), check=True, capture_output=True, timeout=10)

    def start(self, name: str, port: int, folder: Path) -> None:
        folder.mkdir(parents=True)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-c", EDGE_IN_NETNS, SITE, name,
             self.host_ip, str(port), str(folder), json.dumps(HUB_KEYS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    async def report(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 150)
        assert line, "the edge in the namespace stopped"
        return dict(json.loads(line))

    async def latest(self, seconds: float) -> dict[str, Any]:
        """Its reports for `seconds`, the last one."""
        deadline = time.monotonic() + seconds
        last = await self.report()
        while time.monotonic() < deadline:
            last = await self.report()
        return last

    def link(self, up: bool) -> None:
        subprocess.run(["ip", "link", "set", self.host_if, "up" if up else "down"], check=True,
                       timeout=10)

    async def finish(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        while "done" not in (report := await self.report()):
            pass
        return report

    def remove(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        subprocess.run(["ip", "netns", "del", self.ns], check=False, capture_output=True,
                       timeout=10)
        subprocess.run(["ip", "link", "del", self.host_if], check=False, capture_output=True,
                       timeout=10)


@pytest.mark.timeout(300)
async def test_an_edge_cut_off_by_a_network_namespace_for_60_s_under_load(
    tmp_path: Path, database: str
) -> None:
    cut = NetnsEdge(f"{random.randrange(16**4):04x}")
    cut.create()
    broker = MosquittoServer(also_on=cut.host_ip)
    broker.start()
    try:
        async with under_load(tmp_path, database, broker, 2) as load:
            cut.start("e3", broker.port, tmp_path / "e3")
            before = await cut.latest(3.0)
            assert before["connected"], before
            cut.link(up=False)
            during = await cut.latest(60.0)
            assert not during["connected"], "still connected after 60 s cut off"
            # everything written while cut off waits in its outbox
            assert during["waiting"] >= during["written"] - before["written"] > 5_000, during
            cut.link(up=True)
            await cut.latest(5.0)
            done = await cut.finish()
            rows = await load.finish()
            assert done["waiting"] == 0 and done["refused"] == [], done
            assert done["reconnects"] >= 1
            assert_exactly_once(rows, load.edges)
            seqs = rows.get("e3", [])
            assert len(seqs) == len(set(seqs)), "e3: stored twice"
            assert sorted(seqs) == list(range(1, done["written"] + 1)), (
                f"e3: {done['written']} written, {len(set(seqs))} stored")
            await assert_progress(load.database, load.edges, {"e3": done["written"]})
    finally:
        cut.remove()
        broker.cleanup()


@pytest.mark.timeout(300)
async def test_edge_offline_while_100000_events_pile_up(
    tmp_path: Path, database: str, mosquitto: MosquittoServer
) -> None:
    workers = HubWorkers(_sqlalchemy_url(database), mosquitto.port, 2, tmp_path)
    edge = LoadEdge("e0", mosquitto.port, tmp_path / "e0", resend_after_s=10)
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
            # every event once at least (a resend carries the same bytes)
            deadline = time.monotonic() + 30
            arrived = watcher.wait_for(100_000, timeout=30)
            while (len({payload for _, payload, _ in arrived}) < 100_000
                   and time.monotonic() < deadline):
                await asyncio.sleep(0.5)
                arrived = watcher.wait_for(100_000, timeout=0)
        finally:
            watcher.close()
        assert_exactly_once(rows, [edge])
        # in order per device: each reader's events first reached the broker by increasing
        # seq (an event the hub had not confirmed in time is sent again, later: harmless)
        by_device: dict[str, list[int]] = {}
        seen: set[int] = set()
        for _, payload, _ in arrived:
            event = parse_event(payload)
            if event.seq not in seen:
                seen.add(event.seq)
                by_device.setdefault(event.device, []).append(event.seq)
        assert seen == set(range(1, 100_001))
        assert all(seqs == sorted(seqs) for seqs in by_device.values())
        print(f"100,000 events drained and stored by 2 hub workers in {drained:.1f} s "
              f"({len(arrived) - len(seen)} sent again)")
    finally:
        workers.stop()
        edge.outbox.close()


async def assert_progress(dsn: str, edges: list[LoadEdge],
                          more: dict[str, int] | None = None) -> None:
    """The hub's own account agrees: each edge stored through all it wrote, no gaps."""
    engine = create_async_engine(_sqlalchemy_url(dsn))
    try:
        async with create_sessionmaker(engine)() as session:
            for name, written in [*((e.name, e.written) for e in edges),
                                  *(more or {}).items()]:
                now = await progress(session, SITE, name)
                assert (now.stored_through, now.gaps) == (written, []), (name, now)
    finally:
        await engine.dispose()


def _sqlalchemy_url(dsn: str) -> str:
    parts = dict(p.split("=", 1) for p in dsn.split())
    return (f"postgresql+psycopg://{parts['user']}@{parts['host']}:{parts['port']}/"
            f"{parts['dbname']}")
