"""Vehicle lanes end to end: a simulated Vzenith camera pushes plates to the edge agent's lane
server; the edge decides from the vehicle permissions in the hub's signed snapshot; the events
cross Mosquitto to the hub, which records who is inside, counts visitor-car pass uses and
raises the blocked-plate alarm."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from harness.services import free_port
from hub.models import Household, utcnow
from hub.service import Hub
from hub.vehicles.models import BlockedPlate, Vehicle, VehiclePassRow, VehicleStay
from simulators.lpr import push_plate
from tests.support.building import Building, demo_building
from tests.support.services import MosquittoServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]
SECRET = "gate-camera-secret"
LANES = [{"id": "gate-in", "direction": "entry",
          "camera_secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest()},
         {"id": "gate-out", "direction": "exit",
          "camera_secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest()}]


async def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        await asyncio.sleep(0.05)


async def registry(hub: Hub) -> None:
    async with hub.sessions() as session, session.begin():
        household = (await session.scalars(select(Household).order_by(Household.id))).first()
        assert household is not None
        now = utcnow()
        session.add_all([
            Vehicle(site_id="demo", household_id=household.id, plate="粤B12345"),
            VehiclePassRow(site_id="demo", household_id=household.id, plate="粤B66666",
                           valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=3),
                           max_uses=1),
            BlockedPlate(site_id="demo", plate="粤B99999", reason="stolen"),
        ])


async def push(b: Building, lane: str, plate: str, confidence: float = 0.95) -> bool:
    url = f"http://127.0.0.1:{b.agent.config.lanes_port}/lpr/{lane}"
    got = await asyncio.to_thread(push_plate, url, plate, secret=SECRET, confidence=confidence)
    assert got.status == 200, got
    return got.opened


async def stays(b: Building) -> list[VehicleStay]:
    async with b.hub.sessions() as session:
        return list(await session.scalars(select(VehicleStay).order_by(VehicleStay.entered_at)))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    return str(request.getfixturevalue("postgres_url"))


async def test_resident_visitor_blocked_and_misread(tmp_path: Path, mosquitto: MosquittoServer,
                                                   database_url: str) -> None:
    async with demo_building(
            tmp_path, mqtt_port=mosquitto.port, database_url=database_url, prepare=registry,
            ready=lambda agent: len(agent.vehicles.decider.cache) == 3,
            edge_settings={"lanes": LANES, "lanes_host": "127.0.0.1",
                           "lanes_port": free_port()}) as b:
        assert await push(b, "gate-in", "粤B12345")  # resident
        assert await push(b, "gate-in", "粤B66666")  # visitor with a pass
        assert await push(b, "gate-out", "粤B66666")
        assert not await push(b, "gate-in", "粤B99999")  # blocked
        assert await push(b, "gate-out", "粤812345", confidence=0.9)  # B read as 8: near miss

        async def pass_counted() -> bool:
            async with b.hub.sessions() as session:
                row = await session.scalar(select(VehiclePassRow))
                return row is not None and row.uses == 1
        await until(pass_counted, what="the pass's use counted at the hub")

        async def all_left() -> list[VehicleStay] | None:
            rows = await stays(b)
            return rows if len(rows) == 2 and all(r.left_at for r in rows) else None
        rows = await until(all_left, what="both stays ended")
        assert [(r.plate, r.reason) for r in rows] == [("粤B12345", "resident"),
                                                       ("粤B66666", "visitor_pass")]

        async def blocked_alarm() -> dict[str, Any] | None:
            items = (await b.call("GET", "/alarms?type=vehicle_blocked"))["items"]
            return items[0] if items else None
        alarm = await until(blocked_alarm, what="the blocked-plate alarm")
        assert "粤B99999" in str(alarm)
        # a second visit on the one-use pass is a temporary vehicle now (the site's default
        # lets it in, recorded as such)
        await push(b, "gate-in", "粤B66666")
        async def temporary() -> bool:
            return any(r.reason == "pass_used_up" for r in await stays(b))
        await until(temporary, what="the temporary stay")

        # the hub goes down: the lane still decides from its cache, and the hub hears of it
        # (who is inside) once it is back
        await b.hub.__aexit__(None, None, None)
        assert await push(b, "gate-in", "粤B12345")
        b.hub = Hub(b.settings, clock=b.hub.clock)
        await b.hub.__aenter__()

        async def inside() -> list[dict[str, Any]] | None:
            items = (await b.call("GET", "/vehicles/inside?site_id=demo"))["items"]
            return items if any(i["plate"] == "粤B12345" for i in items) else None
        items = await until(inside, timeout=20, what="the resident inside, reported late")
        assert {i["plate"]: i["reason"] for i in items}["粤B12345"] == "resident"
