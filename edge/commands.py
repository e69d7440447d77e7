"""Commands from the hub: verified (signed for this edge, not seen before, not expired),
carried out, and acknowledged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from edge.devices import DeviceSupervisor
from edge.doors import DoorController
from edge.homesec import HomeSecurity
from edge.report import Reporter
from edge.trust import DownlinkGate, TrustStore
from edge.vehicles import VehicleLanes
from wire import CommandAck, EdgeCommand
from wire._base import describe
from wire.homesec import arm_refusal

Result = Literal["ok", "failed", "rejected"]  # as CommandAck carries it


class CommandHandler:
    def __init__(self, doors: DoorController, elevators: DeviceSupervisor | None, *,
                 homesec: HomeSecurity | None = None, lanes: VehicleLanes | None = None,
                 site: str, edge: str, report: Reporter, resync: Callable[[], None],
                 clock: Callable[[], datetime], gate: DownlinkGate, trust: TrustStore) -> None:
        self._doors = doors
        self._elevators = elevators
        self._homesec = homesec
        self._lanes = lanes
        self._report = report
        self._resync = resync
        self._clock = clock
        self._gate = gate
        self._trust = trust

    def handle(self, topic: str, payload: bytes) -> None:
        """One message on `cmd`. Carried out only when the hub signed it for this edge, this
        edge has not seen its id and it has not expired; a refusal changes nothing and is
        reported (edge.trust). Answered with an ack, except a refused forgery or replay."""
        body = self._gate.open(topic, payload)
        if body is None:
            return
        try:
            command = EdgeCommand.model_validate_json(body)
        except ValidationError as exc:
            self._report.agent("command", f"command refused: {describe(exc)}"[:2000])
            return
        if not self._gate.for_me(topic, command.site, command.edge):
            return
        refused = self._gate.admit_command(topic, command.id, command.ts, command.expires,
                                           self._clock())
        if refused is not None and refused.reason != "stale":
            return  # seen before (answered then) or malformed: no second answer
        result: Result
        if refused is not None:
            # A remote unlock that arrives late is no longer what the guard meant.
            result, reason = "rejected", f"stale command: {refused.detail}"
        else:
            result, reason = self.execute(command)
        ack = CommandAck(id=command.id, ts=self._clock(), result=result, reason=reason)
        self._report.command_ack(ack)
        self._report.agent("command",
                           f"{command.command} {command.door or ''}: {result} {reason}".strip())

    def execute(self, command: EdgeCommand) -> tuple[Result, str]:
        """Carry out `command` now; (result, reason) for its ack."""
        name = command.command
        if name in ("unlock", "lock"):
            door = command.door or ""
            done = (self._doors.remote_unlock(door, command.duration_s) if name == "unlock"
                    else self._doors.relock(door))
            if not done:
                return "rejected", f"unknown door {command.door}"
            return "ok", command.reason or ""
        if name in ("lockdown", "release"):
            self._doors.lockdown(name == "lockdown")
            if name == "release" and self._elevators is not None:
                self._elevators.hub_recall(False, command.reason or "")  # ends a hub recall too
            return "ok", command.reason or ""
        if name == "elevator_recall":
            # every elevator until the hub's `release` (a fire recall ends only at the panel)
            lifts = self._elevators.hub_recall(True, command.reason or "") if self._elevators else []
            if not lifts:
                return "rejected", "this edge has no elevators"
            return "ok", f"recall sent to [{', '.join(lifts)}]"
        if name in ("reader_install", "rotate_key"):
            door = command.door or ""
            if name == "reader_install":
                assert command.duration_s is not None
                refused = self._doors.reader_install(door, command.duration_s)
            else:
                refused = self._doors.rotate_key(door)
            if refused is not None:
                return "rejected", refused
            return "ok", ("install mode for the reader; reader_keyed follows" if
                          name == "reader_install" else "KEYSET sent; reader_keyed follows")
        if name == "arm":
            assert command.device is not None and command.arm_mode is not None
            if self._homesec is None:
                return "rejected", arm_refusal("no_panel", device=command.device)
            done, what = self._homesec.arm(command.device, command.arm_mode,
                                           "resident" if (command.issued_by or "").startswith(
                                               "resident") else "hub",
                                           command.bypass or ())
            return ("ok" if done else "rejected"), what
        if name == "lane_open":
            assert command.lane is not None
            if self._lanes is None:
                return "rejected", "this edge has no vehicle lanes"
            done, what = self._lanes.guard_open(command.lane, command.plate,
                                                command.reason or "", command.issued_by)
            return ("ok" if done else "rejected"), what
        if name == "resync":
            self._resync()
            return "ok", "state republished"
        if name == "reset_permissions":
            assert command.perm_version is not None and command.perm_hash is not None
            self._trust.allow_reset(command.perm_version, command.perm_hash)
            return "ok", (f"the hub's snapshot v{command.perm_version} will be taken whatever "
                          "version is held")
        if name == "reset_config":
            assert command.config_version is not None and command.config_hash is not None
            self._trust.allow_reset(command.config_version, command.config_hash, of="config")
            return "ok", (f"the hub's configuration v{command.config_version} will be taken "
                          "whatever version runs")
        return "rejected", f"{name} is not supported by this edge"
