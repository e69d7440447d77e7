"""Edge outbox drain: N events waiting in the outbox (an edge that was offline), then the
uplink connects to a throwaway Mosquitto and sends them all; events/s until the outbox is
empty (every PUBACK in and every row removed).
Usage: .venv/bin/python bench/outbox_drain.py [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from edge.config import parse_config
from edge.outbox import Outbox
from edge.uplink import Uplink
from harness.services import MosquittoServer
from wire import AccessData, EdgeState


async def drain(events: int) -> None:
    broker = MosquittoServer()
    broker.start()
    try:
        folder = Path(tempfile.mkdtemp(prefix="lintel-drain-"))
        box = Outbox(folder / "outbox.db", site="demo", edge="e1")
        data = AccessData(door="B1-main", credential="1000", result="granted", reason="granted",
                          decision_us=10)
        started = time.monotonic()
        for _ in range(0, events, 1000):
            box.add_events([(f"d{i % 4}", data) for i in range(1000)])
        print(f"{len(box):,} events written in {time.monotonic() - started:.1f} s "
              "(1,000 per transaction)")
        config = parse_config({"site": "demo", "edge": "e1", "data_dir": str(folder),
                               "mqtt": {"host": "127.0.0.1", "port": broker.port,
                                        "wait_for_hub": False}})  # drains to no hub
        def state() -> EdgeState:
            return EdgeState(status="online", agent_version="bench")

        started = time.monotonic()
        async with Uplink(config, box, state=state, version="bench"):
            while len(box):
                await asyncio.sleep(0.05)
        took = time.monotonic() - started
        print(f"drained {events:,} events in {took:.1f} s: {events / took:,.0f} events/s "
              f"(in-flight window {config.mqtt.inflight})")
        box.close()
    finally:
        broker.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    asyncio.run(drain(parser.parse_args().events))


if __name__ == "__main__":
    main()
