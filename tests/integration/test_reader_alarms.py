"""A reader offline at the edge is an alarm at the hub within 30 s; a reader that offers
OSDP's default key (or fails the secure channel) raises its own `reader_insecure` alarm,
naming the door and the reader's address, instead of a plain offline."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from edge.drivers.osdp.bus import DEFAULT_SCBK
from hub.texts import render
from tests.support.building import Building, demo_building
from tests.support.services import MosquittoServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def open_alarm(b: Building, alarm_type: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = (await b.call("GET", f"/alarms?type={alarm_type}&state=active"))["items"]
        if items:
            return items[0]  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {alarm_type} alarm within {timeout} s")


async def test_reader_offline_then_swapped_for_one_with_the_default_key(
        tmp_path: Path, mosquitto: MosquittoServer) -> None:
    async with demo_building(tmp_path, mqtt_port=mosquitto.port,
                             database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db") as b:
        sim = b.sim
        started = time.monotonic()
        sim.stop()  # unplugged
        offline = await open_alarm(b, "device_offline", 30)
        assert time.monotonic() - started <= 30
        assert offline["door"] == "B1-main" and offline["door_id"] is not None
        assert offline["message"] == "Reader of door B1-main (OSDP address 101) offline"
        assert "OSDP 地址 101" in render(offline["message_code"], offline["message_params"], "zh")

        sim.swap(DEFAULT_SCBK)  # a reader on the default key where B1-main's was
        insecure = await open_alarm(b, "reader_insecure", 60)
        assert insecure["severity"] == "critical" and insecure["door"] == "B1-main"
        assert "default key" in insecure["message"] and "OSDP address 101" in insecure["message"]
        assert "默认密钥" in render(insecure["message_code"], insecure["message_params"], "zh")
        assert not b.agent.doors["B1-main"].online  # never used with that key
