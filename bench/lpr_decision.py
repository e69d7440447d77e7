"""Vehicle lane benchmark: camera HTTP push -> barrier answer at the edge, and the decision
against 100,000 cached vehicles.

1. The site's vehicle permissions as they arrive in the signed snapshot (N resident vehicles,
   a thousand visitor passes, a hundred blocked plates): parse + validate, then build the
   lane cache; its memory (tracemalloc) and the process RSS.
2. LaneDecider.decide over a mix at an entry and an exit lane: residents, passes, blocked,
   unknown, near misses (p50 / p99 per call).
3. The whole path over real HTTP on loopback: a Vzenith-format push with a plate picture,
   a new TCP connection each time (as cameras do), the real edge server, the decision, the
   event written to the real outbox (SQLite, synchronous=FULL), who is inside to its log
   (SQLite, synchronous=FULL) and the picture to the spool, then the answer. Target p99 <= 200 ms.

    .venv/bin/python bench/lpr_decision.py [--vehicles N] [--decisions N] [--pushes N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import http.client
import json
import random
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from edge.cameras.spool import SnapshotSpool
from edge.outbox import Outbox
from edge.vehicles import InsideLog, LaneDecider, LaneServer, VehicleCache, VehicleLanes
from harness.report import report
from harness.stats import summarize
from simulators.lpr import vzenith_push
from wire.vehicles import LaneConfig, VehiclePermissions

ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # Chinese plates use no I or O
PROVINCES = "粤京沪苏浙鲁川湘"
SECRET = "bench-secret"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
ENTRY = LaneConfig(id="gate-in", direction="entry", camera_secret_sha256=DIGEST)
EXIT = LaneConfig(id="gate-out", direction="exit", camera_secret_sha256=DIGEST)


def plates(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add(rng.choice(PROVINCES) + rng.choice("ABCDEFGH")
                + "".join(rng.choice(ALNUM) for _ in range(5)))
    return sorted(out)


def permissions_json(rng: random.Random, n: int) -> tuple[str, list[str]]:
    every = plates(rng, n + 1100)
    now = datetime.now(UTC)
    doc = {
        "residents": [{"plate": p, "household_id": 1 + i // 2} for i, p in enumerate(every[:n])],
        "passes": [{"id": i + 1, "plate": p, "household_id": 1 + i,
                    "valid_from": (now - timedelta(hours=1)).isoformat(),
                    "valid_until": (now + timedelta(days=1)).isoformat(), "max_uses": 10**3}
                   for i, p in enumerate(every[n:n + 1000])],
        "blocked": [{"plate": p, "reason": "bench"} for p in every[n + 1000:]],
        "settings": {"passback": "warn", "temporary_entry": "open"},
    }
    return json.dumps(doc, ensure_ascii=False), every


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def readings(rng: random.Random, known: list[str], n: int) -> list[tuple[str, float]]:
    mix = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.80:
            mix.append((rng.choice(known), 0.95))
        elif roll < 0.90:
            mix.append((rng.choice(plates(rng, 1)), 0.92))  # unknown
        elif roll < 0.97:  # near miss: one character the camera confuses
            plate = rng.choice(known)
            mix.append((plate.replace("0", "D").replace("8", "B"), 0.9))
        else:
            mix.append((rng.choice(known), 0.5))  # low confidence
    return mix


def bench_cache(args: argparse.Namespace) -> tuple[VehicleCache, list[str]]:
    rng = random.Random(17)
    raw, every = permissions_json(rng, args.vehicles)
    tracemalloc.start()
    started = time.perf_counter()
    perms = VehiclePermissions.model_validate_json(raw)
    parsed = time.perf_counter()
    before = tracemalloc.get_traced_memory()[0]
    cache = VehicleCache(perms)
    built = time.perf_counter()
    cache_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del perms
    report(f"{args.vehicles:,} vehicles + 1,000 passes + 100 blocked: parse + validate",
           f"{parsed - started:.2f} s; cache built in {built - parsed:.2f} s")
    report("lane cache memory (tracemalloc)",
           f"{cache_bytes / 1e6:.1f} MB ({cache_bytes / len(cache):.0f} B per plate); "
           f"process max RSS {rss_mb():.0f} MB")
    return cache, every


def bench_decide(cache: VehicleCache, every: list[str], n: int) -> None:
    rng = random.Random(4)
    decider = LaneDecider(cache)
    mix = readings(rng, every, n)
    now = datetime.now(UTC)
    times = []
    started = time.perf_counter()
    for i, (plate, conf) in enumerate(mix):
        lane = ENTRY if i % 2 == 0 else EXIT
        t0 = time.perf_counter_ns()
        decider.decide(lane, plate, conf, now)
        times.append(time.perf_counter_ns() - t0)
    wall = time.perf_counter() - started
    report(f"LaneDecider.decide over {n:,} readings ({len(cache):,} cached plates)",
           f"{summarize(times, 'us', 1e-3).text(1)}; {n / wall:,.0f} decisions/s")


def bench_push(cache: VehicleCache, every: list[str], n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "outbox.db", site="bench", edge="gate")
        spool = SnapshotSpool(Path(tmp) / "snapshots.db", 500_000_000)
        inside = InsideLog(Path(tmp) / "vehicles-inside.db")  # who is inside, as the agent keeps it
        lanes = VehicleLanes(outbox.add_event, spool=spool, inside=inside)
        lanes.decider.replace(cache)
        ready = threading.Event()
        stop: asyncio.Event | None = None
        port = 0
        loop = asyncio.new_event_loop()

        async def serve() -> None:
            nonlocal stop, port
            stop = asyncio.Event()
            async with LaneServer([ENTRY, EXIT], lanes.on_reading, lanes.on_refused,
                                  host="127.0.0.1", port=0) as server:
                port = server.port
                ready.set()
                await stop.wait()

        thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
        thread.start()
        ready.wait(10)
        rng = random.Random(9)
        auth = "Basic " + base64.b64encode(f"camera:{SECRET}".encode()).decode()
        bodies = [json.dumps(vzenith_push(p, confidence=c), ensure_ascii=False).encode()
                  for p, c in readings(rng, every, 50)]
        times, opened = [], 0
        for i in range(n):
            lane = "gate-in" if i % 2 == 0 else "gate-out"
            body = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", f"/lpr/{lane}", body=body,
                         headers={"Authorization": auth, "Content-Type": "application/json"})
            answer = conn.getresponse()
            data = answer.read()
            conn.close()
            times.append(time.perf_counter() - t0)
            if answer.status != 200:
                raise SystemExit(f"push answered {answer.status}: {data!r}")
            opened += b'"ok"' in data
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        size = len(bodies[0])
        report(f"camera push -> answer over HTTP, {n:,} pushes of ~{size / 1024:.0f} KB "
               "(picture spooled, event in the FULL-sync outbox, who is inside in its FULL-sync log)",
               f"{summarize(times, 'ms', 1000).text(1)}; {opened:,} opened; "
               f"outbox {len(outbox):,} events, spool {len(spool):,} pictures")
        outbox.close()
        spool.close()
        inside.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vehicles", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--pushes", type=int, default=2_000)
    args = parser.parse_args()
    cache, every = bench_cache(args)
    bench_decide(cache, every, args.decisions)
    bench_push(cache, every, args.pushes)


if __name__ == "__main__":
    main()
