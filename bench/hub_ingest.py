"""Hub ingest throughput on PostgreSQL and Mosquitto, beside the broker's own throughput.

Starts a throwaway Mosquitto and PostgreSQL on loopback, publishes N access events from
simulated edges (QoS 1), and measures:
  - broker: a bare subscriber receiving the same stream (messages/s);
  - hub with 1 and 2 worker processes on the shared subscription: events/s stored in
    PostgreSQL (first publish to the last row's commit, PostgreSQL's commit timestamp),
    checking loss and duplicates by (edge, seq) and by content (harness.event_log), with the
    stored confirmations on (as always): a subscriber to every edge's `stored` checks that
    each (edge, seq) was confirmed back, as an edge's outbox needs.
Usage: .venv/bin/python bench/hub_ingest.py [--events 30000] [--edges 50] [--repeat 3]
       [--denied-share 0.05]
       [--resend N]  (re-send N stored events under new ids: the check must catch them)
       [--profile DIR]  (py-spy stacks of each worker, `pip install py-spy`)
       [--layouts both]  (issue 19: each run also stores into the same tables unpartitioned,
                          made from the models, and prints partitioned/unpartitioned)
Each run prints its figures; the last line is the median of the runs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from alembic import command
from sqlalchemy import create_engine

from harness.event_log import (
    COMMIT_SETTINGS,
    EventLogCounts,
    count_events,
    last_commit,
    resend_with_new_ids,
)
from harness.report import report
from harness.services import MosquittoServer, PostgresServer, free_port
from harness.stats import percentile
from harness.stored import ConfirmationWatch
from hub.db import alembic_config, run_migrations, sync_url
from hub.schema import metadata
from wire import AccessData, AccessEvent, new_event_id, topics

SITE = "bench"
LOADERS = 4


def make_events(n: int, edges: int, denied_share: float) -> list[tuple[str, bytes]]:
    """Rush-hour swipes; `denied_share` of them refused (each refusal goes through the
    denied-burst rule, and past five a minute at a door repeats its alarm). Each its own
    time (a microsecond apart), so that no two events have the same content."""
    out = []
    start = datetime.now(UTC)
    every = round(1 / denied_share) if denied_share > 0 else 0
    for i in range(n):
        edge = f"e{i % edges}"
        denied = every > 0 and i % every == 0
        event = AccessEvent(
            id=new_event_id(), ts=start + timedelta(microseconds=i), site=SITE, edge=edge,
            device="door-1", seq=i // edges + 1,
            data=AccessData(door="door-1", credential=str(1000 + i % 5000),
                            result="denied" if denied else "granted",
                            reason="unknown_card" if denied else "granted", decision_us=3),
        )
        out.append((topics.event(SITE, edge, "access"), event.model_dump_json().encode()))
    return out


def _publish(port: int, chunk: list[tuple[str, bytes]], n: int) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"loader-{n}")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(t, p, qos=1) for t, p in chunk]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def publish_all(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Publish from LOADERS processes (one GIL each; an edge's events all from one, in
    order); returns the wall-clock start (time.time()) once every PUBACK is in."""
    chunks: list[list[tuple[str, bytes]]] = [[] for _ in range(LOADERS)]
    for topic, payload in messages:
        chunks[hash(topics.parse(topic).edge) % LOADERS].append((topic, payload))
    context = multiprocessing.get_context("fork")
    loaders = [context.Process(target=_publish, args=(port, chunk, n))
               for n, chunk in enumerate(chunks)]
    start = time.time()
    for loader in loaders:
        loader.start()
    for loader in loaders:
        loader.join()
        if loader.exitcode != 0:
            raise RuntimeError(f"loader exited with {loader.exitcode}")
    return start


def broker_rate(port: int, messages: list[tuple[str, bytes]]) -> float:
    got = 0
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal got
        got += 1
        if got >= len(messages):
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bare-subscriber")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe(topics.HUB_EVENTS, qos=1)
    sub.loop_start()
    time.sleep(0.5)
    start = publish_all(port, messages)
    done.wait(120)
    elapsed = time.time() - start
    sub.disconnect()
    sub.loop_stop()
    if got < len(messages):
        raise RuntimeError(f"bare subscriber got {got} of {len(messages)}")
    return len(messages) / elapsed


def prepare_database(pg: PostgresServer, name: str, edges: int,
                     layout: str = "partitioned") -> str:
    url = pg.create_database(name)
    if layout == "unpartitioned":
        # the models' tables as they are (uuid, jsonb, key (id, ts)) but not partitioned:
        # the partitioning's own cost, apart from the types'
        engine = create_engine(sync_url(url))
        try:
            metadata.create_all(engine)
        finally:
            engine.dispose()
        command.stamp(alembic_config(url), "heads")
    else:
        run_migrations(url)
    with psycopg.connect(pg.dsn(name), autocommit=True) as db:
        db.execute("INSERT INTO sites (id, name, timezone) VALUES (%s, %s, 'Asia/Shanghai')",
                   (SITE, "bench"))
        for e in range(edges):
            db.execute("INSERT INTO edges (site_id, name, status) VALUES (%s, %s, 'unknown')",
                       (SITE, f"e{e}"))
    return url


def hub_rate(pg: PostgresServer, port: int, workers: int, messages: list[tuple[str, bytes]],
             edges: int, profile: Path | None = None, tag: str = "",
             resend: int = 0, layout: str = "partitioned",
             ) -> tuple[float, EventLogCounts, float, float, str]:
    """Events/s stored (first publish to last commit), the event log's counts, CPU seconds
    of the hub workers and of PostgreSQL under the load, and what was confirmed back.
    `resend` events are re-sent under new ids after the timing."""
    name = f"bench_{workers}w_{os.getpid()}_{tag}_{layout[0]}"
    url = prepare_database(pg, name, edges, layout)
    procs = []
    for w in range(workers):
        env = {**os.environ, "LINTEL_HUB_DATABASE_URL": url,
               "LINTEL_HUB_MQTT_PORT": str(port),
               # a client id is at most 23 characters
               "LINTEL_HUB_MQTT_CLIENT_ID": f"hub-{workers}w{tag}{layout[0]}-{os.getpid()}-{w}",
               # A group of its own: Mosquitto keeps dealing a share to the offline persistent
               # sessions of an earlier run's workers in the same group.
               "LINTEL_HUB_MQTT_SHARED_GROUP": f"bench{workers}x{tag}{layout[0]}",
               "LINTEL_HUB_HTTP_PORT": str(free_port()), "LINTEL_HUB_ADMIN_PASSWORD": "bench-pass",
               "LINTEL_HUB_DATA_DIR": "/tmp"}
        command = [sys.executable, "-m", "lintel.cli", "hub"]
        if profile is not None:
            out = profile / f"hub-{workers}w-{w}-{tag}.txt"
            command = ["py-spy", "record", "--format", "raw", "--rate", "200", "--threads", "--gil",
                       "-o", str(out), "--", *command]
        proc = subprocess.Popen(command, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while line.startswith("py-spy") or not line.strip():
            if not line and proc.poll() is not None:  # it exited: EOF for ever, not a wait
                break
            line = proc.stdout.readline()
        if "hub serving" not in line:
            raise RuntimeError(f"hub worker {w} did not start: {line!r}")
        procs.append(proc)
    time.sleep(1.0)  # subscriptions in place
    hubs = [p for proc in procs
            for p in (psutil.Process(proc.pid).children() if profile else [psutil.Process(proc.pid)])]
    settle(hubs)
    postgres = server_processes(pg)
    watch = ConfirmationWatch("127.0.0.1", port, SITE, client_id=f"watch-{name}")
    cpu_before = sum(sum(p.cpu_times()[:2]) for p in hubs)
    pg_before = cpu_of(postgres)
    try:
        start = publish_all(port, messages)
        deadline = time.monotonic() + 300
        with psycopg.connect(pg.dsn(name), autocommit=True) as db:
            while True:
                stored = db.execute("SELECT count(*) FROM event_log").fetchone()[0]
                if stored >= len(messages) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            elapsed = last_commit(db).timestamp() - start
            cpu = sum(sum(p.cpu_times()[:2]) for p in hubs) - cpu_before
            pg_cpu = cpu_of(postgres) - pg_before
            confirm_by = time.monotonic() + 5  # a confirmation follows its commit within 0.25 s
            while watch.confirmed() < len(messages) and time.monotonic() < confirm_by:
                time.sleep(0.05)
            confirmed = (f"{watch.confirmed():,} of {len(messages):,} confirmed back in "
                         f"{watch.count:,} signed messages")
            if resend:
                print(f"re-sent {resend_with_new_ids(db, port, resend)} stored events under new "
                      "ids (--resend): the counts must show them", flush=True)
            counts = count_events(db)
    finally:
        watch.close()
        for proc in procs:
            # under py-spy, stop the hub itself: py-spy then writes its profile and exits
            for target in psutil.Process(proc.pid).children() if profile else [proc]:
                target.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    return stored / elapsed, counts, cpu, pg_cpu, confirmed


def settle(hubs: list[psutil.Process], quiet: float = 0.02, most_s: float = 20.0) -> None:
    """Until the workers' start-up work is over (each compiles and publishes every edge's
    configuration and permissions: about 0.5 s of CPU over 3 s after "hub serving", which
    would otherwise be timed and counted as ingest): each used under `quiet` of a core for
    half a second, or `most_s` passed."""
    until = time.monotonic() + most_s
    last = [sum(p.cpu_times()[:2]) for p in hubs]
    while time.monotonic() < until:
        time.sleep(0.5)
        now = [sum(p.cpu_times()[:2]) for p in hubs]
        if all(b - a < quiet * 0.5 for a, b in zip(last, now, strict=True)):
            return
        last = now


def server_processes(pg: PostgresServer) -> list[psutil.Process]:
    """The PostgreSQL server and its backends (the postmaster's pid is in postmaster.pid)."""
    postmaster = psutil.Process(int((pg.data / "postmaster.pid").read_text().split()[0]))
    return [postmaster, *postmaster.children()]


def cpu_of(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            total += sum(proc.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass  # a backend that ended meanwhile: its share is small
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--edges", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is printed")
    parser.add_argument("--denied-share", type=float, default=0.05,
                        help="share of refused swipes (1 = every event refused: the worst case "
                             "for the rules, each one repeating an alarm)")
    parser.add_argument("--resend", type=int, default=0, metavar="N",
                        help="re-send N stored events under new ids after each timing (a fault "
                             "made on purpose: the duplicate counts must show N and the run fail)")
    parser.add_argument("--layouts", choices=("partitioned", "both"), default="partitioned",
                        help="both: each run beside the same tables unpartitioned")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run each hub worker under py-spy; raw stacks go to this folder")
    args = parser.parse_args()
    if not 0 <= args.denied_share <= 1:
        parser.error("--denied-share must be between 0 and 1")
    messages = make_events(args.events, args.edges, args.denied_share)
    broker, pg = MosquittoServer(), PostgresServer(settings=COMMIT_SETTINGS)
    broker.start()
    pg.start()
    runs: list[dict[str, float]] = []
    try:
        for run in range(1, args.repeat + 1):
            bare = broker_rate(broker.port, messages)
            figures = {"broker": bare}
            print(f"run {run}: broker alone: {bare:,.0f} messages/s ({args.events:,} QoS 1 "
                  f"events, {LOADERS} publishers, 1 bare subscriber)", flush=True)
            layouts = ("partitioned", "unpartitioned") if args.layouts == "both" else (
                "partitioned",)
            for workers in (1, 2):
                for layout in layouts:
                    rate, counts, cpu, pg_cpu, confirmed = hub_rate(
                        pg, broker.port, workers, messages, args.edges, args.profile,
                        tag=str(run), resend=args.resend, layout=layout)
                    stored = counts.by_seq
                    key = f"{workers}w" if layout == "partitioned" else f"{workers}w flat"
                    figures |= {key: rate, f"{key} ratio": rate / bare,
                                f"{key} cpu": cpu / max(stored, 1) * 1e6}
                    print(f"run {run}: hub, {workers} worker(s), PostgreSQL {layout}: "
                          f"{rate:,.0f} events/s committed; ratio hub/broker {rate / bare:.2f}; "
                          f"{counts.text(args.events)}; hub CPU "
                          f"{cpu / max(stored, 1) * 1e6:.0f} µs/event, PostgreSQL "
                          f"{pg_cpu / max(stored, 1) * 1e6:.0f} µs/event; {confirmed}",
                          flush=True)
                    if not counts.ok(args.events):
                        raise SystemExit(f"FAILED: {counts.text(args.events)}")
                    if not confirmed.startswith(f"{args.events:,} of"):
                        raise SystemExit(f"FAILED: {confirmed}")
                if args.layouts == "both":
                    figures[f"{workers}w vs flat"] = figures[f"{workers}w"] / figures[
                        f"{workers}w flat"]
                    print(f"run {run}: {workers} worker(s): partitioned/unpartitioned "
                          f"{figures[f'{workers}w vs flat']:.2f}x", flush=True)
            runs.append(figures)
        median = {k: percentile([r[k] for r in runs], 50) for k in runs[0]}
        report(f"hub ingest, {args.events:,} events, median of {len(runs)}",
               f"broker {median['broker']:,.0f} msg/s; 1 worker {median['1w']:,.0f} events/s "
               f"(ratio {median['1w ratio']:.2f}, {median['1w cpu']:.0f} µs CPU/event); "
               f"2 workers {median['2w']:,.0f} events/s (ratio {median['2w ratio']:.2f}, "
               f"{median['2w cpu']:.0f} µs CPU/event); stored confirmations on; none lost, none "
               "doubled by (edge, seq) or by content, every one confirmed back")
        if args.layouts == "both":
            report(f"hub ingest into partitioned beside unpartitioned tables, {args.events:,} "
                   f"events, median of {len(runs)}",
                   f"1 worker {median['1w']:,.0f} vs {median['1w flat']:,.0f} events/s "
                   f"({median['1w vs flat']:.2f}x); 2 workers {median['2w']:,.0f} vs "
                   f"{median['2w flat']:,.0f} events/s ({median['2w vs flat']:.2f}x)")
    finally:
        broker.cleanup()
        pg.stop()


if __name__ == "__main__":
    main()
