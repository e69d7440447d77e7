"""The building's doors: OSDP reader events in; lock relays, LEDs, buzzers and events out.

Every credential — card, QR code, visitor pass, Bluetooth, and the next ones (PIN, plate) —
ends in the same `_outcome`: the relay first (the person is waiting), then the counters, the
car's floors, the reader's LED and buzzer, and the access event. Decisions read the injected
wall clock; the door state machines run on the monotonic clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

from edge.access.cache import PermissionCache
from edge.access.cardformat import CardFormatError, decode_wiegand, raw_text
from edge.access.decision import AccessDecider, Decision
from edge.access.door import Action, DoorStateMachine, Emit, SetLock
from edge.access.pin import verify_pin
from edge.access.schedule import site_local
from edge.access.tokens import SignedCredentialDecider, SignedDecision
from edge.devices import DeviceSupervisor, floors_for
from edge.drivers.osdp import (
    CardRead,
    InputChanged,
    KeyPress,
    OsdpBus,
    OsdpError,
    ReaderConfig,
    ReaderInsecure,
    ReaderKeyed,
    ReaderKeyFailed,
    ReaderLocalStatus,
    ReaderStatus,
    ScanRead,
)
from edge.keypad import PIN_TIMEOUT_S, Keypad, PinWait
from edge.reader_keys import ReaderKeyStore, fingerprint
from edge.reader_signals import MOMENTS, RESTING, Resting, Signal
from edge.report import Reporter
from edge.tasks import Tasks, stop
from wire import AccessData, AgentData, CardFormatRule, DoorData
from wire.config import DoorConfig
from wire.events import CREDENTIAL_MAX_LEN, AccessReason, CredentialType, DoorEventType
from wire.tokens import BleAnswer, BleChallenge

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]  # aware UTC


# door events after which the reader's resting pattern may change
_RESTING_CHANGES = frozenset({"held_open", "forced_open", "closed", "lockdown", "released"})


@dataclass
class Door:
    config: DoorConfig
    bus: OsdpBus
    fsm: DoorStateMachine
    online: bool = False
    counters: dict[str, int] = field(default_factory=lambda: {"granted": 0, "denied": 0})
    keypad: Keypad = field(default_factory=Keypad)
    alarm: Literal["held_open", "forced_open"] | None = None  # until the door closes
    tamper: bool = False
    power_fail: bool = False
    install_until: float | None = None  # install mode: OSDP's default key allowed until then

    @property
    def locked_down(self) -> bool:
        return self.fsm.mode == "locked_down"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a decision on any credential comes to at the door, and what its event reports."""

    credential_type: CredentialType
    credential: str
    result: Literal["granted", "denied"]
    reason: AccessReason
    resident_id: int | None
    decision_us: int
    warning: AccessReason | None = None
    pass_id: int | None = None
    pass_uses: int | None = None

    @property
    def granted(self) -> bool:
        return self.result == "granted"

    def snapshot_key(self) -> str | None:
        """The snapshot credential this outcome was decided on (see hub.credentials.grants)."""
        if self.credential_type == "card":
            return self.credential
        if self.credential_type == "qr" and self.resident_id is not None:
            return f"qr:{self.resident_id}"
        if self.credential_type == "visitor_pass" and self.pass_id is not None:
            return f"pass:{self.pass_id}"
        if self.credential_type == "ble":
            return "ble:" + self.credential.removeprefix("phone-key:")
        return None

    @classmethod
    def of_card(cls, card: str, decision: Decision) -> Outcome:
        return cls("card", card, decision.result, decision.reason, decision.resident_id,
                   decision.decision_us, warning=decision.warning)

    @classmethod
    def refused(cls, credential: str, reason: AccessReason, started_ns: int,
                resident_id: int | None = None) -> Outcome:
        return cls("card", credential, "denied", reason, resident_id,
                   (time.perf_counter_ns() - started_ns) // 1000)

    @classmethod
    def of_signed(cls, decision: SignedDecision) -> Outcome:
        return cls(decision.credential_type, decision.credential, decision.result,
                   decision.reason, decision.resident_id, decision.decision_us,
                   pass_id=decision.pass_id, pass_uses=decision.pass_uses)


def access_data(door: str, outcome: Outcome) -> AccessData:
    """The access event of `outcome`. A credential the event cannot carry as read (control
    characters, longer than the wire allows, empty) is escaped or cut to fit and the event
    flagged `malformed`: a refused attempt always leaves its trace."""
    credential, altered = outcome.credential, []
    if not credential.isprintable():
        credential = credential.encode("unicode_escape").decode("ascii")
        altered.append("unprintable characters escaped")
    if len(credential) > CREDENTIAL_MAX_LEN:
        digest = hashlib.sha256(outcome.credential.encode("utf-8", "surrogatepass")).hexdigest()
        altered.append(f"{len(credential)} characters cut to {CREDENTIAL_MAX_LEN} "
                       f"(sha256 of the whole: {digest})")
        credential = credential[:CREDENTIAL_MAX_LEN]
    if not credential:
        credential = "-"
        altered.append("empty, sent as '-'")
    malformed = f"credential: {'; '.join(altered)}" if altered else None
    if malformed:
        log.warning("door %s: %s", door, malformed)
    return AccessData(
        door=door, credential_type=outcome.credential_type, credential=credential,
        resident_id=outcome.resident_id, result=outcome.result, reason=outcome.reason,
        decision_us=outcome.decision_us, warning=outcome.warning, pass_id=outcome.pass_id,
        pass_uses=outcome.pass_uses, malformed=malformed,
    )


@dataclass
class _Bus:
    bus: OsdpBus
    task: asyncio.Task[None]
    signature: tuple[object, ...]  # what the bus was opened with: reopened when it changes


def _bus_signature(configs: list[DoorConfig], key_of: Callable[[DoorConfig], bytes]
                   ) -> tuple[object, ...]:
    """What an OSDP bus runs: its speed and its readers (door, address, and the key it uses:
    a key the reader took here counts, so a configuration carrying it back reopens nothing)."""
    if not configs:
        return ()
    return (configs[0].reader.baudrate,
            *((c.id, c.reader.address, key_of(c)) for c in configs))


class DoorController:
    """`async with DoorController(...)` opens the OSDP buses and runs the doors until exit."""

    def __init__(self, configs: Iterable[DoorConfig], *, cache: PermissionCache,
                 decider: AccessDecider, signed: SignedCredentialDecider, report: Reporter,
                 clock: Clock, tick_s: float, keys: ReaderKeyStore | None = None,
                 seal: Callable[[bytes, str], str | None] | None = None) -> None:
        self._configs = list(configs)
        self.locked_down = False  # the hub's lockdown of this edge (its doors, its boards)
        self._keys = keys  # the keys readers took here, over the configured ones
        # seals a reader's new key (and its `door/address`) to the hub; None: cannot
        self._seal = seal or (lambda key, where: None)
        self._cache = cache
        self._decider = decider
        self._signed = signed
        self._report = report
        self._clock = clock
        self._tick_s = tick_s
        self.doors: dict[str, Door] = {}
        self._by_reader: dict[tuple[str, int], Door] = {}
        # the building's elevators once they run: a card granted in a car enables its floors
        self.elevators: DeviceSupervisor | None = None
        self._buses: dict[str, _Bus] = {}  # port -> the OSDP bus serving its readers
        self._tasks = Tasks()

    async def __aenter__(self) -> Self:
        try:
            await self.reconcile(self._configs)
            self._tasks.spawn(self._timers(), "door-timers")
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close()

    async def _close(self) -> None:
        await self._tasks.cancel()
        for port in list(self._buses):
            await self._close_bus(port)

    async def reconcile(self, configs: Iterable[DoorConfig]) -> list[str]:
        """Run exactly the doors `configs` describe (resolved: every reader on its port).

        A door whose configuration is unchanged keeps running untouched; a changed door is
        rebuilt (a fresh state machine); a removed one stops. A line whose set of readers
        changed (one added, removed, re-keyed or moved) is reopened, the unchanged doors on it
        keeping their state; other lines are not touched. Returns the ids rebuilt or added."""
        configs = list(configs)
        wanted: dict[str, list[DoorConfig]] = defaultdict(list)
        for config in configs:
            wanted[config.reader.serial_port].append(config)
        for port in [p for p, bus in self._buses.items()
                     if _bus_signature(wanted.get(p, []), self._reader_key) != bus.signature]:
            await self._close_bus(port)
        for port, on_port in wanted.items():
            if port not in self._buses:
                await self._open_bus(port, on_port)
        doors: dict[str, Door] = {}
        changed: list[str] = []
        for config in configs:
            bus = self._buses[config.reader.serial_port].bus
            door = self.doors.get(config.id)
            if door is None or door.config != config:
                door = Door(config, bus, DoorStateMachine(
                    unlock_s=config.unlock_s, held_open_s=config.held_open_s,
                    now=time.monotonic()))
                changed.append(config.id)
            elif door.bus is not bus:
                door.bus, door.online = bus, False  # its line reopened: same door, same state
                if door.install_until is not None:  # still in install mode on the new bus
                    self._drive(door, bus.install, config.reader.address, True)
            doors[config.id] = door
        self.doors = doors
        self._by_reader = {(d.config.reader.serial_port, d.config.reader.address): d
                           for d in doors.values()}
        return changed

    async def _open_bus(self, port: str, configs: list[DoorConfig]) -> None:
        readers = [ReaderConfig(address=c.reader.address, scbk=self._reader_key(c), name=c.id)
                   for c in configs]
        bus = OsdpBus(port, readers, baudrate=configs[0].reader.baudrate)
        await bus.__aenter__()
        task = self._tasks.spawn(self._pump(port, bus), f"osdp-{port}")
        self._buses[port] = _Bus(bus, task, _bus_signature(configs, self._reader_key))

    async def _close_bus(self, port: str) -> None:
        held = self._buses.pop(port)
        await stop(held.task)
        await held.bus.__aexit__(None, None, None)

    def _reader_key(self, config: DoorConfig) -> bytes:
        """The key the door's reader took at this edge, else the configured one."""
        reader = config.reader
        stored = None if self._keys is None else self._keys.get(config.id, reader.serial_port,
                                                                  reader.address)
        return reader.key if stored is None else stored

    def attach(self, config: DoorConfig, bus: OsdpBus) -> Door:
        """Run the door `config` describes through `bus` (open, and serving its reader)."""
        fsm = DoorStateMachine(unlock_s=config.unlock_s, held_open_s=config.held_open_s,
                               now=time.monotonic())
        door = Door(config, bus, fsm)
        self.doors[config.id] = door
        self._by_reader[(config.reader.serial_port, config.reader.address)] = door
        return door

    # --- reader events ---------------------------------------------------------------
    async def _pump(self, port: str, bus: OsdpBus) -> None:
        while True:
            event = await bus.next_event()
            door = self._by_reader.get((port, event.address))
            if door is None:
                log.warning("event from unconfigured reader %s@%s ignored", event.address, port)
                continue
            try:
                if isinstance(event, CardRead):
                    if event.format == "wiegand":
                        self.wiegand_read(door, event.data, event.bits)
                    else:
                        self.card_read(door, event.card)
                elif isinstance(event, KeyPress):
                    self.key_press(door, event.keys)
                elif isinstance(event, ReaderLocalStatus):
                    self._local_status(door, event)
                elif isinstance(event, ReaderKeyed):
                    self._reader_keyed(door, event)
                elif isinstance(event, ReaderKeyFailed):
                    self._agent(door, "reader_key_failed", event.reason, reason="keyset_refused")
                elif isinstance(event, InputChanged):
                    self._input(door, event)
                elif isinstance(event, ReaderStatus):
                    self._reader_status(door, event)
                elif isinstance(event, ReaderInsecure):
                    self._reader_insecure(door, event)
                elif isinstance(event, ScanRead):
                    self.qr_read(door, event.data)
            except Exception:  # one bad event must not stop the door
                log.exception("door %s: event %r failed", door.config.id, event)

    def card_read(self, door: Door, card: str, *, facility: int | None = None) -> Decision:
        state = self._cache.state
        info = None if state is None else state.doors.get(door.config.id)
        pin = info is not None and info.pin_required
        # card + PIN: the card is not a passage (anti-passback) until its PIN is right
        decision = self._decider.decide_card(door.config.id, card, self._clock(),
                                             locked_down=door.locked_down, facility=facility,
                                             record=not pin)
        if decision.granted and pin and state is not None:
            record = None if decision.resident_id is None else state.pins.get(decision.resident_id)
            if record is None:  # card + PIN, and the holder has no PIN: the card alone is not enough
                self._outcome(door, Outcome("card", card, "denied", "pin_not_set",
                                            decision.resident_id, decision.decision_us))
                return decision
            door.keypad.expect(PinWait(card=card, decision=decision, record=record,
                                       deadline=time.monotonic() + PIN_TIMEOUT_S))
            self._signal(door, MOMENTS["pin_wait"])
            return decision
        self._outcome(door, Outcome.of_card(card, decision))
        return decision

    def wiegand_read(self, door: Door, data: bytes, bits: int) -> None:
        """Raw Wiegand bits: decoded by the site's card format, then decided as a card."""
        started = time.perf_counter_ns()
        state = self._cache.state
        rule = CardFormatRule() if state is None else state.card_format
        try:
            card = decode_wiegand(data, bits, rule)
        except CardFormatError as exc:
            log.info("door %s: raw read refused: %s", door.config.id, exc)
            self._outcome(door, Outcome.refused(raw_text(data, bits), exc.reason, started))
            return
        self.card_read(door, str(card.number), facility=card.facility)

    def key_press(self, door: Door, keys: str) -> None:
        """Keys on the door's keypad: a PIN ended by "#" decides the card waiting for it."""
        now = time.monotonic()
        entered = door.keypad.feed(keys, now)
        if entered is None:
            return
        wait, pin = entered
        started = time.perf_counter_ns()
        result = verify_pin(wait.record, pin)
        spent_us = wait.decision.decision_us + (time.perf_counter_ns() - started) // 1000
        who = wait.decision.resident_id
        if result == "wrong":
            self._outcome(door, Outcome("card", wait.card, "denied", "pin_wrong", who, spent_us))
            if door.keypad.failed(now):
                self._door_event(door, "pin_failures", "wrong PINs in a row at the keypad")
            return
        door.keypad.succeeded()
        self._decider.record_passage(door.config.id, wait.card, self._clock())
        # a duress PIN opens like any other, silently: only the event tells the guards
        self._outcome(door, Outcome("card", wait.card, "granted", "granted", who, spent_us,
                                    warning="duress" if result == "duress" else
                                    wait.decision.warning))

    def qr_read(self, door: Door, text: bytes | str) -> SignedDecision:
        """A QR code scanned at `door`'s reader: a resident's code or a visitor pass."""
        decision = self._signed.decide_qr(door.config.id, text, self._clock(),
                                          locked_down=door.locked_down)
        self._outcome(door, Outcome.of_signed(decision))
        return decision

    def ble_challenge(self, door_id: str) -> BleChallenge:
        """The challenge `door_id`'s Bluetooth reader hands to an approaching phone."""
        if door_id not in self.doors:
            raise KeyError(f"unknown door {door_id!r}")
        return self._signed.ble_challenge(door_id, self._clock())

    def ble_answer(self, door_id: str, answer: BleAnswer) -> SignedDecision:
        """The phone's signed answer, relayed by `door_id`'s Bluetooth reader."""
        door = self.doors[door_id]
        decision = self._signed.decide_ble(door_id, answer, self._clock(),
                                           locked_down=door.locked_down)
        self._outcome(door, Outcome.of_signed(decision))
        return decision

    def _outcome(self, door: Door, outcome: Outcome) -> None:
        """The one path every credential's decision takes at the door."""
        if outcome.granted:
            self._apply(door, door.fsm.grant(time.monotonic()))  # the relay first
        door.counters[outcome.result] += 1
        if outcome.granted and door.config.elevator is not None:
            self._car_floors(door, outcome)
        self._signal(door, MOMENTS["granted" if outcome.granted else "denied"])
        self._report.event(door.config.id, access_data(door.config.id, outcome))

    def _car_floors(self, door: Door, outcome: Outcome) -> None:
        """A card, QR code, phone or pass granted in a car enables the holder's own floors and
        those of its groups that include this reader, of those its lift stops at; nothing else."""
        elevator, state = door.config.elevator, self._cache.state
        key = outcome.snapshot_key()
        if elevator is None or self.elevators is None or state is None or key is None:
            return
        cred = state.credentials.get(key)
        if cred is None:
            return
        floors = floors_for(cred.groups, cred.floors,
                            state.door_groups.get(door.config.id, frozenset()), state.groups)
        if door.config.floors is not None:  # the lift's own stops (the hub's floor map)
            floors &= set(door.config.floors)
        self.elevators.request_floors(elevator, sorted(floors), door.config.floor_enable_s)

    def _input(self, door: Door, event: InputChanged) -> None:
        now = time.monotonic()
        if event.input_no == door.config.contact_input:
            self._apply(door, door.fsm.contact(event.active, now))
        elif event.input_no == door.config.rex_input and event.active:
            self._apply(door, door.fsm.rex(now))

    def _reader_status(self, door: Door, event: ReaderStatus) -> None:
        if event.online and event.secure and door.install_until is not None:
            self._give_key(door)  # in install mode: the reader came up, give it its own key
        if event.online == door.online:
            return
        door.online = event.online
        if event.online:
            # The controller may have restarted: put the lock back where the door wants it.
            self._set_relay(door, locked=door.fsm.locked)
            self._rest(door)
        detail = f"reader {door.config.id} at OSDP address {event.address}"
        if event.restarts:
            # the bus restarts an offline reader's session by itself (a broken secure
            # channel, a power cycle): how often so far says whether it keeps failing
            detail += f"; reader session restarted {event.restarts} times by the edge"
        log.log(logging.INFO if event.online else logging.WARNING, "door %s: %s %s",
                door.config.id, detail, "online" if event.online else "offline")
        self._report.event(door.config.id, AgentData(
            event="device_online" if event.online else "device_offline", door=door.config.id,
            address=event.address, detail=detail))

    def _reader_insecure(self, door: Door, event: ReaderInsecure) -> None:
        """Its own alarm, not a plain offline: someone may have swapped the reader."""
        log.warning("door %s: reader at OSDP address %s not used: %s", door.config.id,
                    event.address, event.reason)
        what = ("offers OSDP's default key" if event.reason == "default_key"
                else "refuses or fails the secure channel with its key")
        self._report.event(door.config.id, AgentData(
            event="reader_insecure", door=door.config.id, address=event.address,
            reason=event.reason, detail=f"reader {door.config.id} at OSDP address "
            f"{event.address} {what}: not used"))

    def _local_status(self, door: Door, event: ReaderLocalStatus) -> None:
        """The reader's tamper switch and power monitor, reported when they change."""
        if event.tamper != door.tamper:
            door.tamper = event.tamper
            self._door_event(door, "reader_tamper" if event.tamper else "reader_tamper_cleared",
                             f"reader at OSDP address {event.address}")
        if event.power_fail != door.power_fail:
            door.power_fail = event.power_fail
            self._door_event(door, "reader_power_fail" if event.power_fail else "reader_power_ok",
                             f"reader at OSDP address {event.address}")

    # --- commissioning: install mode and the reader's own key ----------------------------
    def reader_install(self, door_id: str, duration_s: float) -> str | None:
        """Put `door_id`'s reader in install mode for `duration_s`: OSDP's default key is
        allowed, and the reader that comes up with it is given a fresh key of its own.
        None when started, else why not."""
        door = self.doors.get(door_id)
        if door is None:
            return f"unknown door {door_id}"
        address = door.config.reader.address
        try:
            door.bus.install(address, True)
        except OsdpError as exc:
            return str(exc)
        door.install_until = time.monotonic() + duration_s
        self._agent(door, "reader_install", f"reader at OSDP address {address} in install mode "
                    f"for {duration_s:.0f} s")
        if door.bus.is_online(address):
            self._give_key(door)
        return None

    def rotate_key(self, door_id: str) -> str | None:
        """Give `door_id`'s reader (online, on the secure channel) a fresh key. None when the
        KEYSET went out (`reader_keyed` follows), else why not."""
        door = self.doors.get(door_id)
        if door is None:
            return f"unknown door {door_id}"
        try:
            door.bus.set_key(door.config.reader.address, os.urandom(16))
        except OsdpError as exc:
            return str(exc)
        return None

    def _give_key(self, door: Door) -> None:
        try:
            door.bus.set_key(door.config.reader.address, os.urandom(16))
        except OsdpError as exc:  # under way already, or offline again: the next online retries
            log.info("door %s: %s", door.config.id, exc)

    def _reader_keyed(self, door: Door, event: ReaderKeyed) -> None:
        """Kept here first (the reader now knows nothing else), then sealed to the hub."""
        reader = door.config.reader
        stored = True
        if self._keys is not None:
            try:
                self._keys.put(door.config.id, reader.serial_port, reader.address, event.key)
            except OSError as exc:  # the bus uses the key now; the hub gets it sealed below
                stored = False
                log.error("door %s: the reader's new key could not be stored: %s",
                          door.config.id, exc)
                self._agent(door, "reader_key_failed", f"the reader's new key was not stored "
                            f"on the edge ({exc.strerror}): after a restart the hub's "
                            "configuration must carry it", reason="not_stored")
        if door.install_until is not None:
            door.install_until = None
            self._drive(door, door.bus.install, reader.address, False)  # SCBK-D refused again
        held = self._buses.get(reader.serial_port)
        if held is not None and stored:  # the bus runs the new key already
            on_port = [d.config for d in self.doors.values()
                       if d.config.reader.serial_port == reader.serial_port]
            held.signature = _bus_signature(on_port, self._reader_key)
        sealed = self._seal(event.key, f"{door.config.id}/{reader.address}")
        named = fingerprint(event.key)
        self._report.event(door.config.id, AgentData(
            event="reader_keyed", door=door.config.id, address=event.address,
            key_fingerprint=named, sealed_key=sealed,
            detail=f"reader {door.config.id} at OSDP address {event.address} took a key of its "
            f"own ({named})" + ("" if sealed else "; no hub key to seal it to: kept here only")
            + ("" if stored else "; NOT stored on the edge")))

    def _install_over(self, door: Door, now: float) -> None:
        if door.install_until is None or now < door.install_until:
            return
        door.install_until = None
        self._drive(door, door.bus.install, door.config.reader.address, False)
        self._agent(door, "reader_install_ended", "install mode ended with no reader keyed",
                    reason="expired")

    # --- commands from the hub and life safety -------------------------------------------
    def remote_unlock(self, door_id: str, duration_s: float | None) -> bool:
        """Unlock `door_id` for `duration_s` (its own pulse if None); False if no such door."""
        door = self.doors.get(door_id)
        if door is None:
            return False
        self._apply(door, door.fsm.remote_unlock(time.monotonic(),
                                                 duration_s or door.config.unlock_s))
        return True

    def relock(self, door_id: str) -> bool:
        door = self.doors.get(door_id)
        if door is None:
            return False
        self._apply(door, door.fsm.relock(time.monotonic()))
        return True

    def lockdown(self, active: bool) -> None:
        """Lock every door down (or release them all)."""
        self.locked_down = active
        now = time.monotonic()
        for door in self.doors.values():
            self._apply(door, door.fsm.lockdown(now) if active else door.fsm.release(now))

    def fire(self, active: bool) -> list[str]:
        """Release (or restore) every fail-safe egress door at once; returns their ids."""
        now = time.monotonic()
        released = []
        for door in self.doors.values():
            if door.config.fail_safe_egress:
                self._apply(door, door.fsm.fire_release(now) if active else door.fsm.fire_reset(now))
                if not active:
                    self._rest(door)
                released.append(door.config.id)
        return released

    # --- the lock relays and the timers ----------------------------------------------
    def _apply(self, door: Door, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SetLock):
                self._set_relay(door, locked=action.locked)
            elif isinstance(action, Emit):
                self._report.event(door.config.id, DoorData(
                    door=door.config.id, event=action.event, cause=action.cause))
                if action.event in ("held_open", "forced_open"):
                    door.alarm = action.event
                elif action.event == "closed":
                    door.alarm = None
                if action.event in _RESTING_CHANGES:
                    self._rest(door)

    # --- what the reader shows ------------------------------------------------------------
    def _resting(self, door: Door) -> Resting:
        if door.fsm.fire_released:
            return "fire_release"
        if door.alarm is not None:
            return door.alarm
        return "lockdown" if door.locked_down else "normal"

    def _rest(self, door: Door) -> None:
        signal = RESTING[self._resting(door)]
        self._signal(door, signal)
        if signal.beeps is None:
            self._drive(door, door.bus.buzz_off, door.config.reader.address)

    def _signal(self, door: Door, signal: Signal) -> None:
        address, led = door.config.reader.address, signal.led
        self._drive(door, door.bus.led_pattern, address, led.color, on_ms=led.on_ms,
                    off_ms=led.off_ms, for_ms=led.for_ms, off_color=led.off_color)
        if signal.beeps is not None:
            beeps = signal.beeps
            self._drive(door, door.bus.buzz_pattern, address, on_ms=beeps.on_ms,
                        off_ms=beeps.off_ms, count=beeps.count)

    def _door_event(self, door: Door, event: DoorEventType, detail: str) -> None:
        self._report.event(door.config.id, DoorData(door=door.config.id, event=event,
                                                    detail=detail))

    def _agent(self, door: Door, event: Literal["reader_install", "reader_key_failed",
                                                "reader_install_ended"],
               detail: str, *, reason: str | None = None) -> None:
        self._report.event(door.config.id, AgentData(
            event=event, door=door.config.id, address=door.config.reader.address,
            detail=detail, reason=reason))

    def _set_relay(self, door: Door, *, locked: bool) -> None:
        self._drive(door, door.bus.output, door.config.reader.address, door.config.relay_output,
                    not locked)

    def _drive(self, door: Door, command: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Send one command to a door's controller; an offline reader is logged, not fatal."""
        try:
            command(*args, **kwargs)
        except OsdpError as exc:
            log.warning("door %s: %s", door.config.id, exc)

    async def _timers(self) -> None:
        while True:
            now = time.monotonic()
            unlocked = self._scheduled_unlocks()
            for door in self.doors.values():
                self._apply(door, door.fsm.tick(now))
                self._apply(door, door.fsm.schedule_unlocked(door.config.id in unlocked, now))
                self._pin_expired(door, now)
                self._install_over(door, now)
            deadlines = [d for door in self.doors.values()
                         for d in (door.fsm.next_deadline(), door.keypad.next_deadline,
                                   door.install_until) if d is not None]
            await asyncio.sleep(min([self._tick_s, *[max(0.0, d - now) for d in deadlines]]))

    def _pin_expired(self, door: Door, now: float) -> None:
        wait = door.keypad.expired(now)
        if wait is not None:
            self._outcome(door, Outcome("card", wait.card, "denied", "pin_timeout",
                                        wait.decision.resident_id, wait.decision.decision_us))

    def _scheduled_unlocks(self) -> set[str]:
        """Doors whose snapshot mode is unlocked_on_schedule and whose schedule is open now
        (never on a site holiday: the building keeps its doors locked then)."""
        state = self._cache.state
        if state is None:
            return set()
        local = site_local(self._clock(), state.timezone)
        if local.date() in state.holidays:
            return set()
        return {
            door.id for door in state.doors.values()
            if door.mode == "unlocked_on_schedule" and door.unlock_schedule is not None
            and state.schedules[door.unlock_schedule].is_open(local)
        }
