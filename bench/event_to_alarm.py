"""Event-to-alarm latency while 1,000 events/s flow through the hub (PostgreSQL, Mosquitto).

Starts a throwaway Mosquitto and PostgreSQL on loopback and the hub as its own process
(`lintel hub`, rules engine on), then publishes for `--seconds` a steady stream from
simulated edges (QoS 1): granted cards (no rule), refused cards (the denied-burst rule keeps
its counts in the database), door open/close pairs (held-open timers started and reset),
telemetry, and forced doors, each at a door of its own so that it opens a new alarm. The
latency of an alarm is from the moment its event was published to the moment the alarm's
live push (sent after the commit) reaches a subscriber on the hub's live topic. The push is
QoS 0: an alarm stored whose push never arrived is counted as a lost push, not left out.
1 % of the events raise an alarm: the default 100 s gives the 1,000 alarms a p99 needs.
Usage: .venv/bin/python bench/event_to_alarm.py [--rate 1000] [--seconds 100] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.hub_ingest import prepare_database
from harness.report import report
from harness.services import MosquittoServer, PostgresServer, free_port
from harness.stats import summarize
from hub.live import LIVE_TOPIC
from wire import new_event_id, topics

SITE = "bench"
EDGES = 20
TICK_S = 0.01


def event(kind: str, edge: int, seq: int, device: str, data: dict[str, Any]) -> tuple[str, dict]:
    return topics.event(SITE, f"e{edge}", kind), {
        "id": new_event_id(), "ts": datetime.now(UTC).isoformat(), "site": SITE,
        "edge": f"e{edge}", "device": device, "seq": seq, "kind": kind, "data": data}


def make(i: int, seqs: list[int]) -> tuple[str, dict, bool]:
    """The i-th event of the stream; True when it opens an alarm."""
    edge = i % EDGES
    seqs[edge] += 1
    seq = seqs[edge]
    slot = i % 100
    if slot == 0:  # 1 %: a forced door, a door of its own each time: a new alarm
        door = f"forced-{i}"
        return (*event("door", edge, seq, door, {"door": door, "event": "forced_open"}), True)
    if slot < 4:  # 3 %: refused cards over 50 doors (count rule state in the database)
        door = f"d{i % 50}"
        return (*event("access", edge, seq, door, {
            "door": door, "credential_type": "card", "credential": str(9000 + i % 7),
            "result": "denied", "reason": "unknown_card", "decision_us": 50}), False)
    if slot < 8:  # 4 %: doors opened then closed (timers started and reset)
        door = f"d{i % 50}"
        what = "opened" if (i // 100) % 2 == 0 else "closed"
        return (*event("door", edge, seq, door, {"door": door, "event": what}), False)
    if slot < 12:  # 4 %: pressure telemetry, normal
        return (*event("telemetry", edge, seq, f"pump-{edge}", {
            "device_type": "pressure_sensor", "model": "pressure-sprinkler-pt",
            "readings": [{"name": "pressure", "value": 0.4, "unit": "MPa"}]}), False)
    return (*event("access", edge, seq, f"d{i % 50}", {
        "door": f"d{i % 50}", "credential_type": "card", "credential": str(1000 + i % 900),
        "resident_id": 1, "result": "granted", "reason": "granted", "decision_us": 40}), False)


class AlarmWatcher:
    """Subscribes to the hub's live topic and notes when each alarm's push arrives."""

    def __init__(self, port: int) -> None:
        self.seen: dict[str, float] = {}  # triggering event id -> arrival (time.time)
        self.access: dict[str, float] = {}  # access event id -> arrival of its own push
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-watcher")
        self._client.on_message = self._on_message
        ready = threading.Event()
        self._client.on_subscribe = lambda *a: ready.set()
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(LIVE_TOPIC, qos=0)
        self._client.loop_start()
        ready.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        for item in json.loads(msg.payload):
            if item["channel"] == "alarms" and item["data"].get("event") == "raised":
                self.seen.setdefault(item["data"]["alarm"]["event_id"], now)
            elif item["channel"] == "access":
                self.access.setdefault(item["data"]["id"], now)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def start_hubs(pg: PostgresServer, port: int, workers: int, name: str) -> list[subprocess.Popen[str]]:
    url = prepare_database(pg, name, EDGES)
    procs = []
    for w in range(workers):
        env = {**os.environ, "LINTEL_HUB_DATABASE_URL": url, "LINTEL_HUB_MQTT_PORT": str(port),
               "LINTEL_HUB_MQTT_CLIENT_ID": f"hub-{w}-{os.getpid()}",
               "LINTEL_HUB_MQTT_SHARED_GROUP": f"alarm{workers}",
               "LINTEL_HUB_HTTP_PORT": str(free_port()), "LINTEL_HUB_ADMIN_PASSWORD": "bench-pass",
               "LINTEL_HUB_DATA_DIR": "/tmp"}
        profile = ["-m", "cProfile", "-o", f"/tmp/hub-{w}.prof"] if os.environ.get("BENCH_PROFILE") else []
        proc = subprocess.Popen([sys.executable, *profile, "-m", "lintel.cli", "hub"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "hub serving" not in line:
            raise RuntimeError(f"hub worker {w} did not start: {line!r}")
        procs.append(proc)
    time.sleep(1.0)
    return procs


def run(port: int, rate: int, seconds: float
        ) -> tuple[dict[str, float], dict[str, float], int, float]:
    """Publish at `rate` events/s; returns publish times of the alarm events and of a sample
    of granted cards (their push is the ingest's own, the baseline), count, start."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-edges")
    client.max_inflight_messages_set(2000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    sent: dict[str, float] = {}
    granted: dict[str, float] = {}
    seqs = [0] * EDGES
    total = int(rate * seconds)
    per_tick = rate * TICK_S
    start = time.monotonic()
    infos = []
    for i in range(total):
        due = start + i / per_tick * TICK_S
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        topic, body, alarm = make(i, seqs)
        if alarm:
            sent[body["id"]] = time.time()
        elif i % 100 == 50 and body["kind"] == "access":
            granted[body["id"]] = time.time()
        infos.append(client.publish(topic, json.dumps(body).encode(), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    return sent, granted, total, start


def lost_pushes(published: dict[str, float], stored: set[str], arrived: dict[str, float]) -> int:
    """Events stored (so their push was sent) whose push never reached the subscriber."""
    return sum(1 for i in published if i in stored and i not in arrived)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--seconds", type=float, default=100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    broker, pg = MosquittoServer(), PostgresServer()
    broker.start()
    pg.start()
    name = f"alarm_bench_{os.getpid()}"
    procs = start_hubs(pg, broker.port, args.workers, name)
    watcher = AlarmWatcher(broker.port)
    try:
        sent, granted, total, start = run(broker.port, args.rate, args.seconds)
        published_s = time.monotonic() - start
        with psycopg.connect(pg.dsn(name), autocommit=True) as db:
            deadline = time.monotonic() + 120
            while True:
                stored = db.execute("SELECT count(*) FROM event_log").fetchone()[0]
                if stored >= total or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            drained_s = time.monotonic() - start
            raised = dict(db.execute("SELECT event_id, raised_at FROM alarms").fetchall())
            stored_granted = {r[0] for r in db.execute(
                "SELECT id FROM event_log WHERE id = ANY(%s)", (list(granted),)).fetchall()}
        time.sleep(1.0)  # the last pushes
        latencies = [(watcher.seen[i] - t) for i, t in sent.items() if i in watcher.seen]
        if not latencies:
            raise RuntimeError("no alarm push arrived")
        print(f"offered {args.rate:,} events/s for {args.seconds:.0f} s ({total:,} events, "
              f"{len(sent)} alarm-raising) to {args.workers} hub worker(s) on PostgreSQL")
        print(f"published in {published_s:.1f} s ({total / published_s:,.0f}/s); all stored "
              f"after {drained_s:.1f} s: {stored / drained_s:,.0f} events/s through the hub")
        missing = sum(1 for i in sent if i not in raised)
        report(f"event to alarm at {args.rate:,} events/s, {args.workers} worker(s): "
               "publish to the alarm's live push",
               f"{summarize(latencies, 'ms', 1000).text(0)}; alarms not raised {missing}, "
               f"live pushes lost {lost_pushes(sent, set(raised), watcher.seen)} of "
               f"{len(sent) - missing} (QoS 0)")
        evaluated = [(raised[i].timestamp() - t) for i, t in sent.items() if i in raised]
        report("  of which publish to the rule's evaluation (alarm raised_at)",
               summarize(evaluated, "ms", 1000).text(0))
        base = [(watcher.access[i] - t) for i, t in granted.items() if i in watcher.access]
        if base:
            report("  baseline, a granted card's own push from the ingest",
                   f"{summarize(base, 'ms', 1000).text(0)}; lost "
                   f"{lost_pushes(granted, stored_granted, watcher.access)} of "
                   f"{len(stored_granted)}")
    finally:
        watcher.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        broker.cleanup()
        pg.stop()


if __name__ == "__main__":
    main()
