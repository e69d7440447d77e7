"""Lifts (梯控) at the edge: a card, QR code, phone or visitor pass granted at a car reader
enables exactly the holder's floors on the lift controller, through pymodbus, on each lift
model (both on one RS-485 line), also offline (nothing here talks to a hub); a lift in fire
recall or out of service enables nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.access.cache import PermissionCache
from edge.access.decision import AccessDecider
from edge.access.passback import PassbackLog
from edge.access.tokens import CredentialLedger, SignedCredentialDecider
from edge.config import DeviceConfig, DoorConfig, ReaderConfig
from edge.devices import DeviceSupervisor
from edge.doors import Door, DoorController
from edge.outbox import Outbox
from edge.report import Reporter
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.modbus_line import ModbusLineSimulator
from tests.edge.access.snapshots import snapshot
from tests.edge.access.test_tokens import NOW, PHONE, SIGNER
from tests.edge.test_devices import Recorder
from tests.edge.test_doors import RecordingBus
from tests.support.waiting import PATIENCE_S, until
from wire import AccessGroupRule, CardCredential, DoorInfo, PhoneKeyGrant, VisitorPassLimit

pytestmark = pytest.mark.integration
MODELS = load_models()
PTY = SerialSettings(baudrate=9600, parity="N")  # Linux ptys refuse parity bits
ENABLE_S = 0.6

# resident 101 lives on 12F; the garage group adds B1, the gym group 2F; a visitor of 8F
SNAPSHOT = snapshot(
    hub_public_key=SIGNER.public_key,
    doors=[DoorInfo(id="car-a", name="Lift A car"), DoorInfo(id="car-b", name="Lift B car"),
           DoorInfo(id="lobby", name="Lobby")],
    schedules=[],
    groups=[
        AccessGroupRule(id=-7, doors=["car-a", "car-b"], floors=[8]),
        AccessGroupRule(id=1, doors=["lobby", "car-a", "car-b"]),  # residents: own floor only
        AccessGroupRule(id=2, doors=["car-a", "car-b"], floors=[2]),  # gym
        AccessGroupRule(id=3, doors=["car-a", "car-b"], floors=[-1]),  # garage
        AccessGroupRule(id=4, doors=["lobby"], floors=[20]),  # not at a car reader
    ],
    credentials=[
        CardCredential(card="C101", resident_id=101, groups=[1, 3, 4], floors=[12]),
        CardCredential(card="C102", resident_id=102, groups=[1, 2], floors=[5]),
        CardCredential(card="C103", resident_id=103, groups=[4], floors=[6]),  # lobby only
        CardCredential(card="qr:101", resident_id=101, groups=[1, 3], floors=[12]),
        CardCredential(card="ble:5", resident_id=101, groups=[1], floors=[12]),
        CardCredential(card="pass:7", valid_from=NOW - timedelta(hours=1),
                       valid_until=NOW + timedelta(hours=2), groups=[-7]),
    ],
    phone_keys=[PhoneKeyGrant(id=5, resident_id=101, public_key=PHONE.public_key)],
    visitor_passes=[VisitorPassLimit(id=7, max_uses=5)],
)


class Building:
    def __init__(self, controller: DoorController, sup: DeviceSupervisor,
                 sims: dict[str, ModbusDeviceSimulator], rec: Recorder) -> None:
        self.controller, self.sup, self.sims, self.rec = controller, sup, sims, rec
        self.doors: dict[str, Door] = controller.doors

    def floors_enabled(self, lift: str) -> list[int]:
        """The floors the controller has enabled now, read back from the simulator's tables."""
        sim = self.sims[lift]
        fa = sim.model.floor_access
        assert fa is not None
        if lift == "lift-a":
            mask = int(sim.raw("floor_enable"))
            bits = [i for i in range(fa.floors) if mask >> i & 1]
        else:
            bits = [i for i in range(fa.floors) if sim.raw(f"floor_enable_{i + 1}")]
        return [fa.floor(b) for b in bits]

    async def wait(self, check: Callable[[], object], timeout: float = PATIENCE_S) -> None:
        await until(check, timeout=timeout, every=0.02)


@contextlib.asynccontextmanager
async def building(tmp_path: Path) -> AsyncIterator[Building]:
    sims = {"lift-a": ModbusDeviceSimulator(MODELS["elevator-vvvf-a"], name="lift-a", unit_id=1),
            "lift-b": ModbusDeviceSimulator(MODELS["elevator-mrl-b"], name="lift-b", unit_id=2)}
    rec = Recorder()
    async with contextlib.AsyncExitStack() as stack:
        line = await stack.enter_async_context(
            ModbusLineSimulator(sims.values(), transport="rtu", serial=PTY))
        configs = [DeviceConfig.model_validate({
            "id": name, "model": sim.model.model, "transport": "rtu", "port": line.port,
            "unit_id": sim.unit_id, "serial": {"baudrate": 9600, "parity": "N", "stopbits": 1},
            "poll_interval_s": 0.1, "timeout_s": 0.2}) for name, sim in sims.items()]
        sup = await stack.enter_async_context(DeviceSupervisor(configs, rec))
        outbox = Outbox(tmp_path / "outbox.db", site="garden-court", edge="building-3")
        cache = PermissionCache(tmp_path / "perm.db")
        passback = PassbackLog(tmp_path / "passback.db")
        ledger = CredentialLedger(tmp_path / "credentials.db")
        for store in (outbox, cache, passback, ledger):
            stack.callback(store.close)
        cache.apply(SNAPSHOT)
        controller = DoorController(
            [], cache=cache, decider=AccessDecider(cache, passback),
            signed=SignedCredentialDecider(cache, ledger),
            report=Reporter(outbox, edge="building-3", wake=lambda: None),
            clock=lambda: NOW, tick_s=0.05)
        controller.elevators = sup
        for door, lift in (("car-a", "lift-a"), ("car-b", "lift-b"), ("lobby", None)):
            config = DoorConfig(id=door, elevator=lift, floor_enable_s=ENABLE_S,
                                reader=ReaderConfig(port="/dev/null", scbk="00" * 16,
                                                    address={"car-a": 1, "car-b": 2}.get(door, 3)))
            controller.attach(config, RecordingBus())  # type: ignore[arg-type]
        b = Building(controller, sup, sims, rec)
        await b.wait(lambda: all(sup.devices[n].values is not None for n in sims))
        yield b


async def test_a_card_enables_exactly_its_floors_on_each_lift_model(tmp_path: Path) -> None:
    async with building(tmp_path) as b:
        for door, lift in (("car-a", "lift-a"), ("car-b", "lift-b")):
            assert b.controller.card_read(b.doors[door], "C101").granted
            # own 12F + garage B1; lift A (vvvf, floors 1-18) has no B1 to enable
            want = [12] if lift == "lift-a" else [-1, 12]
            await b.wait(lambda lift=lift, want=want: b.floors_enabled(lift) == want)
            # and for the configured seconds only (a write lost on the busy line is sent again)
            await b.wait(lambda lift=lift: b.floors_enabled(lift) == [], timeout=ENABLE_S + 10)
        assert b.sims["lift-a"].writes[0] == ("holding", 20, [0, 1 << 11])  # bit 11 = 12F
        table, address, coils = b.sims["lift-b"].writes[0]
        assert (table, address) == ("coil", 0)
        assert [i for i, on in enumerate(coils) if on] == [1, 13]  # B2 B1 1 2 … : B1 and 12F
        b.controller.card_read(b.doors["car-b"], "C102")  # own 5F + gym 2F
        await b.wait(lambda: b.floors_enabled("lift-b") == [2, 5])


async def test_floors_are_disabled_again_though_the_lift_missed_the_first_write(
        tmp_path: Path) -> None:
    """The lift does not answer when its floors should close (a noisy or busy line): the
    edge writes again on a backoff until they are closed, rather than leave the car open to
    the resident's floors for whoever rides next."""
    async with building(tmp_path) as b:
        assert b.controller.card_read(b.doors["car-b"], "C101").granted
        await b.wait(lambda: b.floors_enabled("lift-b") == [-1, 12])
        b.sims["lift-b"].silent = True  # deaf from before the floors' time runs out
        await asyncio.sleep(ENABLE_S + 1.0)
        assert b.floors_enabled("lift-b") == [-1, 12]  # the disabling write went unheard
        b.sims["lift-b"].silent = False
        await b.wait(lambda: b.floors_enabled("lift-b") == [])


async def test_qr_phone_and_pass_enable_their_floors_too(tmp_path: Path) -> None:
    async with building(tmp_path) as b:
        assert b.controller.qr_read(b.doors["car-b"], SIGNER.resident_qr(101, NOW).text).granted
        await b.wait(lambda: b.floors_enabled("lift-b") == [-1, 12])
        answer = PHONE.answer(b.controller.ble_challenge("car-a"), key_id=5)
        assert b.controller.ble_answer("car-a", answer).granted
        await b.wait(lambda: b.floors_enabled("lift-a") == [12])
        token = SIGNER.visitor_pass(7, NOW - timedelta(hours=1), NOW + timedelta(hours=2), NOW)
        assert b.controller.qr_read(b.doors["car-b"], token.text).granted
        await b.wait(lambda: b.floors_enabled("lift-b") == [8])  # the host's floor only


async def test_no_floor_for_a_credential_not_granted_at_the_car(tmp_path: Path) -> None:
    async with building(tmp_path) as b:
        assert not b.controller.card_read(b.doors["car-a"], "C103").granted  # lobby only
        assert b.controller.card_read(b.doors["lobby"], "C101").granted  # not a car reader
        await asyncio.sleep(0.5)
        assert b.sims["lift-a"].writes == [] and b.sims["lift-b"].writes == []


def _refusals(b: Building, lift: str) -> list[Any]:
    return b.rec.device(lift, "floors_refused")


@pytest.mark.parametrize(("lift", "state"), [
    ("lift-a", ("service_mode", 2)),  # the controller reports fire recall
    ("lift-a", ("service_mode", 3)),  # out of service
    ("lift-b", ("fire_recall", True)),  # the recall coil is set (read back each poll)
])
async def test_a_lift_in_fire_recall_or_out_of_service_enables_nothing(
        tmp_path: Path, lift: str, state: tuple[str, int | bool]) -> None:
    async with building(tmp_path) as b:
        door = "car-a" if lift == "lift-a" else "car-b"
        b.sims[lift].set(*state)
        polls = b.sup.devices[lift].link
        assert polls is not None
        seen = polls.counters.ok
        await b.wait(lambda: polls.counters.ok > seen + 1)
        assert b.controller.card_read(b.doors[door], "C101").granted  # the door still decides
        await b.wait(lambda: _refusals(b, lift))
        assert b.sims[lift].writes == [] and b.floors_enabled(lift) == []
        refused = _refusals(b, lift)[0]
        assert refused.detail is not None and "not enabled" in refused.detail
        assert refused.text_zh is not None and refused.text_zh.startswith("未开放楼层")
        b.sims[lift].set(*(state[0], False if isinstance(state[1], bool) else 0))
        await b.wait(lambda: b.sup.floors_refused(lift) is None)
        b.controller.card_read(b.doors[door], "C101")
        await b.wait(lambda: 12 in b.floors_enabled(lift))


async def test_a_recall_by_the_hub_or_the_edge_enables_nothing(tmp_path: Path) -> None:
    async with building(tmp_path) as b:
        assert b.sup.hub_recall(True, "drill") == ["lift-a", "lift-b"]
        await b.wait(lambda: b.rec.device("lift-b", "life_safety"))
        b.controller.card_read(b.doors["car-b"], "C101")
        await b.wait(lambda: _refusals(b, "lift-b"))
        assert "hub" in (_refusals(b, "lift-b")[0].detail or "")
        b.sup.hub_recall(False, "drill over")
        await b.wait(lambda: b.rec.device("lift-b", "life_safety_reset"))
        b.sup.fire_active = True  # as a fire panel's alarm sets it
        b.controller.card_read(b.doors["car-a"], "C101")
        await b.wait(lambda: _refusals(b, "lift-a"))
        assert "fire" in (_refusals(b, "lift-a")[0].detail or "")
        assert b.floors_enabled("lift-a") == [] and b.floors_enabled("lift-b") == []
