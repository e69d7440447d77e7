"""Every benchmark figure printed with the machine's CPU count and load average beside it.

When LINTEL_BENCH_RECORD names a file, each figure is also appended to it as one JSON line:
`bench/headline.py` (`make bench`) collects them into one table.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RECORD_ENV = "LINTEL_BENCH_RECORD"


def machine() -> str:
    """`2 CPUs, load average 1.42 0.97 0.80` (1, 5 and 15 minutes)."""
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} {five:.2f} {fifteen:.2f}"


def report(what: str, figure: str) -> None:
    """Print `what: figure  [machine]`, and record it for the headline table."""
    print(f"{what}: {figure}  [{machine()}]", flush=True)
    path = os.environ.get(RECORD_ENV)
    if path:
        row = {"script": Path(sys.argv[0]).name, "what": what, "figure": figure,
               "cpus": os.cpu_count(), "load": os.getloadavg()[0]}
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
