"""The OSDP driver against a real libosdp peripheral device (the door simulator) on a pty."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import osdp
import pytest

from edge.drivers.osdp import (
    BusEvent,
    CardRead,
    InputChanged,
    OsdpBus,
    OsdpError,
    ReaderConfig,
    ReaderInsecure,
    ReaderStatus,
)
from edge.drivers.osdp.bus import DEFAULT_SCBK
from edge.drivers.osdp.channel import FrameCounter, crc16
from simulators.osdp_door import OsdpDoorSimulator

ADDRESS = 101
T = TypeVar("T", bound=BusEvent)


async def next_of(bus: OsdpBus, kind: type[T], timeout: float = 15.0) -> T:
    """The next event of `kind`, skipping others."""
    async with asyncio.timeout(timeout):
        while True:
            event = await bus.next_event()
            if isinstance(event, kind):
                return event


async def online(bus: OsdpBus, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not bus.is_online(ADDRESS):
            await bus.next_event()


@pytest.fixture
def scbk() -> bytes:
    return os.urandom(16)


@pytest.fixture
def door(scbk: bytes) -> Iterator[OsdpDoorSimulator]:
    with OsdpDoorSimulator(address=ADDRESS, scbk=scbk) as sim:
        yield sim


@pytest.fixture
async def bus(door: OsdpDoorSimulator, scbk: bytes) -> AsyncIterator[OsdpBus]:
    async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=scbk, name="lobby")]) as b:
        await online(b)
        yield b


def frame(body: bytes) -> bytes:
    """An OSDP reply frame with CRC: SOM, addr, len, ctrl, body, crc."""
    length = 5 + len(body) + 2
    head = bytes([0x53, 0x80 | ADDRESS, length & 0xFF, length >> 8, 0x04]) + body
    crc = crc16(head)
    return head + bytes([crc & 0xFF, crc >> 8])


class TestFrameCounter:
    def test_counts_frames_and_one_error_per_garbled_stretch(self) -> None:
        counter = FrameCounter()
        counter.feed(b"\xff" + frame(b"\x40") + b"\x00\x01noise" + frame(b"\x40"))
        assert (counter.frames, counter.errors, counter.garbage_bytes) == (2, 1, 7)

    def test_counts_replies_per_reader_address(self) -> None:
        counter = FrameCounter()
        command = bytearray(frame(b"\x60"))
        command[1] = ADDRESS  # the panel's command to the reader: not a reply
        command[-2:] = crc16(command[:-2]).to_bytes(2, "little")
        counter.feed(frame(b"\x40") + bytes(command) + frame(b"\x45"))
        assert counter.frames == 3 and counter.replies == {ADDRESS: 2}

    def test_bad_crc_is_an_error_and_the_next_frame_still_counts(self) -> None:
        bad = bytearray(frame(b"\x40"))
        bad[-1] ^= 0xFF
        counter = FrameCounter()
        counter.feed(bytes(bad))
        counter.feed(frame(b"\x40")[:3])  # a frame split across reads
        counter.feed(frame(b"\x40")[3:])
        assert counter.frames == 1
        assert counter.errors == 1

    def test_known_libosdp_ack(self) -> None:
        counter = FrameCounter()
        counter.feed(bytes.fromhex("53e50e000e0216407dd4949bbfcd"))  # captured from libosdp 3.2
        assert (counter.frames, counter.errors) == (1, 0)


@pytest.mark.integration
class TestOsdpBus:
    async def test_comes_online_with_secure_channel(
        self, bus: OsdpBus, door: OsdpDoorSimulator
    ) -> None:
        assert bus.is_online(ADDRESS)
        assert door.online
        assert bus.counters["frames"] > 0

    async def test_reports_online_as_an_event(self, door: OsdpDoorSimulator, scbk: bytes) -> None:
        async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=scbk)]) as bus:
            status = await next_of(bus, ReaderStatus, timeout=15)
        assert (status.address, status.online, status.secure) == (ADDRESS, True, True)

    @pytest.mark.parametrize(("card", "bits"), [("1001", 16), ("7", 16), ("123456789012", 40)])
    async def test_card_read_arrives_with_its_number(
        self, bus: OsdpBus, door: OsdpDoorSimulator, card: str, bits: int
    ) -> None:
        before = time.monotonic()
        door.present_card(card)
        read = await next_of(bus, CardRead)
        assert (read.address, read.card, read.bits) == (ADDRESS, card, bits)
        assert read.at >= before

    async def test_door_contact_changes_arrive(self, bus: OsdpBus, door: OsdpDoorSimulator) -> None:
        door.set_door_contact(True)
        opened = await next_of(bus, InputChanged)
        door.set_door_contact(False)
        closed = await next_of(bus, InputChanged)
        assert (opened.input_no, opened.active) == (0, True)
        assert (closed.input_no, closed.active) == (0, False)

    async def test_exit_button_pulses(self, bus: OsdpBus, door: OsdpDoorSimulator) -> None:
        door.press_exit()
        pressed = await next_of(bus, InputChanged)
        released = await next_of(bus, InputChanged)
        assert [(e.input_no, e.active) for e in (pressed, released)] == [(1, True), (1, False)]

    async def test_output_switches_the_relay(self, bus: OsdpBus, door: OsdpDoorSimulator) -> None:
        bus.output(ADDRESS, 0, True)
        assert await asyncio.to_thread(door.wait_relay, True, 15) is not None
        bus.output(ADDRESS, 0, False)
        assert await asyncio.to_thread(door.wait_relay, False, 15) is not None
        assert [on for _, on in door.relay_changes] == [True, False]

    async def test_timed_output_reverts(self, bus: OsdpBus, door: OsdpDoorSimulator) -> None:
        bus.output(ADDRESS, 0, True, timer_ms=300)
        on_at = await asyncio.to_thread(door.wait_relay, True, 15)
        await asyncio.sleep(0.05)
        off_at = await asyncio.to_thread(door.wait_relay, False, 15)
        assert on_at is not None and off_at is not None
        # held for its 300 ms, then off by itself (a loaded machine may see it late, never early)
        assert 0.25 <= off_at - on_at < 2.0

    async def test_led_and_buzzer_reach_the_reader(
        self, bus: OsdpBus, door: OsdpDoorSimulator
    ) -> None:
        bus.led(ADDRESS, "green", on_ms=1000)
        bus.buzz(ADDRESS, on_ms=200)
        async with asyncio.timeout(15):
            while not door.beeps:
                await asyncio.sleep(0.01)
        assert door.last_led is not None
        assert (door.last_led["color"], door.last_led["on_ms"]) == ("green", 1000)
        assert door.beeps[0][1] == 200

    async def test_bad_arguments_raise(self, bus: OsdpBus) -> None:
        with pytest.raises(OsdpError, match="no reader at address 7"):
            bus.output(7, 0, True)
        with pytest.raises(OsdpError, match="timer_ms"):
            bus.output(ADDRESS, 0, True, timer_ms=60_000)
        with pytest.raises(OsdpError, match="purple"):
            bus.led(ADDRESS, "purple")

    async def test_wrong_key_never_comes_online(self, door: OsdpDoorSimulator) -> None:
        wrong = ReaderConfig(address=ADDRESS, scbk=bytes(16))
        async with OsdpBus(door.port, [wrong]) as bus:
            with pytest.raises(TimeoutError):
                await next_of(bus, ReaderStatus, timeout=3)
            assert not bus.is_online(ADDRESS)
            assert not door.online
            assert bus.counters["frames"] > 0  # the reader answered: only the key was wrong
            with pytest.raises(OsdpError, match="offline; output not sent"):
                bus.output(ADDRESS, 0, True)

    async def test_a_reader_with_another_key_is_reported_insecure_once(
        self, door: OsdpDoorSimulator
    ) -> None:
        async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=bytes(16))],
                           retry_min=0.2, retry_max=0.5) as bus:
            insecure = await next_of(bus, ReaderInsecure, timeout=8)
            assert (insecure.address, insecure.reason) == (ADDRESS, "secure_channel_failed")
            assert bus.counters["reconnects"] == 0 and not door.online
            with pytest.raises(TimeoutError):  # once per episode, though the bus keeps trying
                await next_of(bus, ReaderInsecure, timeout=3)

    @pytest.mark.parametrize("reader_key", [DEFAULT_SCBK, None], ids=["keyed-scbk-d", "install-mode"])
    async def test_a_reader_offering_the_default_key_is_named_so(
        self, reader_key: bytes | None
    ) -> None:
        with OsdpDoorSimulator(address=ADDRESS, scbk=reader_key) as door:
            async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=os.urandom(16))],
                               retry_min=0.2, retry_max=0.5) as bus:
                insecure = await next_of(bus, ReaderInsecure, timeout=10)
                assert (insecure.address, insecure.reason) == (ADDRESS, "default_key")
                assert not bus.is_online(ADDRESS)  # never used with that key
                assert door.keys_set == 0  # the probe never gave the reader a key

    async def test_a_silent_reader_is_offline_not_insecure(self, scbk: bytes) -> None:
        door = OsdpDoorSimulator(address=ADDRESS, scbk=scbk)  # never started: silent
        try:
            async with OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=scbk)]) as bus:
                with pytest.raises(TimeoutError):
                    await next_of(bus, ReaderInsecure, timeout=10)
                assert bus.counters["frames"] == 0
        finally:
            door.close()

    async def test_garbage_on_the_line_is_counted_and_the_bus_recovers(
        self, bus: OsdpBus, door: OsdpDoorSimulator
    ) -> None:
        for _ in range(3):
            door.inject_garbage(b"\x00\x01\x02noise\xfe\x80")
            await asyncio.sleep(0.07)
        door.present_card("4242")
        read = await next_of(bus, CardRead)
        assert read.card == "4242"
        assert bus.counters["errors"] >= 1
        assert bus.counters["garbage_bytes"] >= 10
        assert bus.is_online(ADDRESS)

    async def test_a_failing_refresh_restarts_the_panel_not_the_agent(
        self, door: OsdpDoorSimulator, scbk: bytes
    ) -> None:
        """Something failing inside libosdp's refresh (here the bus's own event handler, once,
        on a card read) ended the refresh thread: every reader of the line stayed offline
        until the agent restarted. The bus makes the line's control panel anew instead."""
        bus = OsdpBus(door.port, [ReaderConfig(address=ADDRESS, scbk=scbk)])
        handler = bus._on_event
        failed: list[dict[str, Any]] = []

        def failing_once(pd: int, event: dict[str, Any]) -> int:
            if event.get("event") == osdp.Event.CardRead and not failed:
                failed.append(event)
                raise RuntimeError("event handler failed")
            return handler(pd, event)

        bus._on_event = failing_once  # type: ignore[method-assign]
        async with bus:
            await online(bus, timeout=20)
            door.present_card("1001")
            offline = await next_of(bus, ReaderStatus, timeout=20)
            assert not offline.online and failed
            back = await next_of(bus, ReaderStatus, timeout=20)
            assert back.online and back.secure and bus.is_online(ADDRESS)
            assert bus.counters["panel_restarts"] == 1
            door.present_card("1002")
            async with asyncio.timeout(20):
                while (await next_of(bus, CardRead, timeout=20)).card != "1002":
                    pass
            assert bus.counters["panel_restarts"] == 1

    @pytest.mark.slow
    async def test_offline_when_the_reader_stops_and_online_when_it_returns(
        self, bus: OsdpBus, door: OsdpDoorSimulator
    ) -> None:
        door.stop()
        # libosdp probes a silent reader for about 8 s before it declares it offline
        offline = await next_of(bus, ReaderStatus, timeout=12)
        assert not offline.online and not bus.is_online(ADDRESS)
        door.start()
        back = await next_of(bus, ReaderStatus, timeout=15)
        assert back.online and back.secure
        assert bus.counters["reconnects"] == 1
        door.present_card("1001")
        assert (await next_of(bus, CardRead)).card == "1001"


async def test_opening_a_missing_port_raises(scbk: bytes) -> None:
    with pytest.raises(OsdpError, match="/dev/nonexistent-osdp"):
        async with OsdpBus("/dev/nonexistent-osdp", [ReaderConfig(address=1, scbk=scbk)]):
            pass


def test_reader_config_validates() -> None:
    with pytest.raises(ValueError, match="127"):
        ReaderConfig(address=127, scbk=bytes(16))
    with pytest.raises(ValueError, match="16 bytes"):
        ReaderConfig(address=1, scbk=b"short")
