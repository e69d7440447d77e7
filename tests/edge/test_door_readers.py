"""The reader's whole vocabulary at the door: raw Wiegand cards, card + PIN (and the duress
PIN), wrong PINs in a row, tamper and power reports, and a reader commissioned from install
mode to a key of its own. First with a recorder for the bus, then through real libosdp (the
door simulators on one multi-drop line), all decided at the edge with no hub."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.access.cache import PermissionCache
from edge.access.decision import AccessDecider
from edge.access.passback import PassbackLog
from edge.access.tokens import CredentialLedger, SignedCredentialDecider
from edge.config import DoorConfig, ReaderConfig
from edge.doors import DoorController
from edge.drivers.osdp import InputChanged, ReaderKeyed, ReaderLocalStatus
from edge.keypad import MAX_FAILURES, PIN_TIMEOUT_S
from edge.outbox import Outbox
from edge.reader_keys import ReaderKeyStore, seal_key
from edge.report import Reporter
from hub.credentials.keys import public_key_b64
from hub.credentials.pins import hash_pin, salt_of
from hub.credentials.reader_keys import open_sealed
from simulators.osdp_door import OsdpDoorSimulator, encode_wiegand
from simulators.osdp_line import OsdpLine
from tests.edge.access.snapshots import snapshot
from tests.edge.access.test_tokens import NOW
from tests.edge.test_doors import RecordingBus
from wire import (
    AccessGroupRule,
    AntiPassbackRule,
    CardCredential,
    CardFormatRule,
    DoorInfo,
    ResidentPin,
    parse_event,
)

HUB = Ed25519PrivateKey.generate()
PIN, DURESS = "2580", "2581"


def pins() -> list[ResidentPin]:
    main = hash_pin(PIN)
    return [ResidentPin(resident_id=101, hash=main, duress_hash=hash_pin(DURESS, salt_of(main)))]


def readers_snapshot(version: int = 1, **extra: Any) -> Any:
    return snapshot(
        version, **extra,
        doors=[DoorInfo(id="lobby", name="Lobby"),
               DoorInfo(id="vault", name="Bike store", pin_required=True)],
        schedules=[], groups=[AccessGroupRule(id=1, doors=["lobby", "vault"])],
        credentials=[CardCredential(card="1001", resident_id=101, groups=[1]),
                     CardCredential(card="1003", resident_id=103, groups=[1]),
                     CardCredential(card="3456", resident_id=104, groups=[1])],
        card_format=CardFormatRule(check_facility=True, facility_codes=[12]),
        pins=pins(), hub_public_key=public_key_b64(HUB))


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.outbox = Outbox(tmp_path / "outbox.db", site="garden-court", edge="building-3")
        self.cache = PermissionCache(tmp_path / "perm.db")
        self.cache.apply(readers_snapshot())
        self.passback = PassbackLog(tmp_path / "passback.db")
        self.ledger = CredentialLedger(tmp_path / "credentials.db")
        self.keys = ReaderKeyStore(tmp_path / "reader-keys.json")

    def controller(self, configs: list[DoorConfig]) -> DoorController:
        return DoorController(
            configs, cache=self.cache, decider=AccessDecider(self.cache, self.passback),
            signed=SignedCredentialDecider(self.cache, self.ledger),
            report=Reporter(self.outbox, edge="building-3", wake=lambda: None),
            clock=lambda: NOW, tick_s=0.05, keys=self.keys,
            seal=lambda key, where: seal_key(key, public_key_b64(HUB),
                                             f"garden-court/building-3/{where}"))

    def events(self, kind: str) -> list[Any]:
        found = [parse_event(m.payload) for m in self.outbox.pending(limit=1000)]
        return [e.data for e in found if e.kind == kind]

    def close(self) -> None:
        for store in (self.outbox, self.cache, self.passback, self.ledger):
            store.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


class TestAtTheDoor:
    @pytest.fixture
    def setup(self, rig: Rig) -> tuple[DoorController, Any, RecordingBus]:
        controller = rig.controller([])
        bus = RecordingBus()
        vault = controller.attach(DoorConfig(id="vault", reader=ReaderConfig(
            port="/dev/null", address=2, scbk="00" * 16)), bus)  # type: ignore[arg-type]
        return controller, vault, bus

    def test_card_then_pin_opens(self, rig: Rig, setup: Any) -> None:
        controller, vault, bus = setup
        controller.card_read(vault, "1001")
        assert ("relay", "open") not in bus.sent and rig.events("access") == []
        assert bus.sent[0] == ("led", "amber")  # waiting for the PIN
        controller.key_press(vault, "25")
        controller.key_press(vault, "80#")
        assert ("relay", "open") in bus.sent
        (event,) = rig.events("access")
        assert (event.result, event.resident_id, event.warning) == ("granted", 101, None)

    def test_the_duress_pin_opens_silently_and_says_so_only_in_the_event(
            self, rig: Rig, setup: Any) -> None:
        controller, vault, bus = setup
        controller.card_read(vault, "1001")
        controller.key_press(vault, PIN + "#")
        normal = list(bus.sent)
        bus.sent.clear()
        controller.card_read(vault, "1001")
        controller.key_press(vault, DURESS + "#")
        assert bus.sent == [s for s in normal if s != ("relay", "open")]  # same lights and beeps
        plain, duress = rig.events("access")
        assert plain.warning is None
        assert (duress.result, duress.reason, duress.warning) == ("granted", "granted", "duress")

    def test_three_wrong_pins_raise_the_door_alarm_once(self, rig: Rig, setup: Any) -> None:
        controller, vault, bus = setup
        for _ in range(MAX_FAILURES):
            controller.card_read(vault, "1001")
            controller.key_press(vault, "1234#")
        assert ("relay", "open") not in bus.sent
        assert [(e.result, e.reason) for e in rig.events("access")] == [
            ("denied", "pin_wrong")] * MAX_FAILURES
        assert [e.event for e in rig.events("door")] == ["pin_failures"]

    def test_a_wrong_pin_is_no_passage_for_anti_passback(self, rig: Rig, setup: Any) -> None:
        rig.cache.apply(readers_snapshot(2, anti_passback=[
            AntiPassbackRule(id=1, entry="vault", exit="lobby", mode="hard")]))
        controller, vault, _ = setup
        controller.card_read(vault, "1001")
        controller.key_press(vault, "1234#")  # wrong: the resident did not go in
        controller.card_read(vault, "1001")
        controller.key_press(vault, PIN + "#")
        controller.card_read(vault, "1001")  # in already: a second entry is refused at once
        assert [(e.result, e.reason) for e in rig.events("access")] == [
            ("denied", "pin_wrong"), ("granted", "granted"), ("denied", "anti_passback")]

    def test_no_pin_in_time_or_no_pin_at_all_is_refused(self, rig: Rig, setup: Any) -> None:
        controller, vault, bus = setup
        controller.card_read(vault, "1001")
        controller._pin_expired(vault, time.monotonic() + PIN_TIMEOUT_S + 1)
        controller.key_press(vault, PIN + "#")  # too late: no card waits any more
        controller.card_read(vault, "1003")  # resident 103 has set no PIN
        assert [e.reason for e in rig.events("access")] == ["pin_timeout", "pin_not_set"]
        assert ("relay", "open") not in bus.sent

    def test_raw_wiegand_is_decoded_parity_and_facility_checked(
            self, rig: Rig, setup: Any) -> None:
        controller, _, bus = setup
        lobby = controller.attach(DoorConfig(id="lobby", reader=ReaderConfig(
            port="/dev/null", address=1, scbk="00" * 16)), bus)  # type: ignore[arg-type]
        controller.wiegand_read(lobby, encode_wiegand(12, 3456, 26), 26)
        controller.wiegand_read(lobby, encode_wiegand(13, 3456, 26), 26)
        bad = bytearray(encode_wiegand(12, 3456, 26))
        bad[1] ^= 0x10
        controller.wiegand_read(lobby, bytes(bad), 26)
        events = rig.events("access")
        assert [(e.result, e.reason) for e in events] == [
            ("granted", "granted"), ("denied", "wrong_facility"), ("denied", "bad_parity")]
        assert events[0].credential == "3456" and events[2].credential.startswith("w26:")

    def test_tamper_and_power_reports_are_door_events_once_per_change(
            self, rig: Rig, setup: Any) -> None:
        controller, vault, _ = setup
        for tamper, power in [(True, False), (True, False), (True, True), (False, False)]:
            controller._local_status(vault, ReaderLocalStatus(address=2, tamper=tamper,
                                                              power_fail=power, at=0.0))
        assert [e.event for e in rig.events("door")] == [
            "reader_tamper", "reader_power_fail", "reader_tamper_cleared", "reader_power_ok"]


def test_the_reader_shows_the_door_state(rig: Rig) -> None:
    controller = rig.controller([])
    bus = RecordingBus()
    door = controller.attach(DoorConfig(id="lobby", fail_safe_egress=True, reader=ReaderConfig(
        port="/dev/null", address=1, scbk="00" * 16)), bus)  # type: ignore[arg-type]

    def shown(action: Any) -> list[tuple[Any, ...]]:
        bus.sent.clear()
        action()
        return [s for s in bus.sent if s[0] != "relay"]

    opened = InputChanged(address=1, input_no=0, active=True, at=0.0)
    closed = InputChanged(address=1, input_no=0, active=False, at=0.0)
    assert shown(lambda: controller._input(door, opened)) == [("led", "red"), ("buzz",)]  # forced
    assert shown(lambda: controller._input(door, closed)) == [("led", "off"), ("silence",)]
    assert shown(lambda: controller.lockdown(True)) == [("led", "red"), ("silence",)]
    assert shown(lambda: controller.lockdown(False)) == [("led", "off"), ("silence",)]
    assert shown(lambda: controller.fire(True)) == [("led", "green"), ("silence",)]
    assert shown(lambda: controller.fire(False)) == [("led", "off"), ("silence",)]


async def wait_for(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


@contextlib.contextmanager
def _lobby_and_vault() -> Iterator[tuple[OsdpDoorSimulator, OsdpDoorSimulator, list[DoorConfig]]]:
    """Two readers on one simulated RS-485 line (lobby at address 1, vault at 2), each with
    its own key, and the doors' configurations for them."""
    keys = {1: os.urandom(16), 2: os.urandom(16)}
    line = OsdpLine()
    lobby = OsdpDoorSimulator(address=1, scbk=keys[1], name="lobby", line=line)
    vault = OsdpDoorSimulator(address=2, scbk=keys[2], name="vault", line=line)
    try:
        lobby.start()
        vault.start()
        yield lobby, vault, [DoorConfig(id=name, unlock_s=0.3, reader=ReaderConfig(
            port=line.port, address=a, scbk=keys[a].hex()))
            for name, a in (("lobby", 1), ("vault", 2))]
    finally:
        lobby.close()
        vault.close()
        line.close()


@pytest.mark.integration
class TestThroughLibosdp:
    async def test_two_readers_on_one_line_decide_card_wiegand_pin_duress_tamper(
            self, rig: Rig) -> None:
        with _lobby_and_vault() as (lobby, vault, configs):
            async with rig.controller(configs) as controller:
                await wait_for(lambda: all(d.online for d in controller.doors.values()))
                lobby.present_wiegand(12, 3456)  # a raw 26-bit read
                assert await asyncio.to_thread(lobby.wait_relay, True, 15) is not None
                assert not vault.relay
                vault.present_card("1001")
                await wait_for(lambda: controller.doors["vault"].keypad.waiting is not None)
                vault.press_keys(PIN + "#")
                assert await asyncio.to_thread(vault.wait_relay, True, 15) is not None
                await asyncio.to_thread(vault.wait_relay, False, 15)
                vault.present_card("1001")
                await wait_for(lambda: controller.doors["vault"].keypad.waiting is not None)
                vault.press_keys(DURESS + "#")
                await wait_for(lambda: len(rig.events("access")) == 3)
                lobby.set_tamper(True)
                await wait_for(lambda: rig.events("door") and any(
                    e.event == "reader_tamper" for e in rig.events("door")))
            events = rig.events("access")
            assert [(e.door, e.result, e.warning) for e in events] == [
                ("lobby", "granted", None), ("vault", "granted", None),
                ("vault", "granted", "duress")]
            assert vault.last_led is not None and vault.last_led["color"] == "green"

    async def test_a_broken_secure_channel_recovers_alone_and_the_other_door_decides(
            self, rig: Rig) -> None:
        """The lobby reader's replies carry a wrong MAC for 6 s (libosdp: "Invalid MAC", as
        a loaded machine once broke it, and the reader stayed offline): the edge restarts
        that reader's session by itself on its backoff, the vault on the same line keeps
        deciding, and once the channel is sound the lobby is back and decides a card, the
        agent never restarted."""
        with _lobby_and_vault() as (lobby, vault, configs):
            async with rig.controller(configs) as controller:
                doors = controller.doors
                await wait_for(lambda: all(d.online for d in doors.values()), 20)
                lobby.break_secure_channel(6.0)
                await wait_for(lambda: not doors["lobby"].online, 20)
                vault.present_card("1001")  # the other door decides meanwhile
                await wait_for(lambda: doors["vault"].keypad.waiting is not None, 20)
                vault.press_keys(PIN + "#")
                assert await asyncio.to_thread(vault.wait_relay, True, 20) is not None
                await wait_for(lambda: not lobby.secure_channel_broken, 20)
                await wait_for(lambda: doors["lobby"].online
                               and doors["lobby"].bus.is_online(1), 30)
                assert lobby.bad_macs > 0
                lobby.present_card("1001")
                assert await asyncio.to_thread(lobby.wait_relay, True, 20) is not None
                await wait_for(lambda: [e.door for e in rig.events("access")]
                               == ["vault", "lobby"], 20)
                restarts = doors["lobby"].bus.restarts(1)
                assert restarts >= 1 and doors["vault"].bus.restarts(2) == 0
            agent = [(e.door, e.event) for e in rig.events("agent")
                     if e.event in ("device_offline", "device_online")]
            assert ("vault", "device_offline") not in agent
            offline = agent.count(("lobby", "device_offline"))
            # at least once, and restarted on a backoff: not offline and back every half
            # second for the 6 s the channel stayed broken
            assert 1 <= offline <= 6, agent
            assert agent[-1] == ("lobby", "device_online")
            back = [e for e in rig.events("agent") if e.event == "device_online"][-1]
            assert f"restarted {restarts} times" in back.detail
            assert [e.result for e in rig.events("access")] == ["granted", "granted"]

    async def test_a_reader_from_install_mode_to_its_own_key(self, rig: Rig) -> None:
        configured = os.urandom(16)
        with OsdpDoorSimulator(address=5, scbk=None, name="gate") as gate:  # from the factory
            config = DoorConfig(id="lobby", reader=ReaderConfig(
                port=gate.port, address=5, scbk=configured.hex()))
            async with rig.controller([config]) as controller:
                def insecure() -> int:
                    return sum(e.event == "reader_insecure" for e in rig.events("agent"))

                await wait_for(lambda: insecure() == 1)  # SCBK-D refused outside install mode
                assert not controller.doors["lobby"].online
                assert controller.reader_install("lobby", 60) is None
                await wait_for(lambda: any(e.event == "reader_keyed"
                                           for e in rig.events("agent")))
                key = rig.keys.get("lobby", gate.port, 5)
                assert key is not None and key != configured and gate.scbk == key
                (keyed,) = [e for e in rig.events("agent") if e.event == "reader_keyed"]
                assert open_sealed(keyed.sealed_key, [HUB],
                                   "garden-court/building-3/lobby/5") == key
                assert not controller.doors["lobby"].install_until
                await wait_for(lambda: controller.doors["lobby"].online)
                gate.present_card("1001")
                assert await asyncio.to_thread(gate.wait_relay, True, 15) is not None

                gate.swap(None)  # a factory reader put in its place: refused now
                await wait_for(lambda: insecure() == 2, timeout=20)
                assert not controller.doors["lobby"].bus.is_online(5)
            # the agent restarts: the reader's own key is used, not the configured one
            gate.swap(key)
            async with rig.controller([config]) as controller:
                await wait_for(lambda: controller.doors["lobby"].online)

    async def test_rotation_on_demand(self, rig: Rig) -> None:
        key = os.urandom(16)
        with OsdpDoorSimulator(address=5, scbk=key) as gate:
            config = DoorConfig(id="lobby", reader=ReaderConfig(port=gate.port, address=5,
                                                                scbk=key.hex()))
            async with rig.controller([config]) as controller:
                await wait_for(lambda: controller.doors["lobby"].online)
                assert controller.rotate_key("lobby") is None
                await wait_for(lambda: rig.keys.get("lobby", gate.port, 5) is not None)
                fresh = rig.keys.get("lobby", gate.port, 5)
                assert fresh is not None and gate.scbk == fresh != key
                assert controller.rotate_key("nowhere") == "unknown door nowhere"
                # the hub's configuration carrying the new key back reopens no line
                bus = controller.doors["lobby"].bus
                carried = config.model_copy(update={"reader": config.reader.model_copy(
                    update={"scbk": fresh.hex()})})
                await controller.reconcile([carried])
                assert controller.doors["lobby"].bus is bus


def test_a_key_the_edge_cannot_store_is_still_sealed_to_the_hub_and_alarmed(
        rig: Rig, tmp_path: Path) -> None:
    controller = rig.controller([])
    door = controller.attach(DoorConfig(id="lobby", reader=ReaderConfig(
        port="/dev/null", address=1, scbk="00" * 16)), RecordingBus())  # type: ignore[arg-type]
    blocked = tmp_path / "no-such-folder" / "reader-keys.json"
    controller._keys = ReaderKeyStore(blocked)  # its folder is missing: the write fails
    key = os.urandom(16)
    controller._reader_keyed(door, ReaderKeyed(address=1, key=key, at=0.0))
    failed, keyed = rig.events("agent")
    assert (failed.event, failed.reason) == ("reader_key_failed", "not_stored")
    assert keyed.event == "reader_keyed" and "NOT stored" in keyed.detail
    assert open_sealed(keyed.sealed_key, [HUB], "garden-court/building-3/lobby/1") == key
