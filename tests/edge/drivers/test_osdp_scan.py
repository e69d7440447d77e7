"""QR codes over OSDP: the reader reports scanned text in a manufacturer report (osdp_MFGREP),
because libosdp carries at most 64 bytes in a card read and a signed token is 120."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from edge.drivers.osdp import SCAN_VENDOR_CODE, CardRead, OsdpBus, ReaderConfig, ScanRead
from simulators import osdp_door
from simulators.control import ControlError, create_control_app, scan_qr
from simulators.osdp_door import OsdpDoorSimulator
from tests.edge.drivers.test_osdp import ADDRESS, next_of, online

pytestmark = pytest.mark.integration
TOKEN = "A" * 60 + "-_" * 30  # 120 base64url characters, as a real token


@pytest.fixture
def scbk() -> bytes:
    return os.urandom(16)


@pytest.fixture
def door(scbk: bytes) -> Iterator[OsdpDoorSimulator]:
    with OsdpDoorSimulator(address=ADDRESS, scbk=scbk) as sim:
        yield sim


@pytest.fixture
async def bus(door: OsdpDoorSimulator, scbk: bytes) -> AsyncIterator[OsdpBus]:
    async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=scbk)]) as b:
        await online(b)
        yield b


def test_simulator_and_driver_agree_on_the_vendor_code() -> None:
    assert osdp_door.SCAN_VENDOR_CODE == SCAN_VENDOR_CODE


async def test_scanned_token_arrives_whole(bus: OsdpBus, door: OsdpDoorSimulator) -> None:
    door.present_qr(TOKEN)
    scan = await next_of(bus, ScanRead)
    assert (scan.address, scan.data) == (ADDRESS, TOKEN.encode())
    door.present_card("1001")  # cards still arrive as cards afterwards
    assert (await next_of(bus, CardRead)).card == "1001"


@pytest.mark.parametrize("text", ["", "x" * 129, "二维码"])
def test_simulator_refuses_what_osdp_cannot_carry(door: OsdpDoorSimulator, text: str) -> None:
    with pytest.raises(ValueError, match=r"1 to 128 ASCII bytes|ascii"):
        door.present_qr(text)


async def test_control_server_scans_a_qr(bus: OsdpBus, door: OsdpDoorSimulator) -> None:
    async with TestClient(TestServer(create_control_app({"lobby": door}))) as client:
        url = str(client.make_url("/"))
        assert await scan_qr(url, "lobby", TOKEN) == {"door": "lobby", "scanned": True}
        assert (await next_of(bus, ScanRead)).data == TOKEN.encode()
        with pytest.raises(ControlError, match="text must be 1 to 128 ASCII"):
            await scan_qr(url, "lobby", "x" * 200)
