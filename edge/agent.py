"""The edge agent: readers and doors in, decisions at the door, events out through the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from wire import (
    AccessData,
    AgentData,
    CommandAck,
    DoorData,
    EdgeCommand,
    EdgeState,
    PermissionDelta,
    PermissionSnapshot,
    WireError,
    topics,
)
from wire._base import describe
from wire.tokens import BleAnswer, BleChallenge

from edge import __version__
from edge.access.cache import PermissionCache
from edge.access.decision import AccessDecider
from edge.access.door import DoorStateMachine, Emit, SetLock
from edge.access.errors import AccessError, SnapshotRejectedError
from edge.access.passback import PassbackLog
from edge.access.schedule import site_local
from edge.access.tokens import CredentialLedger, SignedCredentialDecider, SignedDecision
from edge.cameras.supervisor import CameraSupervisor
from edge.config import DoorConfig, EdgeConfig
from edge.drivers.osdp import (
    CardRead,
    InputChanged,
    OsdpBus,
    OsdpError,
    ReaderConfig,
    ReaderStatus,
    ScanRead,
)
from edge.devices import DeviceSupervisor, floors_for
from edge.disk import DiskWatch
from edge.errors import OutboxError
from edge.outbox import Outbox
from edge.trust import DownlinkGate, DownlinkVerifier, TrustStore
from edge.uplink import Uplink

log = logging.getLogger(__name__)
# the hub ends a snapshot's JSON with its version and hash (wire.permissions.sealed_payload)
_SEAL = re.compile(rb'"version":(\d+),"hash":"([0-9a-f]{64})"')


@dataclass
class _Door:
    config: DoorConfig
    bus: OsdpBus
    fsm: DoorStateMachine
    online: bool = False
    counters: dict[str, int] = field(default_factory=lambda: {"granted": 0, "denied": 0})


class EdgeAgent:
    """`async with EdgeAgent(config) as agent:` runs the building's doors until exit."""

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self._stack = contextlib.AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self.doors: dict[str, _Door] = {}
        self._by_reader: dict[tuple[str, int], _Door] = {}
        # wall clock (aware UTC) for decisions and unlock schedules; tests may replace it
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self.devices: DeviceSupervisor | None = None
        self.cameras: CameraSupervisor | None = None

    # --- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> "EdgeAgent":
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(cfg.data_dir / "outbox.db", site=cfg.site, edge=cfg.edge)
        self._stack.callback(self.outbox.close)
        self.cache = PermissionCache(cfg.data_dir / "permissions.db")
        self._stack.callback(self.cache.close)
        self.passback = PassbackLog(cfg.data_dir / "passback.db")
        self._stack.callback(self.passback.close)
        self.decider = AccessDecider(self.cache, self.passback)
        self.ledger = CredentialLedger(cfg.data_dir / "credentials.db")
        self._stack.callback(self.ledger.close)
        self.signed = SignedCredentialDecider(self.cache, self.ledger)
        self.trust = TrustStore(cfg.data_dir / "trust.db")
        self._stack.callback(self.trust.close)
        verifier = DownlinkVerifier(cfg.hub_keys, site=cfg.site, edge=cfg.edge)
        verifier.set_delivered(self.trust.delivered_keys())
        self.downlink = DownlinkGate(verifier, self._downlink_refused, store=self.trust)
        if not cfg.hub_keys:
            log.error("no hub_keys in the configuration: every message from the hub is refused")
        try:
            buses: dict[str, list[DoorConfig]] = {}
            for door in cfg.doors:
                buses.setdefault(door.reader.port, []).append(door)
            for port, doors in buses.items():
                readers = [
                    ReaderConfig(address=d.reader.address, scbk=d.reader.key, name=d.id) for d in doors
                ]
                bus = await self._stack.enter_async_context(
                    OsdpBus(port, readers, baudrate=doors[0].reader.baudrate)
                )
                for d in doors:
                    fsm = DoorStateMachine(
                        unlock_s=d.unlock_s, held_open_s=d.held_open_s, now=time.monotonic()
                    )
                    runtime = _Door(d, bus, fsm)
                    self.doors[d.id] = runtime
                    self._by_reader[(port, d.reader.address)] = runtime
                self._spawn(self._pump(port, bus), f"osdp-{port}")
            self.uplink = await self._stack.enter_async_context(
                Uplink(cfg, self.outbox, state=self.state, version=__version__)
            )
            self._spawn(self._incoming(), "incoming")
            self._spawn(self.downlink.run(), "downlink-refusals")
            if cfg.devices:
                self.devices = await self._stack.enter_async_context(
                    DeviceSupervisor(cfg.devices, self._device_event, self._fire_doors)
                )
            if cfg.cameras:
                self.cameras = await self._stack.enter_async_context(CameraSupervisor(
                    cfg.cameras, self._device_event, self._camera_qr, data_dir=cfg.data_dir,
                    uploads=cfg.uploads, timezone_of_site=self._site_zone))
            self._spawn(self._timers(), "door-timers")
            self.disk = DiskWatch(cfg.data_dir, cfg.disk_low_mb * 1_000_000)
            self._spawn(self._watch_disk(), "disk-watch")
            self._agent_event("started", f"lintel edge {__version__}, {len(self.doors)} doors")
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._agent_event("stopping", "agent stopping")
        await self._close()

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._stack.aclose()

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(self._guard(coro, name), name=name))

    @staticmethod
    async def _guard(coro: Any, name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("edge task %s crashed", name)
            raise

    def state(self) -> EdgeState:
        return EdgeState(
            status="online", agent_version=__version__,
            perm_version=self.cache.version, perm_hash=self.cache.hash,
        )

    # --- readers and doors -----------------------------------------------------------
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
                elif isinstance(event, ScanRead):
                    self.qr_read(door, event.data)
            except Exception:  # one bad event must not stop the door
                log.exception("door %s: event %r failed", door.config.id, event)

    def card_read(self, door: _Door, card: str) -> None:
        decision = self.decider.decide_card(
            door.config.id, card, self.clock(),
            locked_down=door.fsm.mode == "locked_down",
        )
        granted = decision.result == "granted"
        if granted:
            # The relay first: the person is waiting at the door.
            self._apply(door, door.fsm.grant(time.monotonic()))
        door.counters[decision.result] += 1
        if granted and door.config.elevator is not None and self.devices is not None:
            self._car_floors(door, card)
        address = door.config.reader.address
        self._drive(door, door.bus.led, address, "green" if granted else "red")
        if not granted:
            self._drive(door, door.bus.buzz, address, on_ms=300)
        self.outbox.add_event(
            door.config.id,
            AccessData(
                door=door.config.id, credential_type="card", credential=card,
                resident_id=decision.resident_id, result=decision.result,
                reason=decision.reason, decision_us=decision.decision_us,
                warning=decision.warning,
            ),
        )
        self.uplink.wake()

    # --- signed credentials: QR codes, visitor passes, Bluetooth -------------------------
    def qr_read(self, door: _Door, text: bytes | str) -> SignedDecision:
        """A QR code scanned at `door`'s reader: a resident's code or a visitor pass."""
        decision = self.signed.decide_qr(
            door.config.id, text, datetime.now(timezone.utc),
            locked_down=door.fsm.mode == "locked_down",
        )
        self._signed_outcome(door, decision)
        return decision

    def ble_challenge(self, door_id: str) -> BleChallenge:
        """The challenge `door_id`'s Bluetooth reader hands to an approaching phone."""
        if door_id not in self.doors:
            raise KeyError(f"unknown door {door_id!r}")
        return self.signed.ble_challenge(door_id, datetime.now(timezone.utc))

    def ble_answer(self, door_id: str, answer: BleAnswer) -> SignedDecision:
        """The phone's signed answer, relayed by `door_id`'s Bluetooth reader."""
        door = self.doors[door_id]
        decision = self.signed.decide_ble(
            door_id, answer, datetime.now(timezone.utc), locked_down=door.fsm.mode == "locked_down"
        )
        self._signed_outcome(door, decision)
        return decision

    def _signed_outcome(self, door: _Door, decision: SignedDecision) -> None:
        if decision.granted:
            self._apply(door, door.fsm.grant(time.monotonic()))  # the relay first
        door.counters[decision.result] += 1
        address = door.config.reader.address
        self._drive(door, door.bus.led, address, "green" if decision.granted else "red")
        if not decision.granted:
            self._drive(door, door.bus.buzz, address, on_ms=300)
        self.outbox.add_event(
            door.config.id,
            AccessData(
                door=door.config.id, credential_type=decision.credential_type,
                credential=decision.credential, resident_id=decision.resident_id,
                result=decision.result, reason=decision.reason,
                decision_us=decision.decision_us, pass_id=decision.pass_id,
                pass_uses=decision.pass_uses,
            ),
        )
        self.uplink.wake()

    def _input(self, door: _Door, event: InputChanged) -> None:
        now = time.monotonic()
        if event.input_no == door.config.contact_input:
            self._apply(door, door.fsm.contact(event.active, now))
        elif event.input_no == door.config.rex_input and event.active:
            self._apply(door, door.fsm.rex(now))

    def _reader_status(self, door: _Door, event: ReaderStatus) -> None:
        if event.online == door.online:
            return
        door.online = event.online
        if event.online:
            # The controller may have restarted: put the lock back where the door wants it.
            self._set_relay(door, locked=door.fsm.locked)
        kind = "device_online" if event.online else "device_offline"
        detail = f"reader {door.config.id} at OSDP address {event.address}"
        self._agent_event(kind, detail, device=door.config.id)

    def _apply(self, door: _Door, actions: list[Any]) -> None:
        for action in actions:
            if isinstance(action, SetLock):
                self._set_relay(door, locked=action.locked)
            elif isinstance(action, Emit):
                self.outbox.add_event(
                    door.config.id,
                    DoorData(door=door.config.id, event=action.event, cause=action.cause),
                )
                self.uplink.wake()

    def _set_relay(self, door: _Door, *, locked: bool) -> None:
        self._drive(door, door.bus.output, door.config.reader.address, door.config.relay_output,
                    not locked)

    def _drive(self, door: _Door, command: Any, *args: Any, **kwargs: Any) -> None:
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
            deadlines = [d for door in self.doors.values() if (d := door.fsm.next_deadline()) is not None]
            delay = min([self.config.tick_s, *[max(0.0, d - now) for d in deadlines]])
            await asyncio.sleep(delay)

    def _scheduled_unlocks(self) -> set[str]:
        """Doors whose snapshot mode is unlocked_on_schedule and whose schedule is open now
        (never on a site holiday: the building keeps its doors locked then)."""
        state = self.cache.state
        if state is None:
            return set()
        local = site_local(self.clock(), state.timezone)
        if local.date() in state.holidays:
            return set()
        return {
            door.id for door in state.doors.values()
            if door.mode == "unlocked_on_schedule" and door.unlock_schedule is not None
            and state.schedules[door.unlock_schedule].is_open(local)
        }

    # --- messages from the hub ---------------------------------------------------------
    async def _incoming(self) -> None:
        site, edge = self.config.site, self.config.edge
        while True:
            topic, payload = await self.uplink.incoming.get()
            try:
                if topic == topics.perm(site, edge) and not payload:
                    continue  # a cleared retained message
                # Nothing acts on a message the hub did not sign for this edge (principle 7).
                body = await self._verified(topic, payload)
                if body is None:
                    continue
                if topic == topics.perm(site, edge):
                    await self._permissions(topic, body)
                elif topic == topics.perm_delta(site, edge):
                    await self._permission_delta(topic, body)
                elif topic == topics.cmd(site, edge):
                    self._command(topic, body)
            except Exception:
                log.exception("message on %s failed", topic)

    async def _verified(self, topic: str, payload: bytes) -> bytes | None:
        if len(payload) > 100_000:  # a snapshot: hashing megabytes off the loop
            return await asyncio.to_thread(self.downlink.open, topic, payload)
        return self.downlink.open(topic, payload)

    def _downlink_refused(self, reason: str, topic: str, detail: str) -> None:
        self._agent_event("downlink_refused", detail[:2000], reason=reason, topic=topic)

    async def _permissions(self, topic: str, payload: bytes) -> None:
        if self._holds(payload):
            return  # already applied through its delta: skip parsing every credential again
        try:
            # Validating 100,000 credentials takes a while: keep the doors responsive.
            snapshot = await asyncio.to_thread(PermissionSnapshot.model_validate_json, payload)
            if not self.downlink.for_me(topic, snapshot.site, snapshot.edge):
                return
            how = self.downlink.admit_snapshot(topic, snapshot.version, snapshot.hash,
                                               (self.cache.version, self.cache.hash))
            if how is None or how == "same":
                return
            await asyncio.to_thread(self.cache.apply, snapshot, reset=how == "reset")
            self.downlink.applied(how == "reset", snapshot.downlink_keys)
        except ValidationError as exc:
            self._agent_event("perm_rejected", f"invalid snapshot: {describe(exc)}"[:2000])
            return
        except (WireError, AccessError) as exc:
            self._agent_event("perm_rejected", str(exc)[:2000])
            return
        self._agent_event(
            "perm_applied", f"{len(snapshot.credentials)} credentials", perm_version=snapshot.version
        )
        self.uplink.publish_state()

    def _holds(self, payload: bytes) -> bool:
        """Does the payload's tail (where the hub writes version and hash) name the snapshot
        held? A payload that lies about it is one the cache would refuse anyway."""
        found = _SEAL.search(payload[-300:])
        return found is not None and (int(found[1]), found[2].decode()) == (
            self.cache.version, self.cache.hash)

    async def _permission_delta(self, topic: str, payload: bytes) -> None:
        try:
            delta = PermissionDelta.model_validate_json(payload)
            if not self.downlink.for_me(topic, delta.site, delta.edge):
                return
            how = self.downlink.admit_snapshot(topic, delta.version, delta.hash,
                                               (self.cache.version, self.cache.hash))
            if how != "apply":
                return  # refused, held already, or a reset: that takes the full snapshot
            await asyncio.to_thread(self.cache.apply_delta, delta)
        except ValidationError as exc:
            self._agent_event("perm_rejected", f"invalid delta: {describe(exc)}"[:2000])
            return
        except SnapshotRejectedError:
            return  # not our base: the full snapshot that follows brings us up to date
        except (WireError, AccessError) as exc:
            self._agent_event("perm_rejected", str(exc)[:2000])
            return
        self._agent_event(
            "perm_applied",
            f"delta: {len(delta.upsert)} changed, {len(delta.remove)} removed credentials",
            perm_version=delta.version,
        )
        self.uplink.publish_state()

    def _command(self, topic: str, payload: bytes) -> None:
        site, edge = self.config.site, self.config.edge
        try:
            command = EdgeCommand.model_validate_json(payload)
        except ValidationError as exc:
            self._agent_event("command", f"command refused: {describe(exc)}"[:2000])
            return
        if not self.downlink.for_me(topic, command.site, command.edge):
            return
        refused = self.downlink.admit_command(topic, command.id, command.ts, command.expires,
                                              datetime.now(timezone.utc))
        if refused is not None and refused.reason != "stale":
            return  # seen before (answered then) or malformed: no second answer
        if refused is not None:
            # A remote unlock that arrives late is no longer what the guard meant.
            result, reason = "rejected", f"stale command: {refused.detail}"
        else:
            result, reason = self.execute(command)
        ack = CommandAck(id=command.id, ts=datetime.now(timezone.utc), result=result, reason=reason)
        self.outbox.add_message(topics.cmd_ack(site, edge), ack.model_dump_json().encode())
        self._agent_event("command", f"{command.command} {command.door or ''}: {result} {reason}".strip())

    def execute(self, command: EdgeCommand) -> tuple[str, str]:
        now = time.monotonic()
        if command.command in ("unlock", "lock"):
            door = self.doors.get(command.door or "")
            if door is None:
                return "rejected", f"unknown door {command.door}"
            if command.command == "unlock":
                duration = command.duration_s or door.config.unlock_s
                self._apply(door, door.fsm.remote_unlock(now, duration))
            else:
                self._apply(door, door.fsm.relock(now))
            return "ok", command.reason or ""
        if command.command in ("lockdown", "release"):
            for door in self.doors.values():
                step = door.fsm.lockdown if command.command == "lockdown" else door.fsm.release
                self._apply(door, step(now))
            if command.command == "release" and self.devices is not None:
                self.devices.hub_recall(False, command.reason or "")  # ends a hub recall too
            return "ok", command.reason or ""
        if command.command == "elevator_recall":
            return self._hub_recall(command)
        if command.command == "resync":
            self.uplink.publish_state()
            return "ok", "state republished"
        if command.command == "reset_permissions":
            assert command.perm_version is not None and command.perm_hash is not None
            self.trust.allow_reset(command.perm_version, command.perm_hash)
            return "ok", f"the hub's snapshot v{command.perm_version} will be taken whatever is held"
        return "rejected", f"{command.command} is not supported by this edge"

    def _agent_event(self, event: str, detail: str, *, device: str | None = None,
                     perm_version: int | None = None, reason: str | None = None,
                     topic: str | None = None) -> None:
        self.outbox.add_event(
            device or self.config.edge,
            AgentData(event=event, detail=detail, perm_version=perm_version,  # type: ignore[arg-type]
                      reason=reason, topic=topic),
        )
        if hasattr(self, "uplink"):
            self.uplink.wake()

    # --- the disk under the data folder --------------------------------------------------
    async def _watch_disk(self) -> None:
        lost_reported, held_reported = 0, False
        while True:
            change = self.disk.check()
            if change is not None:
                kind, free = change
                self._agent_event(kind, f"{free // 1_000_000} MB free under "
                                  f"{self.config.data_dir} (alarm below {self.config.disk_low_mb} MB)")
            if self.outbox.held:
                try:
                    if self.outbox.retry_held():
                        self.uplink.wake()
                except OutboxError:
                    log.exception("retrying the events held in memory failed")
            if self.outbox.held and not held_reported:
                self._agent_event("disk_low", f"the outbox cannot write: {self.outbox.held} "
                                  f"events held in memory (up to {self.outbox.held_max})")
            held_reported = bool(self.outbox.held)
            if self.outbox.lost > lost_reported:
                self._agent_event("disk_low", f"{self.outbox.lost - lost_reported} events lost: "
                                  "the outbox could not write and its memory bound was reached")
                lost_reported = self.outbox.lost
            await asyncio.sleep(self.config.disk_check_s)

    # --- building devices ----------------------------------------------------------------
    def _device_event(self, device: str, data: Any) -> None:
        self.outbox.add_event(device, data)
        self.uplink.wake()

    def _camera_qr(self, camera: str, door_id: str, text: str) -> None:
        """A QR code in view of a camera that reads for `door_id`: the reader's decision."""
        self.qr_read(self.doors[door_id], text)

    def _site_zone(self) -> ZoneInfo:
        state = self.cache.state
        return state.timezone if state is not None else ZoneInfo("UTC")

    def _hub_recall(self, command: EdgeCommand) -> tuple[str, str]:
        """Recall every elevator until the hub's `release` (a fire recall ends only at the panel)."""
        lifts = self.devices.hub_recall(True, command.reason or "") if self.devices else []
        if not lifts:
            return "rejected", "this edge has no elevators"
        return "ok", f"recall sent to [{', '.join(lifts)}]"

    def _fire_doors(self, active: bool) -> list[str]:
        """Release (or restore) every fail-safe egress door at once; returns their ids."""
        now = time.monotonic()
        released = []
        for door in self.doors.values():
            if door.config.fail_safe_egress:
                self._apply(door, door.fsm.fire_release(now) if active else door.fsm.fire_reset(now))
                released.append(door.config.id)
        return released

    def _car_floors(self, door: _Door, card: str) -> None:
        """A card granted in an elevator car enables the floors its groups allow there."""
        state = self.cache.state
        cred = state.credentials.get(card) if state is not None else None
        if state is None or cred is None or self.devices is None:
            return
        floors = floors_for(cred.groups, state.door_groups.get(door.config.id, frozenset()),
                            {g: list(rule.floors) for g, rule in state.groups.items()})
        assert door.config.elevator is not None
        self.devices.request_floors(door.config.elevator, sorted(floors), door.config.floor_enable_s)
