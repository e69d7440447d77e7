"""1,000 simulated edges connected at once to Mosquitto, 1 event/s each, into a hub on PostgreSQL.

Starts a throwaway Mosquitto and PostgreSQL on loopback and the hub as its own process
(`lintel hub`, so its CPU is measurable), then runs the load generator (simulators/loadgen.py)
in this process: every edge its own MQTT connection, one access event per second (Poisson),
for --duration seconds. Prints:
  - the hub's CPU share while all edges are connected (of one core; the machine has `nproc`),
    beside Mosquitto's and the load generator's;
  - event-to-stored latency p50/p99: the event's `ts` (set when it is published) to the
    stored row's `received_at` (stamped in the ingest's transaction, just before its commit);
  - none lost, none doubled.
Mosquitto needs one file descriptor per connection: this script raises its own soft limit
(`ulimit -n`, inherited by the broker) to the hard limit and says when that is too low.

    .venv/bin/python bench/edges_1000.py [--edges 1000] [--duration 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hub.db import run_migrations
from simulators.loadgen import LoadProfile, LoadStats, run_load
from tests.support.services import MosquittoServer, PostgresServer, free_port

SITE = "load"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_cpu_seconds(pg: PostgresServer) -> float:
    """The postmaster and its backends (children), from /proc."""
    master = int((pg.data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if master in (pid, ppid):
                total += cpu_seconds(pid)
        except (OSError, ValueError):
            continue  # a process that ended meanwhile
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (user, nice, system, irq, softirq, steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < needed:
        print(f"warning: file limit {hard} < {needed}: raise `ulimit -n` (Mosquitto needs one "
              "descriptor per connection)", file=sys.stderr)
    return hard


def start_hub(pg: PostgresServer, mqtt_port: int, data: Path) -> tuple[subprocess.Popen[str], str]:
    url = pg.create_database("edges1000")
    run_migrations(url)
    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname=edges1000",
                         autocommit=True) as db:
        db.execute("INSERT INTO sites (id, name, timezone) VALUES (%s, %s, 'Asia/Shanghai')",
                   (SITE, "1000 edges"))
    env = {**os.environ, "LINTEL_HUB_DATABASE_URL": url, "LINTEL_HUB_MQTT_PORT": str(mqtt_port),
           "LINTEL_HUB_MQTT_CLIENT_ID": "hub-bench", "LINTEL_HUB_HTTP_PORT": str(free_port()),
           "LINTEL_HUB_ADMIN_PASSWORD": "bench-pass", "LINTEL_HUB_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "lintel.cli", "hub"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "hub serving" not in line:
        raise RuntimeError(f"hub did not start: {line!r}")
    return proc, f"host=127.0.0.1 port={pg.port} user=postgres dbname=edges1000"


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=1.0, help="events/s per edge")
    parser.add_argument("--threads", type=int, default=4, help="load generator threads")
    args = parser.parse_args()
    raise_fd_limit(args.edges + 200)

    broker, pg = MosquittoServer(), PostgresServer()
    broker.start()
    pg.start()
    hub = None
    try:
        hub, dsn = start_hub(pg, broker.port, broker.dir / "hub")
        assert broker.proc is not None
        time.sleep(1.0)  # the hub's subscription in place
        profile = LoadProfile(port=broker.port, site=SITE, edges=args.edges, doors_per_edge=2,
                              devices_per_edge=0, swipes_per_edge_s=args.rate, rush_factor=1,
                              duration_s=args.duration, threads=args.threads, connect_rate=250)
        # CPU is sampled from the moment every edge is connected to the end of the load
        window: dict[str, tuple[float, ...]] = {}
        me = os.getpid()

        def sample(stats: LoadStats) -> None:
            if stats.connected >= args.edges:
                window["end" if "start" in window else "start"] = (
                    time.monotonic(), cpu_seconds(hub.pid), cpu_seconds(broker.proc.pid),
                    cpu_seconds(me), postgres_cpu_seconds(pg), machine_busy_seconds())

        summary = run_load(profile, on_progress=sample, progress_every_s=1.0, seed=1)
        acked = int(summary["acked"])  # type: ignore[call-overload]
        deadline = time.monotonic() + 120
        with psycopg.connect(dsn, autocommit=True) as db:
            while True:
                stored = db.execute("SELECT count(*), count(DISTINCT id) FROM event_log").fetchone()
                assert stored is not None
                if stored[0] >= acked or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            rows = db.execute("SELECT EXTRACT(EPOCH FROM received_at - ts) FROM event_log "
                              "ORDER BY 1").fetchall()
        latencies = [float(r[0]) * 1000 for r in rows]
    finally:
        if hub is not None:
            hub.terminate()
            hub.wait(20)
        broker.cleanup()
        pg.stop()

    print(f"edges connected at once: {summary['edges_connected']} of {args.edges}, "
          f"{args.rate:g} event/s each, {args.duration:g} s, {os.cpu_count()} cores")
    print(f"published {summary['sent']}, acknowledged {acked}, stored {stored[0]} "
          f"(distinct {stored[1]}; lost {acked - stored[1]}, doubled {stored[0] - stored[1]}), "
          f"load errors {summary['errors']}")
    if "end" in window:
        (t0, h0, b0, l0, p0, m0), (t1, h1, b1, l1, p1, m1) = window["start"], window["end"]
        span = max(t1 - t0, 1e-9)
        print(f"CPU share of one core over {span:.1f} s with all edges connected: hub "
              f"{100 * (h1 - h0) / span:.1f} %, mosquitto {100 * (b1 - b0) / span:.1f} %, "
              f"postgresql {100 * (p1 - p0) / span:.1f} %, load generator "
              f"{100 * (l1 - l0) / span:.1f} %; the whole machine (everyone's work) "
              f"{100 * (m1 - m0) / span / (os.cpu_count() or 1):.0f} % busy")
    else:
        print("CPU: the edges were never all connected at once")
    if latencies:
        print(f"event-to-stored latency: p50 {percentile(latencies, 50):.1f} ms, "
              f"p99 {percentile(latencies, 99):.1f} ms, max {latencies[-1]:.1f} ms "
              f"over {len(latencies)} events")


if __name__ == "__main__":
    main()
