"""One edge comes back with N events waiting in its outbox: the time until every one is stored
in PostgreSQL through 2 hub workers (`lintel hub` processes on the shared subscription) and
confirmed back (`stored`, signed), so the outbox is empty; the outbox's size on disk before,
and the edge process's RSS while it drains.

Checks, each able to fail the run: every (edge, seq) from 1 to N stored exactly once; the
hub's own account (`stored_through`) reaches N with no gaps; with --watch, each device's
events reached the broker in increasing seq (a plain subscriber beside the hub).
Usage: .venv/bin/python bench/edge_backlog.py [--events 200000] [--watch]
       .venv/bin/python bench/edge_backlog.py --events 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from edge.outbox import Outbox
from harness.mqtt import Collector
from harness.report import report
from harness.services import MosquittoServer, PostgresServer, free_port
from hub.credentials.downlink import DownlinkSigner
from hub.db import create_sessionmaker, run_migrations
from hub.stored import progress
from wire import AccessData, topics

ROOT = Path(__file__).resolve().parent.parent
SITE, EDGE = "bench", "e0"
DEVICES = 4

# The edge as it runs: its outbox and uplink in a process of their own (RSS measured there).
EDGE_PROCESS = """
import asyncio, json, sys
from edge.config import parse_config
from edge.outbox import Outbox
from edge.uplink import Uplink
from harness.stored import RecordingGate
from wire import EdgeState

site, edge, port, folder, keys = sys.argv[1:]

async def main() -> None:
    box = Outbox(f"{folder}/outbox.db", site=site, edge=edge)
    config = parse_config({"site": site, "edge": edge, "data_dir": folder,
                           "hub_keys": json.loads(keys),
                           "mqtt": {"host": "127.0.0.1", "port": int(port)}})
    gate = RecordingGate(site, edge, json.loads(keys))
    def state() -> EdgeState:
        return EdgeState(status="online", agent_version="bench")
    async with Uplink(config, box, state=state, version="bench", gate=gate) as uplink:
        print("connecting", flush=True)
        while len(box):
            await asyncio.sleep(0.05)
        print(json.dumps({"resent": uplink.resent, "refused": gate.refused,
                          "reconnects": uplink.reconnects}), flush=True)
    box.close()

asyncio.run(main())
"""


def fill(folder: Path, events: int) -> tuple[float, int]:
    """N access events into a fresh outbox, 1,000 per transaction; (seconds, bytes on disk)."""
    box = Outbox(folder / "outbox.db", site=SITE, edge=EDGE)
    started = time.monotonic()
    for start in range(0, events, 1000):
        box.add_events([(f"d{(start + i) % DEVICES}", AccessData(
            door=f"d{(start + i) % DEVICES}", credential=str(10_000 + (start + i) % 5000),
            result="granted", reason="granted", decision_us=3))
            for i in range(min(1000, events - start))])
    took = time.monotonic() - started
    box.close()  # checkpoints the WAL into the database file
    size = sum(p.stat().st_size for p in folder.glob("outbox.db*"))
    return took, size


def start_workers(url: str, port: int, seed: str, count: int) -> list[subprocess.Popen[str]]:
    procs = []
    for w in range(count):
        env = {**os.environ, "LINTEL_HUB_DATABASE_URL": url, "LINTEL_HUB_MQTT_PORT": str(port),
               "LINTEL_HUB_MQTT_CLIENT_ID": f"hub-backlog-{w}", "LINTEL_HUB_SIGNING_KEY": seed,
               "LINTEL_HUB_HTTP_PORT": str(free_port()), "LINTEL_HUB_ADMIN_PASSWORD": "bench-pass",
               "LINTEL_HUB_DATA_DIR": tempfile.mkdtemp(prefix="lintel-backlog-hub-")}
        proc = subprocess.Popen([sys.executable, "-m", "lintel.cli", "hub"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "hub serving" not in line:
            raise RuntimeError(f"hub worker {w} did not start: {line!r}")
        procs.append(proc)
    return procs


def watch_order(collector: Collector) -> tuple[int, int]:
    """(events seen at the broker, devices whose seqs ever went backwards)."""
    by_device: dict[str, list[int]] = {}
    for _, payload, _ in collector.messages:
        event = json.loads(payload)
        by_device.setdefault(event["device"], []).append(event["seq"])
    return (sum(map(len, by_device.values())),
            sum(1 for seqs in by_device.values() if seqs != sorted(seqs)))


async def hub_account(url: str) -> tuple[int, int]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        async with create_sessionmaker(engine)() as session:
            now = await progress(session, SITE, EDGE)
    finally:
        await engine.dispose()
    return now.stored_through, now.missing


def run(events: int, watch: bool, timeout: float) -> None:
    key = Ed25519PrivateKey.generate()
    seed = base64.b64encode(key.private_bytes(serialization.Encoding.Raw,
                                              serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())).decode()
    keys = DownlinkSigner(key).public_keys
    broker, pg = MosquittoServer(), PostgresServer()
    broker.start()
    pg.start()
    folder = Path(tempfile.mkdtemp(prefix="lintel-backlog-edge-"))
    workers: list[subprocess.Popen[str]] = []
    edge = None
    try:
        url = pg.create_database("backlog")
        run_migrations(url)
        with psycopg.connect(pg.dsn("backlog"), autocommit=True) as db:
            db.execute("INSERT INTO sites (id, name, timezone) VALUES (%s, 'bench', 'UTC')", (SITE,))
            db.execute("INSERT INTO edges (site_id, name, status) VALUES (%s, %s, 'unknown')",
                       (SITE, EDGE))
        filled, disk = fill(folder, events)
        print(f"{events:,} events written to the outbox in {filled:.1f} s; on disk "
              f"{disk / 1e6:.0f} MB ({disk / events:.0f} bytes/event)", flush=True)
        workers = start_workers(url, broker.port, seed, 2)
        collector = (Collector("127.0.0.1", broker.port, topics.event(SITE, EDGE, "access"),
                               client_id="order-watch") if watch else None)
        time.sleep(1.0)  # the workers' subscriptions stand
        started = time.monotonic()
        edge = subprocess.Popen(
            [sys.executable, "-c", EDGE_PROCESS, SITE, EDGE, str(broker.port), str(folder),
             json.dumps(keys)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        peak_rss = 0.0
        done = threading.Event()
        rss_proc = psutil.Process(edge.pid)

        def sample() -> None:
            nonlocal peak_rss
            while not done.wait(0.25):
                try:
                    peak_rss = max(peak_rss, rss_proc.memory_info().rss / 1e6)
                except psutil.NoSuchProcess:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stored_at = None
        with psycopg.connect(pg.dsn("backlog"), autocommit=True) as db:
            while time.monotonic() - started < timeout:
                stored = db.execute("SELECT count(*) FROM event_log").fetchone()[0]
                if stored >= events and stored_at is None:
                    stored_at = time.monotonic() - started
                if edge.poll() is not None:
                    break
                time.sleep(0.1)
            drained = time.monotonic() - started
            done.set()
            seqs = db.execute("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) "
                              "FROM event_log WHERE edge = %s", (EDGE,)).fetchone()
        assert edge.stdout is not None
        lines = edge.stdout.read().splitlines() if edge.poll() is not None else []
        outcome = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
        through, missing = asyncio.run(hub_account(url))
        print(f"stored in PostgreSQL: {seqs[0]:,} rows, {seqs[1]:,} distinct seqs "
              f"{seqs[2]}..{seqs[3]}; the hub's account: stored through {through:,}, "
              f"{missing} missing; sent again {outcome.get('resent', '?')}; "
              f"refused confirmations {outcome.get('refused', '?')}", flush=True)
        order = ""
        if collector is not None:
            seen, backwards = watch_order(collector)
            collector.close()
            order = f"; at the broker {seen:,} events, devices out of seq order: {backwards}"
        ok = (tuple(seqs) == (events, events, 1, events) and through == events
              and missing == 0 and outcome.get("refused") == [] and stored_at is not None)
        report(f"edge backlog of {events:,} events through 2 hub workers into PostgreSQL",
               f"all stored in {stored_at or float('nan'):.1f} s, outbox empty (confirmed) in "
               f"{drained:.1f} s ({events / drained:,.0f} events/s); outbox on disk "
               f"{disk / 1e6:.0f} MB; edge RSS peak {peak_rss:.0f} MB{order}; "
               f"{'none lost, none doubled by (edge, seq)' if ok else 'FAILED'}")
        if not ok or (collector is not None and "devices out of seq order: 0" not in order):
            raise SystemExit("FAILED")
    finally:
        if edge is not None and edge.poll() is None:
            edge.kill()
            edge.wait(10)
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(30)
        broker.cleanup()
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--watch", action="store_true",
                        help="a plain subscriber checks each device's order at the broker")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    run(args.events, args.watch, args.timeout)


if __name__ == "__main__":
    main()
