"""The headline benchmarks in a few minutes, printed as one table (`make bench`).

Runs each benchmark below as its own process with short settings, collects the figures each
one reports (harness.report), and prints them in one table with the machine's CPU count and
the load average when each figure was taken: on a shared machine the load is part of the
figure. The benchmarks' own output goes to a log file, named at the end. Short settings mean
fewer samples: where there are fewer than 1,000, a figure says `max` and its count, not p99.
docs/benchmarks.md holds the longer runs.

    .venv/bin/python bench/headline.py [--only NAME ...] [--log FILE]
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from harness.report import RECORD_ENV, machine  # noqa: E402

# name, script and arguments, time limit in seconds
HEADLINE: list[tuple[str, list[str], int]] = [
    ("edge decision", ["edge_decision.py", "--decisions", "100000", "--swipes", "200"], 180),
    ("card revocation", ["revocation_to_door.py", "--revocations", "20"], 120),
    ("pass revocation", ["pass_revocation.py", "-n", "10"], 120),
    ("hub ingest", ["hub_ingest.py", "--events", "10000", "--repeat", "1"], 240),
    ("event to alarm", ["event_to_alarm.py", "--seconds", "20"], 180),
    ("1,000 edges", ["edges_10000.py", "--edges", "1000", "--rate", "1", "--steady", "20",
                     "--no-restart"], 240),
]


def run(name: str, command: list[str], limit: int, record: Path, log: Path) -> str:
    """Run one benchmark; returns "ok", or why not."""
    env = {**os.environ, RECORD_ENV: str(record),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"\n===== {name}: {' '.join(command)} ({datetime.now(UTC):%H:%M:%S} UTC)\n")
        out.flush()
        try:
            done = subprocess.run([sys.executable, str(ROOT / "bench" / command[0]), *command[1:]],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, timeout=limit,
                                  cwd=ROOT, check=False)
        except subprocess.TimeoutExpired:
            return f"stopped after {limit} s"
    return "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"


def table(rows: list[dict[str, Any]], outcomes: dict[str, str]) -> str:
    width = max([len(str(r["what"])) for r in rows] + [10])
    lines = [f"{'what':<{width}}  {'load':>5}  figure", f"{'-' * width}  {'-' * 5}  {'-' * 40}"]
    for r in rows:
        lines.append(f"{r['what']:<{width}}  {r['load']:5.2f}  {r['figure']}")
    for name, outcome in outcomes.items():
        if outcome != "ok":
            lines.append(f"{name:<{width}}  {'':>5}  {outcome.upper()}: see the log")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=[n for n, _, _ in HEADLINE],
                        help="run only these")
    parser.add_argument("--log", type=Path, default=None,
                        help="where the benchmarks' own output goes (default: a temporary file)")
    args = parser.parse_args()
    log = args.log or Path(tempfile.mkstemp(prefix="lintel-bench-", suffix=".log")[1])
    record = Path(tempfile.mkstemp(prefix="lintel-bench-", suffix=".jsonl")[1])
    started, before = time.monotonic(), machine()
    outcomes: dict[str, str] = {}
    try:
        for name, command, limit in HEADLINE:
            if args.only and name not in args.only:
                continue
            print(f"{name} ...", end=" ", flush=True)
            outcomes[name] = run(name, command, limit, record, log)
            print(outcomes[name], flush=True)
        rows = [json.loads(line) for line in record.read_text().splitlines() if line]
    finally:
        record.unlink(missing_ok=True)
    print(f"\nLintel headline benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{time.monotonic() - started:.0f} s; at the start {before}; at the end {machine()}")
    print("load: the 1-minute load average when the figure was taken "
          f"({os.cpu_count()} CPUs; above that, other work shared the cores)\n")
    print(table(rows, outcomes))
    print(f"\nthe benchmarks' own output: {log}")
    if any(outcome != "ok" for outcome in outcomes.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
