"""Access groups beyond the first door, on real parts: holidays, anti-passback and a door
unlocked on schedule, set through the API, compiled by the hub, published over Mosquitto and
decided by the edge agent at two libosdp door simulators, on SQLite and on PostgreSQL. The
edge's wall clock is controlled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from edge.agent import EdgeAgent
from hub.service import Hub
from simulators.osdp_door import OsdpDoorSimulator
from tests.support.building import broker, demo_building

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Rig:
    hub: Hub
    agent: EdgeAgent
    main: OsdpDoorSimulator  # entry
    garage: OsdpDoorSimulator  # exit
    http: aiohttp.ClientSession
    now: list[datetime]  # the edge's wall clock

    async def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.http.request(method, f"{self.hub.url}/api/v1{path}", json=body) as resp:
            payload = await resp.json() if resp.status != 204 else None
            assert resp.status == status, (resp.status, payload)
            return payload

    async def change(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        """An API write, then wait until the edge holds the snapshot it led to."""
        old = self.agent.cache.hash
        answer = await self.call(method, path, body, status)
        deadline = time.monotonic() + 20
        while self.agent.cache.hash == old:
            assert time.monotonic() < deadline, f"{method} {path} never reached the edge"
            await asyncio.sleep(0.02)
        return answer

    async def swipe(self, sim: OsdpDoorSimulator, card: str) -> tuple[str, str]:
        """Present `card` and return (result, reason) of the access event the hub stored."""
        door = sim.name
        before = len(await self._events(door))
        sim.present_card(card)
        deadline = time.monotonic() + 20
        while True:
            items = await self._events(door)
            if len(items) > before:
                return items[0]["result"], items[0]["reason"]
            assert time.monotonic() < deadline, f"no access event at {door}"
            await asyncio.sleep(0.03)

    async def _events(self, door: str) -> list[dict[str, Any]]:
        page = await self.call("GET", f"/access-events?door={door}&limit=500")
        return list(page["items"])


@pytest.fixture(params=["sqlite", "postgresql"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp_path, mqtt_port=mqtt_port, database_url=database_url, unlock_s=0.5,
        doors=(("B1-main", 101), ("B1-garage", 102)),
    ) as building:
        now = [datetime(2026, 11, 23, 2, 0, tzinfo=UTC)]  # a Monday, 10:00 in Shanghai
        building.agent.clock = lambda: now[0]
        yield Rig(building.hub, building.agent, building.sims["B1-main"],
                  building.sims["B1-garage"], building.http, now)


async def test_anti_passback_and_holidays_at_the_door(rig: Rig) -> None:
    groups = (await rig.call("GET", "/access-groups?site_id=demo"))["items"]
    group = next(g for g in groups if g["name"] == "1号楼大门")
    await rig.change("PATCH", f"/access-groups/{group['id']}", {"doors": ["B1-main", "B1-garage"]})
    pair = await rig.change("POST", "/anti-passback", {
        "site_id": "demo", "name": "lobby", "entry_door": "B1-main", "exit_door": "B1-garage",
        "mode": "hard", "reset_s": 3600}, status=201)
    assert (pair["entry_door"], pair["exit_door"]) == ("B1-main", "B1-garage")

    assert await rig.swipe(rig.main, "1001") == ("granted", "granted")
    assert await rig.swipe(rig.main, "1001") == ("denied", "anti_passback")  # entered twice
    assert rig.agent.doors["B1-main"].counters == {"granted": 1, "denied": 1}
    assert await rig.swipe(rig.garage, "1001") == ("granted", "granted")  # out
    assert await rig.swipe(rig.garage, "1001") == ("denied", "anti_passback")  # out twice
    assert await rig.swipe(rig.main, "1001") == ("granted", "granted")  # in again
    rig.now[0] += timedelta(seconds=3600)  # the direction is forgotten after reset_s
    assert await rig.swipe(rig.main, "1001") == ("granted", "granted")

    # soft mode lets the second entry through (the event carries the warning)
    await rig.change("PATCH", f"/anti-passback/{pair['id']}", {"mode": "soft"})
    assert await rig.swipe(rig.main, "1001") == ("granted", "granted")

    # today becomes a holiday and the group is closed on holidays
    today = rig.now[0].astimezone(SHANGHAI).date().isoformat()
    await rig.change("POST", "/holidays", {"site_id": "demo", "day": today, "name": "test"},
                     status=201)
    assert await rig.swipe(rig.garage, "1001") == ("granted", "granted")  # normal: as usual
    await rig.change("PATCH", f"/access-groups/{group['id']}", {"holiday_mode": "closed"})
    assert await rig.swipe(rig.main, "1001") == ("denied", "holiday")
    rig.now[0] += timedelta(days=1)  # tomorrow is an ordinary Tuesday
    assert await rig.swipe(rig.main, "1001") == ("granted", "granted")


async def test_door_unlocked_on_schedule_by_the_edge(rig: Rig) -> None:
    schedule = await rig.call("POST", "/schedules", {
        "site_id": "demo", "name": "office",
        "windows": [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}]}, status=201)
    doors = {d["name"]: d for d in (await rig.call("GET", "/doors?site_id=demo"))["items"]}
    garage = doors["B1-garage"]
    bad = await rig.call("PATCH", f"/doors/{garage['id']}", {"mode": "unlocked_on_schedule"},
                         status=422)
    assert bad["detail"][0]["field"] == "unlock_schedule_id"
    assert rig.garage.relay is False
    door = await rig.change("PATCH", f"/doors/{garage['id']}", {
        "mode": "unlocked_on_schedule", "unlock_schedule_id": schedule["id"]})
    assert door["mode"] == "unlocked_on_schedule"
    # Monday 10:00 local: inside the window, the edge releases the lock by itself
    assert await asyncio.to_thread(rig.garage.wait_relay, True, 10.0) is not None
    await asyncio.sleep(1.0)  # longer than a grant pulse: the schedule holds it
    assert rig.garage.relay is True
    rig.now[0] = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # 18:30 local: window closed
    assert await asyncio.to_thread(rig.garage.wait_relay, False, 10.0) is not None
    rig.now[0] = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 09:00 local
    assert await asyncio.to_thread(rig.garage.wait_relay, True, 10.0) is not None
    # back to normal: the edge relocks, and a card is needed again
    await rig.change("PATCH", f"/doors/{garage['id']}", {"mode": "normal"})
    assert await asyncio.to_thread(rig.garage.wait_relay, False, 10.0) is not None
    assert rig.main.relay is False  # the other door was never touched
