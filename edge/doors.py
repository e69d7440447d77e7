"""The building's doors: OSDP reader events in; lock relays, LEDs, buzzers and events out.

Every credential — card, QR code, visitor pass, Bluetooth, and the next ones (PIN, plate) —
ends in the same `_outcome`: the relay first (the person is waiting), then the counters, the
car's floors, the reader's LED and buzzer, and the access event. Decisions read the injected
wall clock; the door state machines run on the monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

from edge.access.cache import PermissionCache
from edge.access.decision import AccessDecider, Decision
from edge.access.door import Action, DoorStateMachine, Emit, SetLock
from edge.access.schedule import site_local
from edge.access.tokens import SignedCredentialDecider, SignedDecision
from edge.devices import DeviceSupervisor, floors_for
from edge.drivers.osdp import (
    CardRead,
    InputChanged,
    OsdpBus,
    OsdpError,
    ReaderConfig,
    ReaderInsecure,
    ReaderStatus,
    ScanRead,
)
from edge.report import Reporter
from edge.tasks import Tasks
from wire import AccessData, AgentData, DoorData
from wire.config import DoorConfig
from wire.events import CREDENTIAL_MAX_LEN, AccessReason, CredentialType
from wire.tokens import BleAnswer, BleChallenge

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]  # aware UTC


@dataclass
class Door:
    config: DoorConfig
    bus: OsdpBus
    fsm: DoorStateMachine
    online: bool = False
    counters: dict[str, int] = field(default_factory=lambda: {"granted": 0, "denied": 0})

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

    @classmethod
    def of_card(cls, card: str, decision: Decision) -> Outcome:
        return cls("card", card, decision.result, decision.reason, decision.resident_id,
                   decision.decision_us, warning=decision.warning)

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


def _bus_signature(configs: list[DoorConfig]) -> tuple[object, ...]:
    """What an OSDP bus is opened with: its speed and its readers (door, address, key)."""
    if not configs:
        return ()
    return (configs[0].reader.baudrate,
            *((c.id, c.reader.address, c.reader.scbk) for c in configs))


class DoorController:
    """`async with DoorController(...)` opens the OSDP buses and runs the doors until exit."""

    def __init__(self, configs: Iterable[DoorConfig], *, cache: PermissionCache,
                 decider: AccessDecider, signed: SignedCredentialDecider, report: Reporter,
                 clock: Clock, tick_s: float) -> None:
        self._configs = list(configs)
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
                     if _bus_signature(wanted.get(p, [])) != bus.signature]:
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
            doors[config.id] = door
        self.doors = doors
        self._by_reader = {(d.config.reader.serial_port, d.config.reader.address): d
                           for d in doors.values()}
        return changed

    async def _open_bus(self, port: str, configs: list[DoorConfig]) -> None:
        readers = [ReaderConfig(address=c.reader.address, scbk=c.reader.key, name=c.id)
                   for c in configs]
        bus = OsdpBus(port, readers, baudrate=configs[0].reader.baudrate)
        await bus.__aenter__()
        task = self._tasks.spawn(self._pump(port, bus), f"osdp-{port}")
        self._buses[port] = _Bus(bus, task, _bus_signature(configs))

    async def _close_bus(self, port: str) -> None:
        held = self._buses.pop(port)
        held.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await held.task
        await held.bus.__aexit__(None, None, None)

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
                    self.card_read(door, event.card)
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

    def card_read(self, door: Door, card: str) -> Decision:
        decision = self._decider.decide_card(door.config.id, card, self._clock(),
                                             locked_down=door.locked_down)
        self._outcome(door, Outcome.of_card(card, decision), car_card=card)
        return decision

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

    def _outcome(self, door: Door, outcome: Outcome, *, car_card: str | None = None) -> None:
        """The one path every credential's decision takes at the door."""
        if outcome.granted:
            self._apply(door, door.fsm.grant(time.monotonic()))  # the relay first
        door.counters[outcome.result] += 1
        if outcome.granted and car_card is not None:
            self._car_floors(door, car_card)
        address = door.config.reader.address
        self._drive(door, door.bus.led, address, "green" if outcome.granted else "red")
        if not outcome.granted:
            self._drive(door, door.bus.buzz, address, on_ms=300)
        self._report.event(door.config.id, access_data(door.config.id, outcome))

    def _car_floors(self, door: Door, card: str) -> None:
        """A card granted in an elevator car enables the floors its groups allow there."""
        elevator, state = door.config.elevator, self._cache.state
        if elevator is None or self.elevators is None or state is None:
            return
        cred = state.credentials.get(card)
        if cred is None:
            return
        floors = floors_for(cred.groups, state.door_groups.get(door.config.id, frozenset()),
                            {g: list(rule.floors) for g, rule in state.groups.items()})
        self.elevators.request_floors(elevator, sorted(floors), door.config.floor_enable_s)

    def _input(self, door: Door, event: InputChanged) -> None:
        now = time.monotonic()
        if event.input_no == door.config.contact_input:
            self._apply(door, door.fsm.contact(event.active, now))
        elif event.input_no == door.config.rex_input and event.active:
            self._apply(door, door.fsm.rex(now))

    def _reader_status(self, door: Door, event: ReaderStatus) -> None:
        if event.online == door.online:
            return
        door.online = event.online
        if event.online:
            # The controller may have restarted: put the lock back where the door wants it.
            self._set_relay(door, locked=door.fsm.locked)
        detail = f"reader {door.config.id} at OSDP address {event.address}"
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
            deadlines = [d for door in self.doors.values()
                         if (d := door.fsm.next_deadline()) is not None]
            await asyncio.sleep(min([self._tick_s, *[max(0.0, d - now) for d in deadlines]]))

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
