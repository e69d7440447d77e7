"""Revocation to door: a card revoked through the API, until the door refuses it.

Real hub (SQLite) + Mosquitto + edge agent + OSDP door simulator. For each of N cards: PATCH
the card to revoked, then time until the edge's decision for it is `revoked` (the cache swap is
what the door reads), and confirm with a real swipe at the simulator that the relay stays shut.
`--bulk` adds that many other credentials to the same edge, to measure with a large snapshot.

    .venv/bin/python bench/revocation_to_door.py [--revocations 50] [--bulk 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.agent import EdgeAgent  # noqa: E402
from edge.config import EdgeConfig  # noqa: E402
from hub.models import CardCredential, Resident, resident_groups  # noqa: E402
from hub.seed import seed_demo  # noqa: E402
from hub.service import Hub  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from simulators.osdp_door import OsdpDoorSimulator  # noqa: E402
from tests.support.downlink import HUB_KEYS, TEST_HUB_SEED  # noqa: E402
from tests.support.services import MosquittoServer, free_port  # noqa: E402

PASSWORD = "bench password 1234"


async def bulk_cards(hub: Hub, group_id: int, count: int) -> None:
    async with hub.sessions() as s, s.begin():
        for start in range(0, count, 20_000):
            ids = range(1_000_000 + start, 1_000_000 + min(count, start + 20_000))
            await s.execute(insert(Resident), [{"id": i, "site_id": "demo", "name": f"b{i}"}
                                               for i in ids])
            await s.execute(insert(resident_groups), [{"resident_id": i, "group_id": group_id}
                                                      for i in ids])
            await s.execute(insert(CardCredential), [
                {"site_id": "demo", "resident_id": i, "card_number": str(50_000_000 + i)}
                for i in ids])


async def run(revocations: int, bulk: int) -> None:
    broker = MosquittoServer()
    broker.start()
    tmp = Path(tempfile.mkdtemp())
    settings = HubSettings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'hub.db'}", mqtt_host="127.0.0.1",
        mqtt_port=broker.port, mqtt_client_id="bench-hub", mqtt_shared_group="hub",
        http_host="127.0.0.1", http_port=free_port(), admin_username="admin",
        admin_password=PASSWORD, data_dir=tmp, publish_debounce_s=0.05, signing_key=TEST_HUB_SEED,
    )
    key = secrets.token_bytes(16)
    sim = OsdpDoorSimulator(address=101, scbk=key, name="B1-main")
    sim.start()
    try:
        async with Hub(settings) as hub, aiohttp.ClientSession() as http:
            await seed_demo(hub.sessions)
            api = f"{hub.url}/api/v1"
            async with http.post(f"{api}/auth/login",
                                 json={"username": "admin", "password": PASSWORD}) as r:
                http.headers["Authorization"] = f"Bearer {(await r.json())['token']}"
            async with http.get(f"{api}/access-groups") as r:
                group = (await r.json())["items"][0]["id"]
            if bulk:
                await bulk_cards(hub, group, bulk)
            async with http.post(f"{api}/residents", json={
                    "site_id": "demo", "name": "bench", "groups": [group]}) as r:
                resident = (await r.json())["id"]
            cards = []
            for i in range(revocations):
                async with http.post(f"{api}/cards", json={
                        "resident_id": resident, "card_number": str(7_000_000 + i)}) as r:
                    cards.append((await r.json())["id"])
            await hub.publisher.publish_site("demo", force=True)
            config = EdgeConfig.model_validate({
                "site": "demo", "edge": "b1-edge", "data_dir": str(tmp / "edge"),
                "mqtt": {"port": broker.port, "username": "b1-edge"}, "hub_keys": HUB_KEYS,
                "doors": [{"id": "B1-main", "unlock_s": 0.3,
                           "reader": {"port": sim.port, "address": 101, "scbk": key.hex()}}],
            })
            async with EdgeAgent(config) as agent:
                deadline = time.monotonic() + 60
                while not (sim.online and agent.cache.lookup_card(str(7_000_000 + revocations - 1))):
                    assert time.monotonic() < deadline, "edge never got the snapshot"
                    await asyncio.sleep(0.05)
                took: list[float] = []
                for i, card_id in enumerate(cards):
                    number = str(7_000_000 + i)
                    started = time.monotonic()
                    async with http.patch(f"{api}/cards/{card_id}", json={"status": "revoked"}) as r:
                        assert r.status == 200
                    while agent.decider.decide_card(
                            "B1-main", number, datetime.now(UTC)).reason != "revoked":
                        assert time.monotonic() - started < 30, "revocation never arrived"
                        await asyncio.sleep(0.005)
                    took.append(time.monotonic() - started)
                    denied = agent.doors["B1-main"].counters["denied"]
                    sim.present_card(number)  # and the real door refuses it
                    while agent.doors["B1-main"].counters["denied"] == denied:
                        await asyncio.sleep(0.005)
                    assert sim.relay is False
                took.sort()
                p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
                print(f"snapshot of {bulk + revocations + 1} credentials, {len(took)} revocations: "
                      f"API call to refused at the door p50 {statistics.median(took):.3f} s, "
                      f"p99 {p99:.3f} s, max {took[-1]:.3f} s")
    finally:
        sim.stop()
        broker.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revocations", type=int, default=50)
    parser.add_argument("--bulk", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(run(args.revocations, args.bulk))


if __name__ == "__main__":
    main()
