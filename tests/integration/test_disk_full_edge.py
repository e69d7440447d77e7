"""The edge's disk nearly full, then full: an alarm reaches the hub, the door keeps deciding,
and the events the full disk held in memory arrive, in order, once it can write again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.models import EventLog
from tests.support import disk
from tests.support.building import Building, broker, demo_building
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def agent_events(b: Building, event: str) -> list[dict[str, Any]]:
    async with b.hub.sessions() as db:
        rows = await db.scalars(
            select(EventLog).where(EventLog.kind == "agent").order_by(EventLog.seq))
        return [r.data for r in rows if r.data["event"] == event]


async def test_disk_low_alarm_and_doors_go_on_when_the_outbox_cannot_write(
    tmp_path: Path,
) -> None:
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp_path, mqtt_port=mqtt_port, database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        edge_settings={"disk_check_s": 0.1, "disk_low_mb": 100},
    ) as b:
        agent = b.agent
        # nearly full: 40 MB free under the data folder, the alarm is below 100 MB
        agent.disk.free = lambda _: 40_000_000
        low = await until(lambda: agent_events(b, "disk_low"), "no disk_low at the hub", timeout=5)
        assert "40 MB free" in low[0]["detail"] and "below 100 MB" in low[0]["detail"]

        # full: the outbox cannot write any more (filled once nothing is left to send, as a
        # sent event's row, deleted, would leave room); a card is still decided, the door opens
        await until(lambda: _async(len(agent.outbox) == 0), "the outbox never emptied", timeout=5)
        disk.fill(agent.outbox._db)
        b.sim.present_card("1001")
        assert await asyncio.to_thread(b.sim.wait_relay, True, 10.0) is not None
        b.sim.present_card("9999")
        await until(lambda: _async(agent.doors["B1-main"].counters["denied"] == 1),
                    "the unknown card was not decided",
                    timeout=3)
        assert agent.outbox.held >= 2
        assert not [e for e in await b.events() if e["credential"] in ("1001", "9999")]

        # room again: the held events are stored, sent and stored at the hub, in order
        disk.free(agent.outbox._db)
        agent.disk.free = lambda _: 500_000_000
        stored = await until(lambda: _swipes(b), "the held swipes never arrived", timeout=10)
        assert [(e["credential"], e["result"]) for e in stored] == [
            ("9999", "denied"), ("1001", "granted")]  # newest first
        assert agent.outbox.held == 0 and agent.outbox.lost == 0
        held = await until(lambda: _held_alarm(b), "no alarm about the held events", timeout=5)
        assert "the outbox cannot write" in held["detail"]
        assert await until(lambda: agent_events(b, "disk_ok"), "no disk_ok at the hub", timeout=5)


async def _async(value: Any) -> Any:
    return value


async def _swipes(b: Building) -> list[dict[str, Any]]:
    found = [e for e in await b.events() if e["credential"] in ("1001", "9999")]
    return found if len(found) == 2 else []


async def _held_alarm(b: Building) -> dict[str, Any] | None:
    found = [e for e in await agent_events(b, "disk_low") if "cannot write" in e["detail"]]
    return found[0] if found else None
