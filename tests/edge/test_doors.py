"""The door controller alone: card, QR and Bluetooth take the one outcome path (relay first,
counters, LED and buzzer, access event in the outbox), decided at the injected clock. The OSDP
bus is the unit's edge: a recorder stands in for it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.access.cache import PermissionCache
from edge.access.decision import AccessDecider
from edge.access.passback import PassbackLog
from edge.access.tokens import CredentialLedger, SignedCredentialDecider
from edge.config import DoorConfig, ReaderConfig
from edge.doors import DoorController, Outcome, access_data
from edge.outbox import Outbox
from edge.report import Reporter
from simulators.osdp_door import OsdpDoorSimulator
from tests.edge.access.test_tokens import NOW, PHONE, SIGNER, signed_snapshot
from wire import AccessData, parse_event


class RecordingBus:
    """Stands in for an OsdpBus: the commands the controller sends, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def output(self, address: int, output_no: int, on: bool, **_: Any) -> None:
        self.sent.append(("relay", "open" if on else "locked"))

    def led_pattern(self, address: int, color: str, **_: Any) -> None:
        self.sent.append(("led", color))

    def buzz_pattern(self, address: int, **_: Any) -> None:
        self.sent.append(("buzz",))

    def buzz_off(self, address: int) -> None:
        self.sent.append(("silence",))

    def set_key(self, address: int, key: bytes) -> None:
        self.sent.append(("keyset",))


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.outbox = Outbox(tmp_path / "outbox.db", site="garden-court", edge="building-3")
        self.cache = PermissionCache(tmp_path / "perm.db")
        self.cache.apply(signed_snapshot())
        self.passback = PassbackLog(tmp_path / "passback.db")
        self.ledger = CredentialLedger(tmp_path / "credentials.db")
        self.woken = 0
        self.now = NOW  # the injected clock; the wall clock is months later
        self.controller = DoorController(
            [], cache=self.cache, decider=AccessDecider(self.cache, self.passback),
            signed=SignedCredentialDecider(self.cache, self.ledger),
            report=Reporter(self.outbox, edge="building-3", wake=self._wake),
            clock=lambda: self.now, tick_s=0.05)
        self.bus = RecordingBus()
        config = DoorConfig(id="lobby", reader=ReaderConfig(port="/dev/null", scbk="00" * 16))
        self.door = self.controller.attach(config, self.bus)  # type: ignore[arg-type]

    def _wake(self) -> None:
        self.woken += 1

    def access_events(self) -> list[Any]:
        events = [parse_event(m.payload) for m in self.outbox.pending(limit=1000)]
        return [e.data for e in events if e.kind == "access"]

    def close(self) -> None:
        for store in (self.outbox, self.cache, self.passback, self.ledger):
            store.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def test_card_qr_and_ble_take_the_same_path(rig: Rig) -> None:
    rig.controller.card_read(rig.door, "A1")
    rig.controller.qr_read(rig.door, SIGNER.resident_qr(101, NOW).text)
    answer = PHONE.answer(rig.controller.ble_challenge("lobby"), key_id=5)
    rig.controller.ble_answer("lobby", answer)
    rig.controller.card_read(rig.door, "nobody")

    # the relay first (once: the door stays unlocked through the pulse), then the reader
    green = [("led", "green"), ("buzz",)]
    assert rig.bus.sent == [("relay", "open"), *green * 3, ("led", "red"), ("buzz",)]
    assert rig.door.counters == {"granted": 3, "denied": 1}
    events = rig.access_events()
    assert [(e.credential_type, e.result, e.reason) for e in events] == [
        ("card", "granted", "granted"), ("qr", "granted", "granted"),
        ("ble", "granted", "granted"), ("card", "denied", "unknown_card")]
    assert [e.resident_id for e in events] == [101, 101, 101, None]
    assert rig.woken >= 4


def test_signed_credentials_are_decided_at_the_injected_clock(rig: Rig) -> None:
    # Minted at the injected NOW: valid then, long expired by the wall clock.
    assert rig.controller.qr_read(rig.door, SIGNER.resident_qr(101, NOW).text).granted
    challenge = rig.controller.ble_challenge("lobby")
    assert challenge.issued_at == NOW
    assert rig.controller.ble_answer("lobby", PHONE.answer(challenge, key_id=5)).granted

    rig.now = NOW + timedelta(hours=1)  # the clock moves on: the code of an hour ago expired
    late = rig.controller.qr_read(rig.door, SIGNER.resident_qr(101, NOW).text)
    assert (late.result, late.reason) == ("denied", "token_expired")


def test_a_credential_the_event_cannot_carry_is_kept_flagged(rig: Rig) -> None:
    long_card = "1234567890" * 14
    rig.controller.card_read(rig.door, long_card)
    rig.controller.card_read(rig.door, "12\x0034")  # a garbled read
    assert rig.bus.sent == [("led", "red"), ("buzz",)] * 2
    cut, garbled = rig.access_events()
    assert (cut.result, cut.reason, cut.credential) == ("denied", "unknown_card", long_card[:128])
    assert cut.malformed.startswith("credential: 140 characters cut to 128 (sha256 ")
    assert (garbled.credential, garbled.malformed) == (
        "12\\x0034", "credential: unprintable characters escaped")


def test_only_a_flagged_event_carries_the_flag_on_the_wire() -> None:
    # a hub from before the flag refuses unknown fields: unflagged events must not name it
    plain = access_data("lobby", Outcome("card", "A1", "granted", "granted", 101, 3))
    assert plain.malformed is None and b"malformed" not in plain.model_dump_json().encode()
    flagged = access_data("lobby", Outcome("card", "", "denied", "unknown_card", None, 3))
    assert flagged.credential == "-"
    assert AccessData.model_validate_json(flagged.model_dump_json()) == flagged


async def test_an_overlong_card_at_a_real_reader_reaches_the_outbox_flagged(
        tmp_path: Path) -> None:
    """A 140-digit card read through libosdp (the door simulator on a pty) is denied and its
    event stored in the outbox, cut to fit and flagged (it used to fail validation and vanish)."""
    scbk = os.urandom(16)
    rig = Rig(tmp_path)
    try:
        with OsdpDoorSimulator(address=101, scbk=scbk) as sim:
            config = DoorConfig(id="lobby", reader=ReaderConfig(port=sim.port, scbk=scbk.hex()))
            controller = DoorController(
                [config], cache=rig.cache, decider=AccessDecider(rig.cache, rig.passback),
                signed=SignedCredentialDecider(rig.cache, rig.ledger),
                report=Reporter(rig.outbox, edge="building-3", wake=lambda: None),
                clock=lambda: NOW, tick_s=0.05)
            async with controller:
                async with asyncio.timeout(10):
                    while not controller.doors["lobby"].online:
                        await asyncio.sleep(0.05)
                    card = "9876543210" * 14
                    sim.present_card(card)
                    while not rig.access_events():
                        await asyncio.sleep(0.02)
        (event,) = rig.access_events()
        assert (event.result, event.reason, event.credential) == ("denied", "unknown_card",
                                                                  card[:128])
        assert event.malformed is not None and "140 characters cut to 128" in event.malformed
        assert controller.doors["lobby"].counters == {"granted": 0, "denied": 1}
    finally:
        rig.close()
