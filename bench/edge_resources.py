"""Edge agent memory (RSS) and CPU at rest and at 50 swipes/s through simulated OSDP readers.

The agent runs as its own process (`lintel edge --config`), with two doors whose readers are
libosdp peripheral-device simulators on ptys (as bench/card_to_relay.py, secure channel on),
a throwaway Mosquitto, and a retained permission snapshot of --cards cards. Measured from
/proc: RSS and CPU over --seconds at rest, then over --seconds while cards are presented at
--rate swipes/s spread over the doors (half granted, half unknown), checking that every swipe
became an access event at the broker.

    .venv/bin/python bench/edge_resources.py [--rate 50] [--seconds 20] [--cards 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.edges_10000 import cpu_seconds
from harness.downlink import HUB_KEYS, signed
from harness.mqtt import Collector
from harness.services import MosquittoServer
from simulators.osdp_door import OsdpDoorSimulator
from wire import (
    AccessGroupRule,
    CardCredential,
    DoorInfo,
    PermissionSnapshot,
    SnapshotContent,
    topics,
)

SITE, EDGE = "bench", "bench-edge"
DOORS = ("D1", "D2")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def snapshot(cards: int) -> bytes:
    content = SnapshotContent(
        site=SITE, edge=EDGE, timezone="Asia/Shanghai",
        doors=[DoorInfo(id=d, name=d) for d in DOORS], schedules=[],
        groups=[AccessGroupRule(id=1, doors=list(DOORS), schedule=None)],
        credentials=[CardCredential(card=str(10_000 + i), resident_id=i + 1, groups=[1])
                     for i in range(cards)])
    snap = PermissionSnapshot.build(content, version=1, issued_at=datetime.now(UTC))
    return signed(topics.perm(SITE, EDGE), snap.model_dump_json())


def measure(pid: int, seconds: float) -> tuple[float, float]:
    """CPU share of one core and RSS (MB, at the end) over `seconds`."""
    t0, c0 = time.monotonic(), cpu_seconds(pid)
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0), rss_mb(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="swipes/s over all doors")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cards", type=int, default=5000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lintel-edge-bench-"))
    broker = MosquittoServer()
    broker.start()
    keys = {d: os.urandom(16) for d in DOORS}
    sims = {d: OsdpDoorSimulator(address=101, scbk=keys[d], name=d) for d in DOORS}
    agent = None
    try:
        for sim in sims.values():
            sim.start()
        collector = Collector("127.0.0.1", broker.port, f"{topics.prefix(SITE, EDGE)}/#")
        collector.publish(topics.perm(SITE, EDGE), snapshot(args.cards), retain=True)
        config = {"site": SITE, "edge": EDGE, "data_dir": str(work / "edge"),
                  # the collector stands in for the hub and confirms nothing: the events stay
                  # in the outbox (sent again now and then), counted at the broker
                  "mqtt": {"host": "127.0.0.1", "port": broker.port},
                  "hub_keys": HUB_KEYS,  # the collector signs as the hub
                  "doors": [{"id": d, "reader": {"port": s.port, "address": 101,
                                                 "scbk": keys[d].hex()}, "unlock_s": 0.2}
                            for d, s in sims.items()]}
        (work / "edge.yaml").write_text(yaml.safe_dump(config))
        agent = subprocess.Popen([sys.executable, "-m", "lintel.cli", "edge", "--config",
                                  str(work / "edge.yaml")], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not all(s.online for s in sims.values()) or not _holds_snapshot(collector):
            if time.monotonic() > deadline:
                raise RuntimeError("the edge did not come online with its snapshot in 30 s")
            time.sleep(0.1)
        time.sleep(2.0)  # settle
        rest_cpu, rest_rss = measure(agent.pid, args.seconds)

        before = _access_events(collector)
        interval = 1.0 / args.rate
        t0 = time.monotonic()
        c0 = cpu_seconds(agent.pid)
        n = int(args.rate * args.seconds)
        for i in range(n):
            target = t0 + i * interval
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            card = str(10_000 + i % args.cards) if i % 2 == 0 else str(900_000 + i)
            sims[DOORS[i % len(DOORS)]].present_card(card)
        span = time.monotonic() - t0
        load_cpu = 100 * (cpu_seconds(agent.pid) - c0) / span
        load_rss, peak_rss = rss_mb(agent.pid), rss_mb(agent.pid, "VmHWM")
        deadline = time.monotonic() + 30
        while _access_events(collector) - before < n and time.monotonic() < deadline:
            time.sleep(0.1)
        got = _access_events(collector) - before
        collector.close()
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(20)
        for sim in sims.values():
            sim.close()
        broker.cleanup()

    print(f"edge agent, {len(DOORS)} OSDP doors, {args.cards} cards in its snapshot, {os.cpu_count()} cores")
    print(f"at rest ({args.seconds:g} s): CPU {rest_cpu:.1f} % of one core, RSS {rest_rss:.1f} MB")
    print(f"at {n / span:.1f} swipes/s ({span:.1f} s): CPU {load_cpu:.1f} % of one core, "
          f"RSS {load_rss:.1f} MB (peak {peak_rss:.1f} MB); access events at the broker "
          f"{got} of {n}")


def _holds_snapshot(collector: Collector) -> bool:
    for topic, payload, _ in reversed(collector.messages):
        if topic == topics.state(SITE, EDGE):
            return json.loads(payload).get("perm_version") == 1
    return False


def _access_events(collector: Collector) -> int:
    prefix = topics.event(SITE, EDGE, "access")
    return sum(1 for topic, _, _ in list(collector.messages) if topic == prefix)


if __name__ == "__main__":
    main()
