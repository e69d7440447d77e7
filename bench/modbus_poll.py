"""How many Modbus devices one edge polls at 1 s intervals, and at what CPU share.

The simulators (pymodbus TCP servers: half elevator-vvvf-a, half pressure-hydrant-pt) run in a
separate process so they do not count against the edge. The edge runs the real DeviceSupervisor
(one pymodbus client and task per device, decoding, fault tracking, telemetry) writing into a
real SQLite outbox. Prints the edge's CPU share of one core, polls/s, poll latency and start
lateness (jitter) p50/p99. Target: 200 devices under 30 % of a core.

    .venv/bin/python bench/modbus_poll.py [--devices 200] [--seconds 30] [--interval 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("elevator-vvvf-a", "pressure-hydrant-pt")


async def serve(count: int) -> None:
    from edge.sensors.loader import load_models
    from simulators.modbus_devices import ModbusDeviceSimulator

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    models = load_models()
    async with contextlib.AsyncExitStack() as stack:
        ports = []
        for i in range(count):
            model = models[MODELS[i % 2]]
            sim = await stack.enter_async_context(
                ModbusDeviceSimulator(model, name=f"d{i}", transport="tcp"))
            ports.append([model.model, sim.tcp_port])
        print(json.dumps(ports), flush=True)
        await asyncio.Event().wait()


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(devices: int, seconds: float, interval: float, telemetry_every: float) -> None:
    from edge.config import DeviceConfig
    from edge.devices import DeviceSupervisor
    from edge.outbox import Outbox
    from harness.report import report
    from harness.stats import summarize

    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", str(devices), stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ports = json.loads(await proc.stdout.readline())
        configs = [DeviceConfig.model_validate({
            "id": f"d{i}", "model": model, "transport": "tcp", "host": "127.0.0.1",
            "tcp_port": port, "poll_interval_s": interval, "timeout_s": 1.0,
            "telemetry_every_s": telemetry_every,
        }) for i, (model, port) in enumerate(ports)]
        with tempfile.TemporaryDirectory() as tmp:
            outbox = Outbox(Path(tmp) / "outbox.db", site="bench", edge="bench")
            events = 0

            def emit(device: str, data: object) -> None:
                nonlocal events
                events += 1
                outbox.add_event(device, data)  # type: ignore[arg-type]

            async with DeviceSupervisor(configs, emit) as sup:
                await asyncio.sleep(min(5.0, seconds / 3))  # connect and settle
                links = [d.link for d in sup.devices.values() if d.link is not None]
                ok0 = sum(link.counters.ok for link in links)
                for link in links:
                    link.timing.latencies.clear()
                    link.timing.lateness.clear()
                cpu0, wall0, sim0 = time.process_time(), time.monotonic(), _cpu_of(proc.pid)
                await asyncio.sleep(seconds)
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                sim_cpu = _cpu_of(proc.pid) - sim0
                ok = sum(link.counters.ok for link in links) - ok0
                errors = {k: sum(link.counters.as_dict()[k] for link in links)
                          for k in ("timeouts", "crc_errors", "exceptions")}
                latency = [v for link in links for v in link.timing.latencies]
                lateness = [v for link in links for v in link.timing.lateness]
            outbox.close()
        print(f"devices {devices} at {interval:g} s intervals, measured over {wall:.1f} s")
        print(f"edge CPU: {100 * cpu / wall:.1f} % of one core")
        print(f"simulator process CPU: {100 * sim_cpu / wall:.1f} % (not the edge's)")
        print(f"polls completed: {ok / wall:.1f}/s (expected {devices / interval:.1f}/s); "
              f"errors {errors}; events queued {events}")
        report("poll latency", summarize(latency, "ms", 1000).text(2))
        report("start lateness (jitter)", summarize(lateness, "ms", 1000).text(2))
        print(f"latency mean {1000 * statistics.fmean(latency):.2f} ms over {len(latency)} polls")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--telemetry-every", type=float, default=60.0,
                        help="telemetry of unchanged readings every N s (1 = every poll at 1 s)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if args.serve:
        asyncio.run(serve(args.serve))
    else:
        asyncio.run(measure(args.devices, args.seconds, args.interval, args.telemetry_every))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
