"""Several Modbus units on each RS-485 line: 2 lines x 16 units polled at 1 s by one edge core.

The simulators (pymodbus RTU servers, one per line, units alternating elevator-vvvf-a and
elevator-mrl-b) run in a separate process on pty pairs, so they do not count against the edge.
With `--baud N` each byte is held on the pty for its time on a real line at N baud (8N1), so the
line's capacity is part of the figure; without it a pty moves bytes at memory speed. The edge
runs the real DeviceSupervisor (one bus owner per line, decoding, faults, telemetry) writing
into a real SQLite outbox, pinned to one CPU. Prints the edge's CPU share of that core, polls
completed against polls due, poll latency and start lateness p50/p99 (p99 only from 1,000
samples: run at least 32 s with 32 units at 1 s).

    .venv/bin/python bench/modbus_lines.py [--lines 2] [--units 16] [--seconds 60] [--baud 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("elevator-vvvf-a", "elevator-mrl-b")


async def serve(lines: int, units: int, baud: int) -> None:
    from edge.sensors.loader import load_models
    from edge.sensors.models import SerialSettings
    from simulators.modbus_devices import ModbusDeviceSimulator
    from simulators.modbus_line import ModbusLineSimulator

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    models = load_models()
    # ptys refuse parity bits; the baud rate is a Literal of the standard rates
    serial = SerialSettings(baudrate=baud or 9600, parity="N")  # type: ignore[arg-type]
    async with contextlib.AsyncExitStack() as stack:
        ports = []
        for line in range(lines):
            sims = [ModbusDeviceSimulator(models[MODELS[u % 2]], name=f"l{line}u{u + 1}",
                                          unit_id=u + 1, serial=serial) for u in range(units)]
            sim = await stack.enter_async_context(ModbusLineSimulator(
                sims, transport="rtu", serial=serial, wire_time=bool(baud)))
            ports.append(sim.port)
        print(json.dumps(ports), flush=True)
        await asyncio.Event().wait()


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(lines: int, units: int, seconds: float, interval: float, baud: int) -> None:
    from edge.config import DeviceConfig
    from edge.devices import DeviceSupervisor
    from edge.outbox import Outbox
    from harness.report import report
    from harness.stats import summarize

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one edge core
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", f"{lines},{units},{baud}",
        stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ports = json.loads(await proc.stdout.readline())
        configs = [DeviceConfig.model_validate({
            "id": f"l{line}u{u + 1}", "model": MODELS[u % 2], "transport": "rtu", "port": port,
            "unit_id": u + 1, "serial": {"baudrate": baud or 9600, "parity": "N", "stopbits": 1},
            "poll_interval_s": interval, "timeout_s": 0.3,
        }) for line, port in enumerate(ports) for u in range(units)]
        with tempfile.TemporaryDirectory() as tmp:
            outbox = Outbox(Path(tmp) / "outbox.db", site="bench", edge="bench")
            events = 0

            def emit(device: str, data: object) -> None:
                nonlocal events
                events += 1
                outbox.add_event(device, data)  # type: ignore[arg-type]

            async with DeviceSupervisor(configs, emit) as sup:
                await asyncio.sleep(min(5.0, seconds / 3))  # open the lines and settle
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
        count = lines * units
        line_s = f"{baud} baud 8N1 wire time" if baud else "pty, no wire time"
        print(f"{lines} lines x {units} units ({line_s}) at {interval:g} s, "
              f"measured over {wall:.1f} s")
        report(f"edge CPU, {lines}x{units} Modbus units on one core",
               f"{100 * cpu / wall:.1f} % of one core")
        print(f"simulator process CPU: {100 * sim_cpu / wall:.1f} % (not the edge's)")
        print(f"polls completed: {ok / wall:.1f}/s (due {count / interval:.1f}/s); "
              f"errors {errors}; events queued {events}")
        report(f"poll start lateness, {lines}x{units} units ({line_s})",
               summarize(lateness, "ms", 1000).text(1))
        report(f"poll latency, {lines}x{units} units ({line_s})",
               summarize(latency, "ms", 1000).text(1))
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--baud", type=int, default=0,
                        help="hold bytes for their time on a line at this baud (0: pty speed)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if args.serve:
        lines, units, baud = (int(x) for x in args.serve.split(","))
        asyncio.run(serve(lines, units, baud))
    else:
        asyncio.run(measure(args.lines, args.units, args.seconds, args.interval, args.baud))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
