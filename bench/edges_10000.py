"""N simulated edges (10,000 by default), each its own MQTT connection and account, on one
Mosquitto, into a hub on PostgreSQL: the steady state, then a broker restart and the
reconnect storm.

Starts a throwaway Mosquitto (accounts and roles as `lintel provision` writes them: the
dynamic-security file, one PBKDF2-SHA512 password and one confining role per edge, written
in one pass), PostgreSQL and the hub as its own process (`lintel hub`, so its CPU and memory
are measurable), puts a retained configuration on every edge's `config` topic (as the hub's
account), then runs the load generator (simulators/loadgen.py) in this process: every edge
its own connection, one access event per `1/--rate` s (Poisson; 1 per 10 s by default), each
subscribing to its retained permissions and configuration on every connect. Prints:
  - the steady state over --steady seconds with every edge connected: CPU share of one core
    and memory (RSS; PostgreSQL's private memory of all its processes) of the hub, Mosquitto,
    PostgreSQL and the load generator, and how busy the whole (shared) machine was;
  - event (publish) → committed latency over the run (PostgreSQL's own commit timestamps);
  - then (unless --no-restart) Mosquitto stopped and started again (its persistence keeps the
    hub's session and the retained messages); every edge reconnects after a random delay up
    to --jitter s and sends its backlog: the time until every edge is online again, and until
    every event published before that moment is committed; the retained messages the broker
    handed back, and the downlink messages published afresh during the storm (the hub
    recompiling: must be 0);
  - loss and duplicates by (edge, seq) and by content (harness.event_log); `--resend N`
    re-publishes N stored events under new ids, as a faulty edge would, to show the check
    catches them (the run then fails).
Mosquitto needs one file descriptor per connection, and so does the load generator (measured:
10,011 open at 10,000 edges; paho's external loop opens no wake-up pair): this script raises
its soft limit (inherited by the broker) to the hard one.

    PYTHONPATH=. .venv/bin/python bench/edges_10000.py [--edges 10000] [--rate 0.1]
        [--steady 60] [--jitter 30] [--no-restart] [--resend N]
    (the 1,000-edge figure of before: --edges 1000 --rate 1 --steady 30 --no-restart)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.event_log import (
    COMMIT_SETTINGS,
    commit_latencies_s,
    count_events,
    resend_with_new_ids,
)
from harness.report import report
from harness.services import MosquittoServer, PostgresServer, free_port
from harness.stats import summarize
from hub.db import run_migrations
from lintel.provision import (
    DEFAULT_ACCESS,
    DYNSEC_FILE,
    HUB_ACL,
    Grant,
    Identity,
    dynsec_password,
    edge_acl,
    edge_username,
)
from simulators.loadgen import LoadProfile, LoadStats, run_load
from wire import topics

SITE = "load"
EVENT_BYTES = 362  # mean of an access event's JSON as the load generator sends it (200 drawn)
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
    """Soft limit up to the hard one, and the hard one up to `needed` where allowed (root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            pass
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < needed:
        print(f"warning: file limit {hard} < {needed}: raise `ulimit -n` (Mosquitto needs one "
              "descriptor per connection, so does the load generator)", file=sys.stderr)
    return max(hard, min(needed, hard))


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def postgres_private_mb(pg: PostgresServer) -> float:
    """Private (anonymous) memory of the postmaster and its backends: RSS would count the
    shared buffers once per process."""
    master = int((pg.data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if master in (pid, ppid):
                total += rss_mb(pid, "RssAnon")
        except (OSError, ValueError):
            continue
    return total


def write_accounts(folder: Path, site: str, names: list[str]) -> tuple[Path, dict[str, str],
                                                                        Identity, float]:
    """The dynamic-security file `lintel provision` writes, for every edge and a hub, in one
    pass (provision_edge rewrites the whole file per edge: quadratic at 10,000)."""
    started = time.monotonic()
    passwords: dict[str, str] = {}
    clients: list[dict[str, object]] = []
    roles: list[dict[str, object]] = []

    def account(username: str, password: str, acl: list[Grant]) -> None:
        clients.append({"username": username, "roles": [{"rolename": username}],
                        **dynsec_password(password)})
        roles.append({"rolename": username, "acls": [g.entry() for g in acl]})

    for name in names:
        username = edge_username(site, name)
        passwords[username] = secrets.token_urlsafe(18)
        account(username, passwords[username], edge_acl(site, name))
    hub = Identity("hub", secrets.token_urlsafe(18))
    account(hub.username, hub.password, HUB_ACL)
    path = folder / DYNSEC_FILE
    path.write_text(json.dumps({"defaultACLAccess": DEFAULT_ACCESS, "clients": clients,
                                "groups": [], "roles": roles}))
    return path, passwords, hub, time.monotonic() - started


def start_hub(pg: PostgresServer, mqtt_port: int, hub: Identity,
              data: Path) -> tuple[subprocess.Popen[str], str]:
    url = pg.create_database("edges")
    run_migrations(url)
    with psycopg.connect(pg.dsn("edges"), autocommit=True) as db:
        db.execute("INSERT INTO sites (id, name, timezone) VALUES (%s, %s, 'Asia/Shanghai')",
                   (SITE, "fleet load"))
    env = {**os.environ, "LINTEL_HUB_DATABASE_URL": url, "LINTEL_HUB_MQTT_PORT": str(mqtt_port),
           "LINTEL_HUB_MQTT_CLIENT_ID": "hub-bench", "LINTEL_HUB_HTTP_PORT": str(free_port()),
           "LINTEL_HUB_MQTT_USERNAME": hub.username, "LINTEL_HUB_MQTT_PASSWORD": hub.password,
           "LINTEL_HUB_ADMIN_PASSWORD": "bench-pass", "LINTEL_HUB_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "lintel.cli", "hub"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "hub serving" not in line:
        raise RuntimeError(f"hub did not start: {line!r}")
    return proc, pg.dsn("edges")


def seed_retained(port: int, hub: Identity, names: list[str], size: int = 512) -> float:
    """A retained configuration on every edge's `config` topic, as the hub's account
    (unsigned filler: the simulated edges count it, they do not apply it); seconds taken."""
    started = time.monotonic()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-seed")
    client.username_pw_set(hub.username, hub.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topics.config(SITE, name), b"c" * size, qos=1, retain=True)
             for name in names]
    deadline = time.monotonic() + 120
    while not all(i.is_published() for i in infos) and time.monotonic() < deadline:
        time.sleep(0.1)
    client.disconnect()
    client.loop_stop()
    if not all(i.is_published() for i in infos):
        raise RuntimeError("the broker did not acknowledge every retained configuration")
    return time.monotonic() - started


@dataclass
class Sample:
    at: float
    hub: float
    broker: float
    me: float
    pg: float
    machine: float


class Run:
    """What the progress callback watches: the steady window, the restart, the storm."""

    def __init__(self, args: argparse.Namespace, broker: MosquittoServer, pg: PostgresServer,
                 hub: subprocess.Popen[str], dsn: str, stop: threading.Event) -> None:
        self.args, self.broker, self.pg, self.hub, self.dsn, self.stop = (
            args, broker, pg, hub, dsn, stop)
        self.steady: list[Sample] = []
        self.memory: dict[str, float] = {}
        self.restart_at: float | None = None  # monotonic, and the wall clock
        self.restart_wall: datetime | None = None
        self.restart_s = 0.0
        self.online_at: float | None = None
        self.online_wall: datetime | None = None
        self.retained_before = 0
        self.fresh_before = 0

    def sample(self) -> Sample:
        assert self.broker.proc is not None
        return Sample(time.monotonic(), cpu_seconds(self.hub.pid), cpu_seconds(self.broker.proc.pid),
                      cpu_seconds(os.getpid()), postgres_cpu_seconds(self.pg),
                      machine_busy_seconds())

    def __call__(self, stats: LoadStats) -> None:
        edges, now = self.args.edges, time.monotonic()
        if self.restart_at is None:
            if stats.connected >= edges and not self.steady:
                self.steady.append(self.sample())
            elif len(self.steady) == 1 and now - self.steady[0].at >= self.args.steady:
                self.steady.append(self.sample())
                assert self.broker.proc is not None
                self.memory = {"hub": rss_mb(self.hub.pid), "broker": rss_mb(self.broker.proc.pid),
                               "pg": postgres_private_mb(self.pg), "me": rss_mb(os.getpid())}
                if self.args.no_restart:
                    self.stop.set()
                    return
                self.retained_before, self.fresh_before = stats.retained, stats.fresh_downlink
                self.restart_at, self.restart_wall = now, datetime.now(UTC)
                self.broker.stop()  # SIGTERM: Mosquitto writes its persistence file
                self.broker.start()
                self.restart_s = time.monotonic() - now
            return
        if self.online_at is None and stats.connected >= edges:
            self.online_at, self.online_wall = now, datetime.now(UTC)
        if self.online_at is not None and now - self.online_at > 5:
            self.stop.set()  # the backlog is measured from the database afterwards
        if now - self.restart_at > self.args.storm_limit:
            self.stop.set()


def backlog_committed(db: psycopg.Connection[Any], before: datetime) -> datetime | None:
    """When the last event published before `before` was committed."""
    row = db.execute("SELECT max(pg_xact_commit_timestamp(xmin)) FROM event_log WHERE ts < %s",
                     (before,)).fetchone()
    return row[0] if row else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0.1, help="events/s per edge")
    parser.add_argument("--steady", type=float, default=60.0,
                        help="seconds measured with every edge connected")
    parser.add_argument("--jitter", type=float, default=30.0,
                        help="an edge reconnects after uniform(0, this) seconds")
    parser.add_argument("--storm-limit", type=float, default=180.0,
                        help="give up on the reconnect storm after this many seconds")
    parser.add_argument("--no-restart", action="store_true", help="steady state only")
    parser.add_argument("--threads", type=int, default=4, help="load generator threads")
    parser.add_argument("--connect-rate", type=float, default=250, help="new connections/s")
    parser.add_argument("--resend", type=int, default=0, metavar="N",
                        help="after the load, re-send N stored events under new ids (a fault "
                             "made on purpose: the duplicate counts must show N and the run fail)")
    args = parser.parse_args()
    limit = raise_fd_limit(args.edges + 1000)
    profile = LoadProfile(
        port=1, site=SITE, edges=args.edges, doors_per_edge=2, devices_per_edge=0,
        swipes_per_edge_s=args.rate, rush_factor=1, threads=args.threads,
        connect_rate=args.connect_rate, reconnect_jitter_s=0 if args.no_restart else args.jitter,
        downlink=True,
        duration_s=args.edges / args.connect_rate + args.steady + args.storm_limit + 60)
    names = profile.edge_names()
    load = os.getloadavg()[0]

    pg = PostgresServer(settings=COMMIT_SETTINGS)
    folder = Path(tempfile.mkdtemp(prefix="lintel-edges-"))
    accounts, passwords, hub_id, accounts_s = write_accounts(folder, SITE, names)
    broker = MosquittoServer(accounts=accounts)
    hub = None
    pg_started = False
    stop = threading.Event()
    try:
        started = time.monotonic()
        broker.start()
        broker_start_s = time.monotonic() - started
        pg.start()
        pg_started = True
        hub, dsn = start_hub(pg, broker.port, hub_id, broker.dir / "hub")
        seed_s = seed_retained(broker.port, hub_id, names)
        time.sleep(1.0)  # the hub's subscription in place
        run = Run(args, broker, pg, hub, dsn, stop)
        summary = run_load(profile.model_copy(update={"port": broker.port}), passwords=passwords,
                           on_progress=run, progress_every_s=1.0, stop=stop, seed=1)
        acked = int(summary["acked"])  # type: ignore[call-overload]
        sent = int(summary["sent"])  # type: ignore[call-overload]
        retained = int(summary["retained"])  # type: ignore[call-overload]
        fresh = int(summary["fresh_downlink"])  # type: ignore[call-overload]
        deadline = time.monotonic() + 180
        with psycopg.connect(dsn, autocommit=True) as db:
            seen, moved = -1, time.monotonic()
            while True:  # until all are stored, or nothing more came for 15 s (lost)
                stored = db.execute("SELECT count(DISTINCT (edge, seq)) FROM event_log").fetchone()
                assert stored is not None
                if stored[0] != seen:
                    seen, moved = stored[0], time.monotonic()
                if (stored[0] >= sent or time.monotonic() > deadline
                        or time.monotonic() - moved > 15):
                    break
                time.sleep(0.5)
            latencies = commit_latencies_s(db)  # before any re-sent copy
            backlog = (backlog_committed(db, run.online_wall)
                       if run.online_wall is not None else None)
            if args.resend:
                print(f"re-sending {resend_with_new_ids(db, broker.port, args.resend)} stored "
                      "events under new ids (--resend): the counts below must show them")
            counts = count_events(db)
            size = db.execute("SELECT pg_total_relation_size('event_log'), count(*) "
                              "FROM event_log").fetchone()
        hub_peak = rss_mb(hub.pid, "VmHWM")
    finally:
        stop.set()
        if hub is not None:
            hub.terminate()
            hub.wait(20)
        broker.cleanup()
        if pg_started:
            pg.stop()
        else:
            shutil.rmtree(pg.dir, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)

    n = args.edges
    print(f"{n} edges, each its own account and connection, {args.rate:g} event/s each; "
          f"{os.cpu_count()} cores, load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end; file limit {limit}")
    print(f"accounts written in {accounts_s:.1f} s; Mosquitto started with them in "
          f"{broker_start_s:.1f} s; {n} retained configurations stored in {seed_s:.1f} s")
    print(f"published {sent}, acknowledged {acked}, load errors {summary['errors']}, "
          f"disconnects {summary['disconnects']}, reconnects {summary['reconnects']}")
    report(f"{n} edges: events", counts.text(sent))
    if size and size[1]:
        print(f"event_log with its indexes: {size[0] / size[1]:,.0f} bytes/event on disk "
              f"({size[1]:,} events); one access event on the wire ~{EVENT_BYTES} bytes + MQTT")
    if len(run.steady) == 2:
        a, b = run.steady
        span = max(b.at - a.at, 1e-9)
        report(f"{n} edges: steady state, CPU share of one core over {span:.0f} s",
               f"hub {100 * (b.hub - a.hub) / span:.1f} %, mosquitto "
               f"{100 * (b.broker - a.broker) / span:.1f} %, postgresql "
               f"{100 * (b.pg - a.pg) / span:.1f} %, load generator "
               f"{100 * (b.me - a.me) / span:.1f} %; the whole machine (everyone's work) "
               f"{100 * (b.machine - a.machine) / span / (os.cpu_count() or 1):.0f} % busy")
        m = run.memory
        report(f"{n} edges: steady state, memory",
               f"hub RSS {m['hub']:.0f} MB (peak over the run {hub_peak:.0f} MB), mosquitto RSS "
               f"{m['broker']:.0f} MB, postgresql private {m['pg']:.0f} MB, load generator RSS "
               f"{m['me']:.0f} MB")
    else:
        print("steady state: the edges were never all connected at once")
    if run.restart_at is not None:
        if run.online_at is None:
            report(f"{n} edges: broker restart", f"NOT every edge back within "
                   f"{args.storm_limit:g} s")
        else:
            stored_s = ((backlog - run.restart_wall).total_seconds()
                        if backlog is not None and run.restart_wall is not None else float("nan"))
            report(f"{n} edges: broker restart, jitter {args.jitter:g} s",
                   f"broker back in {run.restart_s:.1f} s; every edge online "
                   f"{run.online_at - run.restart_at:.1f} s after the restart, every event "
                   f"published before then committed after {stored_s:.1f} s (target 120 s)")
        report(f"{n} edges: downlink in the storm",
               f"retained messages the broker handed back {retained - run.retained_before}"
               f" (every edge's configuration: {n}); published afresh "
               f"{fresh - run.fresh_before} (the hub recompiling: must be 0)")
    if latencies:
        report(f"{n} edges: event (publish) to committed, the whole run",
               summarize(latencies, "ms", 1000).text())
    if not counts.ok(sent):
        raise SystemExit(f"FAILED: {counts.text(sent)}")


if __name__ == "__main__":
    main()
