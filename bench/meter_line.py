"""N DL/T 645 meters on one RS-485 line at 2400 baud: one read cycle and per-meter latency.

The simulated riser (simulators/dlt645_meters.py, on a pty in this process's thread) holds each
answer for the request's and the answer's time on the wire at the line's speed (11 bits a byte,
8E1) plus the meter's turnaround, so the figure is the bus time a real line needs. The edge side
is the real Dlt645Line (pyserial, codec, scheduler) reading every meter's items once.

    .venv/bin/python bench/meter_line.py [--meters 40] [--baud 2400] [--turnaround 0.05]
        [--items energy_kwh,...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from decimal import Decimal


async def measure(n: int, baud: int, turnaround: float, items: tuple[str, ...]) -> None:
    from edge.drivers.dlt645 import Dlt645Line, LineConfig, MeterConfig, MeterEvent, MeterReading
    from edge.drivers.dlt645.frame import read_request
    from simulators.dlt645_meters import MeterLineSimulator, SimulatedMeter

    meters = [SimulatedMeter(f"{100000000000 + i:012d}", kwh=Decimal(i)) for i in range(n)]
    configs = [MeterConfig(name=f"m{i}", address=m.address, items=items, interval_s=3600,
                           timeout_s=1.0) for i, m in enumerate(meters)]
    readings: list[MeterReading] = []
    done = asyncio.Event()

    def on_event(event: MeterEvent) -> None:
        if isinstance(event, MeterReading):
            readings.append(event)
            if len(readings) == n:
                done.set()

    with MeterLineSimulator(meters, baudrate=baud, turnaround_s=turnaround) as sim:
        started = time.monotonic()
        async with Dlt645Line(LineConfig(port=sim.port, baudrate=baud), configs, on_event):
            async with asyncio.timeout(n * len(items) * 2 + 10):
                await done.wait()
        cycle = time.monotonic() - started
    latencies = sorted(r.latency_s for r in readings)
    request = len(read_request(meters[0].address, 0))
    answer = 22  # 68 A0..A5 68 91 L=08 DI(4) energy(4) CS 16
    bus = (request + answer) * 11 / baud
    print(f"{n} meters, {len(items)} item(s) each, {baud} baud, turnaround {turnaround * 1000:.0f}"
          f" ms: one read cycle {cycle:.1f} s (first polls spread over up to 1 s)")
    print(f"per meter (all its items): p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms; bus time per energy read {bus * 1000:.0f} ms "
          f"({request} + {answer} bytes)")
    per_meter = cycle / n
    print(f"=> 200 meters: about {200 * per_meter:.0f} s per cycle at this rate")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--meters", type=int, default=40)
    p.add_argument("--baud", type=int, default=2400)
    p.add_argument("--turnaround", type=float, default=0.05)
    p.add_argument("--items", default="energy_kwh")
    a = p.parse_args()
    asyncio.run(measure(a.meters, a.baud, a.turnaround, tuple(a.items.split(","))))


if __name__ == "__main__":
    main()
