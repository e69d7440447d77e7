"""A guard's manual open of a lane whose barrier is the plate camera's own relay: the time from
the edge taking the `lane_open` command to the camera's relay pulse, over real HTTP on
loopback with the edge's lane server and a simulated Vzenith camera on comet polling
(simulators/lpr_camera.py).

1. The edge holds each heartbeat up to `comet_hold_s` and answers it the moment a guard opens.
2. No hold: the open waits for the camera's next heartbeat (every `--heartbeat` s).
Before the heartbeat answer, the only way was the camera's next plate push (up to 60 s).

    .venv/bin/python bench/lane_guard_open.py [--opens N] [--heartbeat S]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from edge.outbox import Outbox
from edge.vehicles import LaneServer, VehicleLanes
from harness.report import report
from harness.stats import summarize
from simulators.lpr_camera import PlateCamera
from wire.vehicles import CameraRelayBarrier, LaneConfig

SECRET = "bench-secret"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()


async def measure(hold_s: float, opens: int, heartbeat_s: float, gap_s: float) -> list[float]:
    lane = LaneConfig(id="gate-in", direction="entry", camera_secret_sha256=DIGEST,
                      barrier=CameraRelayBarrier(comet_hold_s=hold_s))
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "outbox.db", site="bench", edge="gate")
        vehicles = VehicleLanes(outbox.add_event)
        await vehicles.set_lanes([lane])
        times: list[float] = []
        async with LaneServer([lane], vehicles.on_reading, vehicles.on_refused,
                              host="127.0.0.1", port=0,
                              on_heartbeat=vehicles.on_heartbeat) as server, \
                PlateCamera(f"http://127.0.0.1:{server.port}", "gate-in", secret=SECRET,
                            heartbeat_s=heartbeat_s) as camera:
            await asyncio.sleep(heartbeat_s + 0.1)
            for _ in range(opens):
                await asyncio.sleep(gap_s + rng.uniform(0, heartbeat_s))
                pulse = asyncio.ensure_future(camera.next_pulse(heartbeat_s + 10))
                await asyncio.sleep(0)
                start = time.monotonic()
                vehicles.guard_open("gate-in", None, "bench", "bench")
                times.append(await pulse - start)
            await vehicles.close()
        outbox.close()
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--opens", type=int, default=200)
    parser.add_argument("--heartbeat", type=float, default=1.0,
                        help="the camera's pause between heartbeats, seconds")
    args = parser.parse_args()
    held = await measure(10.0, args.opens, args.heartbeat, args.heartbeat + 0.05)
    report(f"guard open -> camera relay, heartbeat held (comet_hold_s 10, camera pauses "
           f"{args.heartbeat:g} s between heartbeats), opens {args.heartbeat:g} s+ apart",
           summarize(held, "ms", 1000).text(1))
    unheld = await measure(0.0, max(20, args.opens // 5), args.heartbeat, 0.0)
    report(f"guard open -> camera relay, no hold (heartbeat every {args.heartbeat:g} s), "
           f"opens at random moments", summarize(unheld, "ms", 1000).text(1))


if __name__ == "__main__":
    asyncio.run(main())
