"""Visitor pass revocation to refusal, through the real stack: the API revokes a pass, the hub
(a process of its own) recompiles and publishes (Mosquitto), the edge applies the snapshot, and the pass's QR code,
scanned again and again at the libosdp reader (each scan as soon as the last was answered), is
refused at the door (the reader's LED turns red). The clock runs from the API call to that
refusal reaching the door. Also QR-scan-to-relay for a good pass. The hub runs with its default
settings (publish debounce 0.2 s) unless `--debounce` says otherwise, and the output says so.
The target for a revocation is p99 <= 2 s.

    .venv/bin/python bench/pass_revocation.py [-n 20] [--debounce 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.revocation_to_door import debounce_label, hub_settings, login
from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from harness.door import swipe, swipe_until
from harness.downlink import HUB_KEYS
from harness.hub_process import HubProcess
from harness.report import report
from harness.services import MosquittoServer
from harness.stats import summarize
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from simulators.osdp_door import OsdpDoorSimulator


async def run(n: int, tmp: Path, debounce: float | None) -> None:
    broker = MosquittoServer()
    broker.start()
    sim = OsdpDoorSimulator(address=101, scbk=(key := secrets.token_bytes(16)), name="B1-main")
    sim.start()
    try:
        settings = hub_settings(tmp, broker.port, debounce)
        config = EdgeConfig.model_validate({
            "site": "demo", "edge": "b1-edge", "data_dir": str(tmp / "edge"),
            "mqtt": {"port": broker.port, "username": "b1-edge"}, "hub_keys": HUB_KEYS,
            "doors": [{"id": "B1-main", "unlock_s": 0.2,
                       "reader": {"port": sim.port, "address": 101, "scbk": key.hex()}}],
        })
        async with Hub(HubSettings(**settings)) as setup:  # type: ignore[arg-type]
            await seed_demo(setup.sessions)
            await setup.publisher.publish_site("demo")
        # The hub in a process of its own, the edge and the door here: as deployed.
        with HubProcess(settings) as hub:
            async with EdgeAgent(config), aiohttp.ClientSession() as http:
                await measure(await login(http, hub.url), sim, http, n, debounce)
    finally:
        sim.close()
        broker.cleanup()


async def measure(api: str, sim: OsdpDoorSimulator, http: aiohttp.ClientSession, n: int,
                  debounce: float | None) -> None:
    deadline = time.monotonic() + 60
    while not sim.online:
        assert time.monotonic() < deadline, "the door never came online"
        await asyncio.sleep(0.05)
    now = datetime.now(UTC)
    body = {"visitor_name": "bench", "visitor_phone": "13900000000", "unit_id": 1,
            "doors": ["B1-main"], "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(hours=1)).isoformat(), "max_uses": 100}
    passes = []
    for _ in range(n):
        async with http.post(f"{api}/visitor-passes", json=body) as resp:
            passes.append(await resp.json())
    # every pass has reached the edge once the last one opens the door
    await swipe_until(sim, lambda: sim.present_qr(passes[-1]["token"]), granted=True, timeout=60)

    scan_to_relay = []
    for p in passes:
        await asyncio.to_thread(sim.wait_relay, False, 2.0)
        # the relay comes first, then the LED: wait for both before the next scan
        answer = await swipe(sim, lambda token=p["token"]: sim.present_qr(token))
        on_at = await asyncio.to_thread(sim.wait_relay, True, 2.0)
        assert answer.granted and on_at is not None, "a good pass did not open the door"
        scan_to_relay.append(on_at - answer.presented_at)

    revoke_to_refusal = []
    granted_after = []
    for p in passes:
        first = await swipe(sim, lambda token=p["token"]: sim.present_qr(token))
        assert first.granted, f"pass {p['id']} refused before its revocation"
        started = time.monotonic()
        async with http.post(f"{api}/visitor-passes/{p['id']}/revoke") as resp:
            assert resp.status == 200, await resp.text()
        refused, before = await swipe_until(
            sim, lambda token=p["token"]: sim.present_qr(token), granted=False, timeout=10)
        revoke_to_refusal.append(refused.answered_at - started)
        granted_after.append(len(before))
    report("visitor pass: QR scan to relay (OSDP)", summarize(scan_to_relay, "ms", 1000).text(0))
    report(f"visitor pass: revoked through the API to a scan refused at the door, "
           f"{debounce_label(debounce)}", summarize(revoke_to_refusal, "ms", 1000).text(0))
    print(f"  scans still granted after the API call: "
          f"{sum(granted_after) / len(granted_after):.1f} on average")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20, help="passes (each scanned, then revoked)")
    parser.add_argument("--debounce", type=float, default=None,
                        help="the hub's publish debounce in seconds (default: the hub's own)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.n, Path(tmp), args.debounce))


if __name__ == "__main__":
    main()
