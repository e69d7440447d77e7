"""The OSDP door simulator and its HTTP control server, driven through a real OSDP bus."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from edge.drivers.osdp import (
    CardRead,
    InputChanged,
    KeyPress,
    OsdpBus,
    ReaderConfig,
    ReaderLocalStatus,
)
from simulators.control import (
    ControlError,
    create_control_app,
    keys,
    power,
    swipe,
    tamper,
    wiegand,
)
from simulators.osdp_door import OsdpDoorSimulator, encode_card, encode_wiegand
from simulators.serve import DoorSpec

ADDRESS = 101


@pytest.mark.parametrize(
    ("card", "data", "bits"),
    [("1001", b"\x03\xe9", 16), ("0", b"\x00\x00", 16), ("16777216", b"\x01\x00\x00\x00", 32)],
)
def test_encode_card(card: str, data: bytes, bits: int) -> None:
    assert encode_card(card) == (data, bits)


def test_encode_card_refuses_non_digits() -> None:
    with pytest.raises(ValueError, match="decimal"):
        encode_card("12a")


def test_present_card_while_stopped_says_so() -> None:
    sim = OsdpDoorSimulator(scbk=bytes(16), name="side")
    try:
        with pytest.raises(RuntimeError, match=r"side.*not running"):
            sim.present_card("1")
    finally:
        sim.close()


@pytest.fixture
def scbk() -> bytes:
    return os.urandom(16)


@pytest.fixture
def door(scbk: bytes) -> Iterator[OsdpDoorSimulator]:
    with OsdpDoorSimulator(address=ADDRESS, scbk=scbk, name="lobby") as sim:
        yield sim


@pytest.fixture
async def bus(door: OsdpDoorSimulator, scbk: bytes) -> AsyncIterator[OsdpBus]:
    async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=scbk)]) as b:
        async with asyncio.timeout(15):
            while not b.is_online(ADDRESS):
                await b.next_event()
        yield b


@pytest.fixture
async def client(door: OsdpDoorSimulator) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_control_app({"lobby": door}))) as c:
        yield c


async def next_card(bus: OsdpBus) -> CardRead:
    async with asyncio.timeout(15):
        while not isinstance(event := await bus.next_event(), CardRead):
            pass
        return event


@pytest.mark.integration
class TestSimulator:
    async def test_online_only_with_a_panel(self, door: OsdpDoorSimulator, bus: OsdpBus) -> None:
        assert door.online

    async def test_async_with(self, scbk: bytes) -> None:
        async with OsdpDoorSimulator(scbk=scbk) as sim:
            assert os.path.exists(sim.port)
            assert not sim.online  # nobody on the other end
            assert not sim.relay
        assert not sim.online

    async def test_wait_relay_times_out(self, door: OsdpDoorSimulator) -> None:
        assert await asyncio.to_thread(door.wait_relay, True, 0.05) is None


@pytest.mark.integration
class TestControlServer:
    async def test_swipe_reaches_the_bus(self, client: TestClient, bus: OsdpBus) -> None:
        resp = await client.post("/doors/lobby/swipe", json={"card": "1001"})
        assert resp.status == 200
        assert (await resp.json())["card"] == "1001"
        assert (await next_card(bus)).card == "1001"

    async def test_swipe_client_function(self, client: TestClient, bus: OsdpBus) -> None:
        reply = await swipe(str(client.make_url("/")), "lobby", "31337")
        assert reply == {"door": "lobby", "card": "31337", "presented": True}
        assert (await next_card(bus)).card == "31337"

    async def test_contact_and_exit(self, client: TestClient, bus: OsdpBus) -> None:
        assert (await client.post("/doors/lobby/contact", json={"open": True})).status == 200
        assert (await client.post("/doors/lobby/exit")).status == 200
        seen = []
        async with asyncio.timeout(15):
            while len(seen) < 3:
                event = await bus.next_event()
                if isinstance(event, InputChanged):
                    seen.append((event.input_no, event.active))
        assert seen == [(0, True), (1, True), (1, False)]

    async def test_list_doors_shows_relay_and_online(
        self, client: TestClient, bus: OsdpBus, door: OsdpDoorSimulator
    ) -> None:
        bus.output(ADDRESS, 0, True)
        assert await asyncio.to_thread(door.wait_relay, True, 15) is not None
        body = await (await client.get("/doors")).json()
        [lobby] = body["doors"]
        assert lobby["door"] == "lobby"
        assert lobby["online"] is True
        assert lobby["relay"] is True
        assert [c["on"] for c in lobby["relay_changes"]] == [True]

    async def test_unknown_door_is_404_naming_it(self, client: TestClient) -> None:
        resp = await client.post("/doors/garage/swipe", json={"card": "1"})
        assert resp.status == 404
        assert "garage" in (await resp.json())["error"]

    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("swipe", {"card": 1001}, "card"),
            ("swipe", {"card": "12ab"}, "card"),
            ("swipe", {}, "card"),
            ("contact", {"open": "yes"}, "open"),
            ("swipe", [1], "body"),
        ],
    )
    async def test_bad_body_is_422_naming_the_field(
        self, client: TestClient, path: str, body: object, field: str
    ) -> None:
        resp = await client.post(f"/doors/lobby/{path}", json=body)
        assert resp.status == 422
        assert (await resp.json())["field"] == field

    async def test_body_that_is_not_json_is_422(self, client: TestClient) -> None:
        resp = await client.post("/doors/lobby/swipe", data=b"card=1")
        assert resp.status == 422
        assert (await resp.json())["field"] == "body"

    async def test_swipe_client_raises_on_error(self, client: TestClient) -> None:
        with pytest.raises(ControlError, match="garage"):
            await swipe(str(client.make_url("/")), "garage", "1")


@pytest.mark.integration
class TestReaderVocabularyControl:
    async def test_wiegand_keys_tamper_and_power_reach_the_bus(
        self, client: TestClient, bus: OsdpBus
    ) -> None:
        url = str(client.make_url("/"))
        await wiegand(url, "lobby", 12, 3456, 34)
        await keys(url, "lobby", "2580#")
        await tamper(url, "lobby", True)
        await power(url, "lobby", True)
        seen: list[object] = []
        async with asyncio.timeout(15):
            while len(seen) < 4:
                event = await bus.next_event()
                if isinstance(event, CardRead | KeyPress | ReaderLocalStatus):
                    seen.append(event)
        card, pressed, tampered, failing = seen
        assert isinstance(card, CardRead) and (card.format, card.bits) == ("wiegand", 34)
        assert card.data == encode_wiegand(12, 3456, 34)
        assert isinstance(pressed, KeyPress) and pressed.keys == "2580#"
        assert isinstance(tampered, ReaderLocalStatus) and not tampered.power_fail
        assert isinstance(failing, ReaderLocalStatus) and failing.tamper and failing.power_fail
        state = (await (await client.get("/doors")).json())["doors"][0]
        assert (state["tamper"], state["power_fail"], state["install_mode"]) == (True, True, False)

    @pytest.mark.parametrize(("path", "body", "field"), [
        ("wiegand", {"facility": 300, "card": 1}, "facility"),
        ("wiegand", {"facility": 1, "card": 1, "bits": 37}, "bits"),
        ("keys", {"keys": "12a#"}, "keys"),
        ("tamper", {"tampered": "yes"}, "tampered"),
        ("power", {}, "failed"),
    ])
    async def test_bad_requests_name_the_field(
        self, client: TestClient, path: str, body: dict[str, object], field: str
    ) -> None:
        resp = await client.post(f"/doors/lobby/{path}", json=body)
        assert resp.status == 422
        assert (await resp.json())["field"] == field


def test_a_door_spec_may_name_install_mode() -> None:
    assert DoorSpec.parse("B1-main:101:install").scbk is None
    with pytest.raises(ValueError, match="install"):
        DoorSpec.parse("B1-main:101:nothex")
