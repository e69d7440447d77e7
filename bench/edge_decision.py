"""Edge door decision benchmark: a 100,000-credential snapshot, applied, then decided against.

Prints the apply and reload times, the process RSS, and the latency of AccessDecider.decide_card
(p50 / p99 / max in microseconds, decisions/s). Target: p99 <= 2 ms. Also times a SQLite
primary-key lookup of the same cards, the alternative to holding credentials in a dict.

    .venv/bin/python bench/edge_decision.py [--credentials N] [--decisions N]
"""

from __future__ import annotations

import argparse
import sys
import random
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from edge.access import AccessDecider, PermissionCache

sys.path.insert(0, str(Path(__file__).resolve().parent))
from card_to_relay import measure_card_to_relay  # noqa: E402  (a sibling script)
from wire import (
    AccessGroupRule,
    CardCredential,
    DoorInfo,
    PermissionSnapshot,
    Schedule,
    SnapshotContent,
    TimeWindow,
)

DOORS = ["main-gate", "lobby", "garage", "gym", "roof", "bike-room"]
WEEK_START = datetime(2025, 3, 2, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai


def rss_mb() -> float:
    """Resident set size of this process now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def card_number(i: int) -> str:
    return str(10_000_000 + i)  # decimal, as an OSDP reader delivers it


def build_snapshot(n: int, version: int = 1, seed: int = 1) -> PermissionSnapshot:
    """A snapshot with a few doors, schedules and groups and `n` mixed credentials."""
    rng = random.Random(seed)
    schedules = [
        Schedule(
            id="office", windows=[TimeWindow(days=[0, 1, 2, 3, 4], start="08:00", end="18:00")]
        ),
        Schedule(
            id="daytime", windows=[TimeWindow(days=list(range(7)), start="06:00", end="22:00")]
        ),
        Schedule(
            id="weekend",
            windows=[TimeWindow(days=[5, 6], start="00:00", end="24:00")],
        ),
    ]
    groups = [
        AccessGroupRule(id=1, doors=["main-gate", "lobby"], schedule=None),
        AccessGroupRule(id=2, doors=["main-gate", "lobby", "garage"], schedule=None),
        AccessGroupRule(id=3, doors=["gym"], schedule="daytime"),
        AccessGroupRule(id=4, doors=["bike-room"], schedule="daytime"),
        AccessGroupRule(id=5, doors=["garage"], schedule="office"),
        AccessGroupRule(id=6, doors=["gym", "bike-room"], schedule="weekend"),
        AccessGroupRule(id=7, doors=["roof"], schedule="office"),
        AccessGroupRule(id=8, doors=DOORS, schedule=None),
    ]
    statuses = ["active"] * 90 + ["revoked"] * 4 + ["lost"] * 3 + ["suspended"] * 3
    credentials = []
    for i in range(n):
        roll = rng.random()
        credentials.append(
            CardCredential(
                card=card_number(i),
                resident_id=100_000 + i // 2,
                status=rng.choice(statuses),
                valid_from=WEEK_START + timedelta(days=3) if roll < 0.02 else None,
                valid_until=WEEK_START - timedelta(days=1) if 0.02 <= roll < 0.05 else None,
                groups=rng.sample(range(1, 8), rng.randint(0, 3)) if i % 1000 else [8],
            )
        )
    content = SnapshotContent(
        site="garden-court",
        edge="building-3",
        timezone="Asia/Shanghai",
        doors=[
            DoorInfo(id=d, name=d.title(), mode="locked_down" if d == "roof" else "normal")
            for d in DOORS
        ],
        schedules=schedules,
        groups=groups,
        credentials=credentials,
    )
    return PermissionSnapshot.build(content, version=version, issued_at=datetime.now(UTC))


def percentiles_us(samples_ns: Sequence[int]) -> tuple[float, float, float]:
    """p50, p99 and max of nanosecond samples, in microseconds."""
    cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return cuts[49] / 1000, cuts[98] / 1000, max(samples_ns) / 1000


def measure_decisions(
    decider: AccessDecider,
    cards: Sequence[str],
    n: int,
    *,
    known_share: float = 0.8,
    seed: int = 2,
) -> tuple[list[int], Counter[str]]:
    """Time `n` decide_card calls on random doors, cards (known or not) and times of the week.

    Returns each call's wall time in nanoseconds and the tally of reasons.
    """
    rng = random.Random(seed)
    inputs = [
        (
            rng.choice(DOORS + ["unknown-door"]) if rng.random() < 0.99 else "unknown-door",
            rng.choice(cards) if rng.random() < known_share else f"FFFF{rng.getrandbits(32):08X}",
            WEEK_START + timedelta(seconds=rng.randrange(7 * 86400)),
        )
        for _ in range(n)
    ]
    samples: list[int] = []
    reasons: Counter[str] = Counter()
    clock = time.perf_counter_ns
    for door, card, now in inputs:
        started = clock()
        decision = decider.decide_card(door, card, now)
        samples.append(clock() - started)
        reasons[decision.reason] += 1
    return samples, reasons


def held_mb(path: Path) -> float:
    """Python memory a PermissionCache loaded from `path` holds (traced, so not timed)."""
    tracemalloc.start()
    try:
        with PermissionCache(path):
            return tracemalloc.get_traced_memory()[0] / 2**20
    finally:
        tracemalloc.stop()


def measure_sqlite_lookups(path: Path, cards: Sequence[str], n: int, seed: int = 3) -> list[int]:
    """Time primary-key lookups of credentials straight from the cache file, for comparison."""
    rng = random.Random(seed)
    picks = [rng.choice(cards) for _ in range(n)]
    samples: list[int] = []
    with sqlite3.connect(path) as db:
        clock = time.perf_counter_ns
        for card in picks:
            started = clock()
            db.execute("SELECT * FROM credentials WHERE card = ?", (card,)).fetchone()
            samples.append(clock() - started)
    return samples


def _ms_percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--swipes", type=int, default=200, help="card-to-relay swipes")
    args = parser.parse_args(argv)

    base_rss = rss_mb()
    started = time.perf_counter()
    snapshot = build_snapshot(args.credentials)
    print(
        f"built snapshot: {args.credentials:,} credentials in {time.perf_counter() - started:.2f} s; "
        f"the pydantic snapshot takes +{rss_mb() - base_rss:.0f} MB RSS"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "permissions.db"
        with PermissionCache(path) as cache:
            started = time.perf_counter()
            cache.apply(snapshot)
            apply_s = time.perf_counter() - started
            print(f"apply: {apply_s:.2f} s; process RSS {rss_mb():.0f} MB")
        cards = [c.card for c in snapshot.credentials]
        db_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
        del snapshot
        print(f"cache held in memory: {held_mb(path):.1f} MB (Python objects); file {db_mb:.1f} MB")

        # A restart: the edge loads the file and decides with no network.
        started = time.perf_counter()
        with PermissionCache(path) as cache:
            print(f"reload after restart: {time.perf_counter() - started:.2f} s")
            decider = AccessDecider(cache)
            started = time.perf_counter()
            samples, reasons = measure_decisions(decider, cards, args.decisions)
            elapsed = time.perf_counter() - started
            # The whole path through the OSDP simulator, with this real decision in it.
            now = datetime.now(timezone.utc)
            door = "main-gate"
            granted = [
                c for c in cards[:5000] if decider.decide_card(door, c, now).granted
            ]
            relay_ms = [
                s * 1000
                for s in measure_card_to_relay(
                    args.swipes,
                    lambda card: decider.decide_card(door, card, datetime.now(timezone.utc)).granted,
                    granted,
                )
            ]
        p50, p99, worst = percentiles_us(samples)
        rate = len(samples) / (sum(samples) / 1e9)
        verdict = "ok" if p99 <= 2000 else "OVER TARGET"
        print(
            f"decide_card x{len(samples):,}: p50 {p50:.1f} us, p99 {p99:.1f} us, max {worst:.0f} us; "
            f"{rate:,.0f} decisions/s ({elapsed:.2f} s with input handling); "
            f"p99 target 2000 us: {verdict}"
        )
        print("reasons: " + ", ".join(f"{r} {c}" for r, c in reasons.most_common()))
        r50, r99 = _ms_percentile(relay_ms, 50), _ms_percentile(relay_ms, 99)
        print(
            f"card-to-relay through the OSDP simulator x{len(relay_ms)}: p50 {r50:.1f} ms, "
            f"p99 {r99:.1f} ms, max {max(relay_ms):.1f} ms; "
            f"p99 target 150 ms: {'ok' if r99 <= 150 else 'OVER TARGET'}"
        )

        p50, p99, worst = percentiles_us(measure_sqlite_lookups(path, cards, args.decisions))
        print(
            f"for comparison, SQLite primary-key lookup: p50 {p50:.1f} us, p99 {p99:.1f} us, "
            f"max {worst:.0f} us"
        )


if __name__ == "__main__":
    main()
