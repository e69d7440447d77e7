"""Readers commissioned and heard in full, through a real libosdp panel and peripheral devices:
install mode and KEYSET, multi-drop lines, raw Wiegand, keypad, tamper and power reports."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import pytest

from edge.drivers.osdp import (
    BusEvent,
    CardRead,
    KeyPress,
    OsdpBus,
    OsdpError,
    ReaderConfig,
    ReaderInsecure,
    ReaderKeyed,
    ReaderLocalStatus,
    ReaderStatus,
)
from simulators.osdp_door import OsdpDoorSimulator, encode_wiegand
from simulators.osdp_line import OsdpLine

pytestmark = pytest.mark.integration
ADDRESS = 101
T = TypeVar("T", bound=BusEvent)


async def next_of(bus: OsdpBus, kind: type[T], timeout: float = 15.0, address: int | None = None
                  ) -> T:
    async with asyncio.timeout(timeout):
        while True:
            event = await bus.next_event()
            if isinstance(event, kind) and (address is None or event.address == address):
                return event


async def online(bus: OsdpBus, *addresses: int, timeout: float = 15.0) -> None:
    # polled: the secure channel's restart after a new key is not reported as an event
    async with asyncio.timeout(timeout):
        while not all(bus.is_online(a) for a in addresses):
            await asyncio.sleep(0.02)


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
        await online(b, ADDRESS)
        yield b


class TestInstallMode:
    async def test_a_new_reader_is_keyed_and_then_refuses_the_default_key(self) -> None:
        configured, fresh = os.urandom(16), os.urandom(16)
        with OsdpDoorSimulator(address=ADDRESS, scbk=None) as door:  # from the factory
            async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=configured)],
                               retry_min=0.2, retry_max=0.5) as bus:
                bus.install(ADDRESS, True)
                await online(bus, ADDRESS)
                assert door.scbk == configured  # libosdp gave it the panel's key over SCBK-D
                bus.set_key(ADDRESS, fresh)
                keyed = await next_of(bus, ReaderKeyed)
                assert (keyed.address, keyed.key) == (ADDRESS, fresh)
                bus.install(ADDRESS, False)
                await online(bus, ADDRESS)
                assert door.scbk == fresh and door.keys_set == 2
                door.present_card("1001")
                assert (await next_of(bus, CardRead)).card == "1001"  # on the new key

                door.swap(None)  # another reader in install mode at that address
                insecure = await next_of(bus, ReaderInsecure, timeout=20)
                assert insecure.reason == "default_key"
                assert not bus.is_online(ADDRESS) and door.keys_set == 0

    async def test_outside_install_mode_a_factory_reader_stays_unused(self) -> None:
        with OsdpDoorSimulator(address=ADDRESS, scbk=None) as door:
            async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=os.urandom(16))],
                               retry_min=0.2, retry_max=0.5) as bus:
                await next_of(bus, ReaderInsecure, timeout=10)
                assert not bus.is_online(ADDRESS) and door.scbk is None

    async def test_rotation_gives_a_keyed_reader_a_new_key(
        self, bus: OsdpBus, door: OsdpDoorSimulator
    ) -> None:
        fresh = os.urandom(16)
        bus.set_key(ADDRESS, fresh)
        assert (await next_of(bus, ReaderKeyed)).key == fresh
        await online(bus, ADDRESS)
        assert door.scbk == fresh
        door.present_card("77")
        assert (await next_of(bus, CardRead)).card == "77"

    async def test_bad_key_requests_are_refused(self, bus: OsdpBus) -> None:
        with pytest.raises(OsdpError, match="16 bytes"):
            bus.set_key(ADDRESS, b"short")
        with pytest.raises(OsdpError, match="no reader at address 9"):
            bus.install(9, True)


class TestMultiDrop:
    async def test_two_readers_on_one_line_each_heard_and_driven(self) -> None:
        keys = {1: os.urandom(16), 2: os.urandom(16)}
        line = OsdpLine()
        sims = {a: OsdpDoorSimulator(address=a, scbk=k, name=f"r{a}", line=line)
                for a, k in keys.items()}
        try:
            for sim in sims.values():
                sim.start()
            readers = [ReaderConfig(address=a, scbk=k) for a, k in keys.items()]
            async with OsdpBus(line.port, readers) as bus:
                await online(bus, 1, 2)
                sims[2].present_card("2002")
                sims[1].present_card("1001")
                reads = {(await next_of(bus, CardRead)).address for _ in range(2)}
                assert reads == {1, 2}
                bus.output(2, 0, True)
                assert await asyncio.to_thread(sims[2].wait_relay, True, 15) is not None
                assert not sims[1].relay
        finally:
            for sim in sims.values():
                sim.close()
            line.close()


    async def test_a_factory_reader_on_a_shared_line_is_named_as_offering_the_default_key(
            self) -> None:
        keyed, line = os.urandom(16), OsdpLine()
        sims = [OsdpDoorSimulator(address=1, scbk=keyed, name="r1", line=line),
                OsdpDoorSimulator(address=2, scbk=None, name="new", line=line)]  # factory
        try:
            for sim in sims:
                sim.start()
            readers = [ReaderConfig(address=1, scbk=keyed),
                       ReaderConfig(address=2, scbk=os.urandom(16))]
            async with OsdpBus(line.port, readers, retry_min=0.2, retry_max=0.5) as bus:
                await online(bus, 1)
                insecure = await next_of(bus, ReaderInsecure, timeout=20, address=2)
                assert insecure.reason == "default_key"  # "commission it", not a wrong key
                assert sims[1].scbk is None and not bus.is_online(2)  # given no key unasked
                await online(bus, 1, timeout=15)  # the keyed reader is served again
                sims[0].present_card("1001")
                assert (await next_of(bus, CardRead, timeout=15)).card == "1001"
        finally:
            for sim in sims:
                sim.close()
            line.close()


class TestVocabulary:
    async def test_raw_wiegand_arrives_as_bits(self, bus: OsdpBus, door: OsdpDoorSimulator) -> None:
        door.present_wiegand(12, 3456, bits=26)
        read = await next_of(bus, CardRead)
        assert (read.format, read.bits, read.data) == ("wiegand", 26, encode_wiegand(12, 3456, 26))

    async def test_keypad_presses_arrive_as_keys(self, bus: OsdpBus, door: OsdpDoorSimulator) -> None:
        door.press_keys("12*4#")
        assert (await next_of(bus, KeyPress)).keys == "12*4#"

    async def test_tamper_and_power_reports_arrive(
        self, bus: OsdpBus, door: OsdpDoorSimulator
    ) -> None:
        door.set_tamper(True)
        tamper = await next_of(bus, ReaderLocalStatus)
        door.set_power_fail(True)
        power = await next_of(bus, ReaderLocalStatus)
        assert (tamper.tamper, tamper.power_fail) == (True, False)
        assert (power.tamper, power.power_fail) == (True, True)

    async def test_led_and_buzzer_patterns_reach_the_reader(
        self, bus: OsdpBus, door: OsdpDoorSimulator
    ) -> None:
        bus.led_pattern(ADDRESS, "red", on_ms=200, off_ms=200)
        bus.buzz_pattern(ADDRESS, on_ms=100, off_ms=100, count=3)
        async with asyncio.timeout(15):
            while not door.beeps:
                await asyncio.sleep(0.01)
        assert door.last_led is not None
        assert (door.last_led["color"], door.last_led["temporary"]) == ("red", False)


def test_status_events_still_carry_secure() -> None:
    assert ReaderStatus(address=1, online=True, secure=True, at=0.0).secure


async def test_a_new_key_does_not_look_like_the_reader_going_offline(
    bus: OsdpBus, door: OsdpDoorSimulator
) -> None:
    bus.set_key(ADDRESS, os.urandom(16))
    await next_of(bus, ReaderKeyed)
    with pytest.raises(TimeoutError):  # the secure channel's restart is not reported
        await next_of(bus, ReaderStatus, timeout=4)
    assert bus.is_online(ADDRESS) and bus.counters["reconnects"] == 0
