"""Guard patrol end to end on real parts (Mosquitto, PostgreSQL, a libosdp reader and the edge
agent, the hub with its patrol sweep running): the guard's phone is `lintel sim patrol`'s
walker, a door checkpoint is read by the guard's card at the reader. A round completed with a
card read at a door in checkpoint mode (while the hub was down: the edge kept it); a skipped
checkpoint's alarm raised on time by the running hub; a round walked offline and synced after
its deadline (its missed alarms cleared). Stops of a few seconds (the API asks at least 30 s;
the registry is given them directly) keep the deadlines inside the test."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.api import create_user
from hub.models import AccessEvent
from hub.patrol.models import Checkpoint, Reading, Round
from hub.patrol.registry import Stop, add_checkpoint, add_guard_card, add_route
from hub.rules.models import Alarm, AlarmHistory
from hub.service import Hub
from simulators.patrol import walk
from tests.support.building import Building, broker, demo_building
from tests.support.services import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GUARD, PASSWORD, CARD = "wang", "guard password 1", "9001"


async def _patrol(hub: Hub) -> None:
    async with hub.sessions() as session, session.begin():
        await create_user(session, GUARD, PASSWORD, "guard", "demo")
        await add_guard_card(session, "demo", GUARD, CARD)
        for code in ("CP-A", "CP-B"):
            await add_checkpoint(session, "demo", code, f"Display {code}")
        await add_checkpoint(session, "demo", "CP-C", "Main door", name_zh="正门", kind="door",
                             door="B1-main")
        await add_route(session, "demo", "e2e", "Through the main door",
                        [Stop("CP-A", 60), Stop("CP-B", 60), Stop("CP-C", 60)])
        await add_route(session, "demo", "quick", "Quick", [Stop("CP-A", 3), Stop("CP-B", 3)])


@pytest.fixture
async def building(postgres_server: PostgresServer, tmp_path: Path) -> AsyncIterator[Building]:
    database_url = postgres_server.create_database(f"patrol_{secrets.token_hex(4)}")
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp_path, mqtt_port=mqtt_port, database_url=database_url, prepare=_patrol,
        rules_check_interval_s=0.2,  # the patrol sweep's interval too
    ) as b:
        yield b


async def _secrets(b: Building) -> dict[str, str]:
    async with b.hub.sessions() as session:
        return {c.code: c.secret for c in await session.scalars(select(Checkpoint))
                if c.secret is not None}


async def _until(what: str, check: Callable[[], Awaitable[object]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        await asyncio.sleep(0.1)


def _sync(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def wrapped() -> bool:
        return check()
    return wrapped


async def test_a_round_completed_by_phone_and_by_the_guards_card_at_a_door(
        building: Building, tmp_path: Path) -> None:
    b = building
    walked = await walk(b.hub.url, "demo", GUARD, PASSWORD, "e2e", await _secrets(b),
                        tmp_path / "phone.key", skip={"CP-C"})
    assert walked["state"] == "open" and len(walked["readings"]) == 2
    # CP-C: the guard's card at B1-main's reader (refused there) while the hub is down: the
    # edge keeps the event and the reading reaches the round when the hub is back
    await b.hub.__aexit__(None, None, None)
    door = b.agent.doors["B1-main"]
    denied = door.counters["denied"]
    b.sim.present_card(CARD)
    await _until("the edge decides the card", _sync(lambda: door.counters["denied"] > denied),
                 5.0)
    b.hub = Hub(b.settings)
    await b.hub.__aenter__()

    async def completed() -> bool:
        return (await b.call("GET", f"/patrol/rounds/{walked['id']}"))["state"] == "completed"
    await _until("the card's reading completes the round", completed, 5.0)
    async with b.hub.sessions() as session:
        card = await session.scalar(select(Reading).where(Reading.method == "card"))
        event = await session.scalar(select(AccessEvent).where(AccessEvent.credential == CARD))
    assert card is not None and event is not None
    assert (card.round_id, card.position, card.guard, card.id) == (walked["id"], 3, GUARD,
                                                                  event.id)
    assert event.result == "denied"  # the door stays shut: the reader only proves presence
    assert card.ts == event.ts and card.received_at > card.ts  # judged by when it was read
    doors = {c["code"]: c["door"] for c in (await b.call("GET", "/patrol/checkpoints"))["items"]}
    assert doors == {"CP-A": None, "CP-B": None, "CP-C": "B1-main"}


async def test_a_skipped_checkpoint_alarms_on_time_and_an_offline_round_syncs_later(
        building: Building, tmp_path: Path) -> None:
    b, displays, key = building, await _secrets(building), tmp_path / "phone.key"
    skipped = await walk(b.hub.url, "demo", GUARD, PASSWORD, "quick", displays, key,
                         skip={"CP-B"})
    deadline = datetime.fromisoformat(skipped["deadline"])

    async def missed() -> Alarm | None:
        async with b.hub.sessions() as session:
            return await session.scalar(select(Alarm).where(
                Alarm.type == "patrol_missed",
                Alarm.dedup_key == f"patrol:{skipped['id']}:2:missed"))
    await _until("CP-B's missed alarm", missed, 10.0)
    alarm = await missed()
    assert alarm is not None and "CP-B" in (alarm.message or "")
    late_by = (alarm.raised_at - deadline).total_seconds()
    assert 0 <= late_by < 1.5, f"raised {late_by:.2f} s after the deadline"

    # offline: both read on the walk (the second after the deadline), sent at the end
    synced = await walk(b.hub.url, "demo", GUARD, PASSWORD, "quick", displays, key,
                        pace_s=4.5, offline=True)
    assert synced["state"] == "completed"
    assert [(r["position"], r["late"]) for r in synced["readings"]] == [(1, True), (2, True)]
    async with b.hub.sessions() as session:
        alarms = list(await session.scalars(select(Alarm).where(
            Alarm.dedup_key.like(f"patrol:{synced['id']}:%:missed"))))
        notes = set(await session.scalars(select(AlarmHistory.note_code).where(
            AlarmHistory.alarm_id.in_([a.id for a in alarms]),
            AlarmHistory.action == "cleared")))
        round_ = await session.get(Round, synced["id"])
    # the sweep counted both missed at the deadline; the late sync cleared them
    assert len(alarms) == 2 and all(a.cleared_at is not None for a in alarms)
    assert notes == {"alarm_note.patrol_synced"}
    assert round_ is not None and round_.finished_at is not None
