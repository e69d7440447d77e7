"""Readers commissioned and heard in full, on real parts (Mosquitto, the hub on PostgreSQL,
the edge agent, libosdp door simulators): a factory reader taken from install mode to a key of
its own through the API (the hub keeps it sealed and can open it), card + PIN and the duress
PIN decided at the edge with the hub down, and the duress and the tamper alarms raised when
the events reach the hub."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import select

from hub.credentials.keys import seed_b64
from hub.models import Resident
from hub.readers.keys import reader_key
from hub.service import Hub
from tests.support.building import Building, broker, demo_building
from tests.support.services import PostgresServer
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]
HUB_KEY = Ed25519PrivateKey.generate()


@pytest.fixture
async def b(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Building]:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    database_url = server.create_database(f"readers_{secrets.token_hex(4)}")
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp_path, mqtt_port=mqtt_port, database_url=database_url,
        doors=(("B1-main", 101), ("B1-garage", 102)),
        signing_key=SecretStr(seed_b64(HUB_KEY)),
    ) as building:
        yield building


async def door_id(b: Building, name: str) -> int:
    doors = (await b.call("GET", "/doors"))["items"]
    return int(next(d["id"] for d in doors if d["name"] == name))


async def alarms(b: Building, kind: str) -> list[dict[str, Any]]:
    return (await b.call("GET", f"/alarms?type={kind}&limit=50"))["items"]  # type: ignore[no-any-return]


async def test_a_factory_reader_is_given_its_own_key_through_the_api(b: Building) -> None:
    garage = b.sims["B1-garage"]
    garage.swap(None)  # a new reader from the factory, in install mode
    await until(lambda: alarms(b, "reader_insecure"), "the reader_insecure alarm")
    assert not b.agent.doors["B1-garage"].online

    garage_id = await door_id(b, "B1-garage")
    assert not (await b.call("GET", f"/doors/{garage_id}"))["reader_commissioned"]
    command = await b.call("POST", f"/doors/{garage_id}/install", {"minutes": 5}, status=202)
    assert command["command"] == "reader_install"

    async def opened() -> bytes | None:
        async with b.hub.sessions() as session:
            return await reader_key(session, "demo", "b1-edge", "B1-garage", [HUB_KEY])

    key = await until(opened, "the reader's key at the hub")
    assert key == garage.scbk  # the hub holds the very key the reader now uses
    await until(lambda: b.agent.doors["B1-garage"].online, "the reader online")
    await until(lambda: _cleared(b), "reader_insecure cleared by reader_keyed")
    door = await b.call("GET", f"/doors/{garage_id}")  # what the installer's page shows
    assert door["reader_commissioned"] and door["reader_keyed_at"] is not None


async def _cleared(b: Building) -> bool:
    return all(a["state"] == "cleared" for a in await alarms(b, "reader_insecure"))


async def test_card_and_pin_with_the_hub_down_and_duress_raises_a_silent_alarm(
        b: Building) -> None:
    main = b.sim
    async with b.hub.sessions() as session:
        zhang = await session.scalar(select(Resident.id).where(Resident.name == "张伟"))
    await b.call("POST", f"/residents/{zhang}/pin", {"pin": "2580", "duress_pin": "2581"})
    held = b.agent.cache.hash
    await b.call("PATCH", f"/doors/{await door_id(b, 'B1-main')}", {"pin_required": True})
    await b.wait_perm_change(held, 15)
    await until(lambda: b.agent.cache.state is not None and b.agent.cache.state.pins,
                "the PINs at the edge")

    await b.hub.__aexit__(None, None, None)  # the hub is down: the edge decides alone
    try:
        door = b.agent.doors["B1-main"]
        main.present_card("1001")
        await until(lambda: door.keypad.waiting is not None, "the keypad waiting")
        assert not main.relay  # the card alone does not open a card + PIN door
        main.press_keys("2580#")
        assert await asyncio.to_thread(main.wait_relay, True, 10.0) is not None
        await asyncio.to_thread(main.wait_relay, False, 15)
        main.present_card("1001")
        await until(lambda: door.keypad.waiting is not None, "the keypad waiting")
        main.press_keys("2581#")  # under duress: opens like the PIN
        assert await asyncio.to_thread(main.wait_relay, True, 10.0) is not None
        # the reader shows what any grant shows (the relay goes first, the LED just after)
        await until(lambda: main.last_led is not None and main.last_led["color"] == "green",
                    "the green LED")
        main.set_tamper(True)
        await asyncio.sleep(0.3)
    finally:
        b.hub = Hub(b.settings, clock=b.hub.clock)
        await b.hub.__aenter__()

    duress = await until(lambda: alarms(b, "duress"), "the duress alarm", timeout=20)
    assert duress[0]["severity"] == "critical" and "B1-main" in duress[0]["message"]
    await until(lambda: alarms(b, "reader_tamper"), "the tamper alarm", timeout=20)
    granted = [e for e in await b.events(door="B1-main") if e["credential"] == "1001"]
    assert [e["result"] for e in granted] == ["granted", "granted"]
