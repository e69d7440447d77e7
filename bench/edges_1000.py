"""1,000 simulated edges connected at once to Mosquitto, 1 event/s each, into a hub on PostgreSQL.

Starts a throwaway Mosquitto and PostgreSQL on loopback and the hub as its own process
(`lintel hub`, so its CPU is measurable), then runs the load generator (simulators/loadgen.py)
in this process: every edge its own MQTT connection, one access event per second (Poisson),
for --duration seconds. Prints:
  - the hub's CPU share while all edges are connected (of one core; the machine has `nproc`),
    beside Mosquitto's and the load generator's;
  - event-to-stored latency: the event's `ts` (set when it is published) to the commit of the
    transaction that stored it (PostgreSQL's own commit timestamp, `track_commit_timestamp`);
  - loss and duplicates by (edge, seq) and by content (harness.event_log); `--resend N`
    re-publishes N stored events under new ids, as a faulty edge would, to show the check
    catches them (the run then fails).
Mosquitto needs one file descriptor per connection: this script raises its own soft limit
(`ulimit -n`, inherited by the broker) to the hard limit and says when that is too low.

    .venv/bin/python bench/edges_1000.py [--edges 1000] [--duration 30] [--resend N]
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
from harness.event_log import (
    COMMIT_SETTINGS,
    commit_latencies_s,
    count_events,
    received_latencies_s,
    resend_with_new_ids,
)
from harness.report import report
from harness.services import MosquittoServer, PostgresServer, free_port
from harness.stats import summarize
from hub.db import run_migrations
from simulators.loadgen import LoadProfile, LoadStats, run_load

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
    with psycopg.connect(pg.dsn("edges1000"), autocommit=True) as db:
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
    return proc, pg.dsn("edges1000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=1.0, help="events/s per edge")
    parser.add_argument("--threads", type=int, default=4, help="load generator threads")
    parser.add_argument("--resend", type=int, default=0, metavar="N",
                        help="after the load, re-send N stored events under new ids (a fault "
                             "made on purpose: the duplicate counts must show N and the run fail)")
    args = parser.parse_args()
    raise_fd_limit(args.edges + 200)

    broker, pg = MosquittoServer(), PostgresServer(settings=COMMIT_SETTINGS)
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
                stored = db.execute("SELECT count(*) FROM event_log").fetchone()
                assert stored is not None
                if stored[0] >= acked or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            latencies = commit_latencies_s(db)  # before any re-sent copy
            at_batch_start = received_latencies_s(db)
            if args.resend:
                print(f"re-sending {resend_with_new_ids(db, broker.port, args.resend)} stored "
                      "events under new ids (--resend): the counts below must show them")
            counts = count_events(db)
    finally:
        if hub is not None:
            hub.terminate()
            hub.wait(20)
        broker.cleanup()
        pg.stop()

    print(f"edges connected at once: {summary['edges_connected']} of {args.edges}, "
          f"{args.rate:g} event/s each, {args.duration:g} s, {os.cpu_count()} cores")
    print(f"published {summary['sent']}, acknowledged {acked}, load errors {summary['errors']}")
    report(f"{args.edges} edges: events", counts.text(acked))
    if "end" in window:
        (t0, h0, b0, l0, p0, m0), (t1, h1, b1, l1, p1, m1) = window["start"], window["end"]
        span = max(t1 - t0, 1e-9)
        report(f"{args.edges} edges: CPU share of one core over {span:.1f} s, all connected",
               f"hub {100 * (h1 - h0) / span:.1f} %, mosquitto {100 * (b1 - b0) / span:.1f} %, "
               f"postgresql {100 * (p1 - p0) / span:.1f} %, load generator "
               f"{100 * (l1 - l0) / span:.1f} %; the whole machine (everyone's work) "
               f"{100 * (m1 - m0) / span / (os.cpu_count() or 1):.0f} % busy")
    else:
        print("CPU: the edges were never all connected at once")
    if latencies:
        report(f"{args.edges} edges: event (publish) to committed",
               summarize(latencies, "ms", 1000).text())
        print("  for comparison, to the batch's start (received_at, the old figure's method): "
              + summarize(at_batch_start, "ms", 1000).text())
    if not counts.ok(acked):
        raise SystemExit(f"FAILED: {counts.text(acked)}")


if __name__ == "__main__":
    main()
