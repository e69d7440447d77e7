"""The edge's vehicle lanes assembled: camera pushes in (server), the decision (lane), and
every decision out as a `vehicle` event with its picture spooled for the hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from edge.cameras.spool import SnapshotSpool, SpoolError
from edge.drivers.lpr import PlateReading
from edge.drivers.modbus import ModbusError
from edge.vehicles.barrier import BarrierOutput, SharedLines
from edge.vehicles.cache import VehicleCache
from edge.vehicles.inside import InsideLog
from edge.vehicles.lane import LaneDecider, LaneDecision
from wire.events import AgentData, new_event_id
from wire.vehicles import (
    CameraRelayBarrier,
    LaneConfig,
    LaneData,
    ModbusBarrier,
    VehicleData,
    VehiclePermissions,
    normalise_plate,
)

log = logging.getLogger(__name__)

Emit = Callable[[str, VehicleData | AgentData | LaneData], None]  # (device, data): outbox
REFUSAL_REPORT_S = 60.0  # refused pushes are reported at most once a minute per lane
# a guard's open of a camera-relay lane is the answer to that camera's next heartbeat or push
# this soon
GUARD_OPEN_S = 60.0


class VehicleLanes:
    """Decides the lanes' readings and reports them; `on_reading` and `on_refused` are what
    the LaneServer calls."""

    def __init__(self, emit: Emit, *, spool: SnapshotSpool | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 path: Path | None = None, inside: InsideLog | None = None,
                 lines: SharedLines | None = None) -> None:
        """`path`: the last permissions applied; `inside`: who is inside (both kept on the
        edge's disk, so a restart without the hub decides as before it); `lines`: the edge's
        Modbus lines, which a Modbus barrier's unit joins."""
        self._lines = lines
        self.decider = LaneDecider(inside=inside)
        self._path = path  # the last permissions applied, so a restart offline still decides
        self._emit = emit
        self._spool = spool
        self._clock = clock
        self._refused: dict[str, tuple[float, int]] = {}  # lane -> (last report, unreported)
        self.decisions: list[LaneDecision] = []  # the last few, for the guard's status
        self.keep = 50
        self.barriers: dict[str, BarrierOutput] = {}  # lanes whose barrier the edge drives
        self.lanes: dict[str, LaneConfig] = {}
        # lane -> (until when, monotonic; the plate the guard named) for a camera's relay
        self._guard_opens: dict[str, tuple[float, str | None]] = {}
        self._wakers: dict[str, asyncio.Event] = {}  # lanes whose heartbeat is held
        self._opening: set[asyncio.Task[bool]] = set()

    async def set_lanes(self, lanes: list[LaneConfig]) -> None:
        """Start the Modbus barrier outputs the lanes name, stop those no longer named or
        changed (a camera-relay barrier needs nothing running)."""
        self.lanes = {lane.id: lane for lane in lanes}
        wanted = {lane.id: lane.barrier for lane in lanes
                  if isinstance(lane.barrier, ModbusBarrier)}
        for lane_id, output in list(self.barriers.items()):
            if wanted.get(lane_id) != output.config:
                del self.barriers[lane_id]
                await output.__aexit__(None, None, None)
        for lane_id, config in wanted.items():
            if lane_id not in self.barriers:
                output = BarrierOutput(lane_id, config, self._lane_event, lines=self._lines)
                try:
                    await output.__aenter__()
                except ModbusError as exc:  # the installation's checks refuse this first
                    log.error("lane %s: barrier not driven: %s", lane_id, exc)
                    self._lane_event(LaneData(lane=lane_id, event="barrier_failed",
                                              detail=f"barrier not driven: {exc}"[:500]))
                    continue
                self.barriers[lane_id] = output

    async def close(self) -> None:
        for wake in self._wakers.values():  # held heartbeats answered (no) at once
            wake.set()
        for task in list(self._opening):
            await task
        await self.set_lanes([])

    def guard_open(self, lane_id: str, plate: str | None, reason: str,
                   by: str | None) -> tuple[bool, str]:
        """A guard raises a lane's barrier from the hub: the edge's relay now, or (a camera's
        relay) the answer to that camera's next heartbeat or push, which records the car then.
        With `plate`, that car's passage is recorded when the barrier rises (a temporary
        vehicle in, or its stay ended at an exit)."""
        lane = self.lanes.get(lane_id)
        if lane is None:
            return False, f"unknown lane {lane_id}"
        shown = normalise_plate(plate)[:16] if plate else None
        output = self.barriers.get(lane_id)
        if output is not None:
            task = asyncio.get_running_loop().create_task(output.open(),
                                                          name=f"guard-open-{lane_id}")
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)
            how = "barrier relay pulsed"
            if shown:
                self._guard_passage(lane, shown)
        else:
            self._guard_opens[lane_id] = (time.monotonic() + GUARD_OPEN_S, shown)
            wake = self._wakers.pop(lane_id, None)
            if wake is not None:  # a heartbeat held open: answered now
                wake.set()
            how = (f"the camera's next heartbeat or push within {GUARD_OPEN_S:.0f} s is "
                   "answered open")
        self._emit(lane.id, LaneData(lane=lane.id, event="guard_open", plate=shown,
                                     reason=reason[:500], by=by))
        return True, how

    def _guard_passage(self, lane: LaneConfig, plate: str) -> None:
        """The car the guard let through, recorded as it passes."""
        if lane.direction == "entry":
            self.decider.inside.entered(plate, self._clock())
        else:
            self.decider.inside.left(plate)
        self._emit(lane.id, VehicleData(
            lane=lane.id, direction=lane.direction, plate=plate, confidence=1.0,
            result="open", reason="guard_open", decision_us=0))

    def _take_guard_open(self, lane_id: str) -> tuple[bool, str | None]:
        """(whether a guard's open waits for this lane's camera, the plate it named)."""
        until, plate = self._guard_opens.pop(lane_id, (0.0, None))
        return time.monotonic() < until, plate

    async def on_heartbeat(self, lane: LaneConfig) -> bool:
        """The camera's heartbeat: True when a guard opened the lane (the answer raises the
        barrier). With `comet_hold_s`, wait that long for an open before answering no."""
        hold = lane.barrier.comet_hold_s if isinstance(lane.barrier, CameraRelayBarrier) else 0
        if hold > 0 and lane.id not in self._guard_opens:
            wake = self._wakers.setdefault(lane.id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(hold):
                    await wake.wait()
        opened, plate = self._take_guard_open(lane.id)
        if opened and plate:
            self._guard_passage(lane, plate)
        return opened

    def _lane_event(self, data: LaneData) -> None:
        self._emit(data.lane, data)

    def apply(self, permissions: VehiclePermissions | None) -> None:
        """A new snapshot's vehicle permissions replace the cache (who is inside is kept;
        a pass's uses are the larger of the hub's count and this edge's)."""
        self.decider.replace(VehicleCache(permissions))
        if self._path is not None:
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text((permissions or VehiclePermissions()).model_dump_json())
            os.replace(tmp, self._path)

    def restore(self) -> None:
        """The permissions stored at the last apply, if any (the snapshot signed them)."""
        if self._path is None or not self._path.exists():
            return
        try:
            perms = VehiclePermissions.model_validate_json(self._path.read_bytes())
        except (OSError, ValidationError) as exc:
            log.error("vehicle permissions at %s unreadable, lanes start empty: %s",
                      self._path, exc)
            return
        self.decider.replace(VehicleCache(perms))

    async def on_reading(self, lane: LaneConfig, reading: PlateReading) -> bool:
        now = self._clock()
        if reading.offline:
            # stored by the camera while it could not reach us: the car is long gone; record
            # what the camera said (the barrier was the camera's own offline call)
            decision = LaneDecision(result="held", reason="temporary",
                                    plate=reading.plate, decision_us=0)
        else:
            decision = self.decider.decide(lane, reading.plate, reading.confidence, now)
            if not decision.opens and self._take_guard_open(lane.id)[0]:
                # the guard opened for the car at the barrier: it passes as the guard's
                decision = replace(decision, result="open", reason="guard_open")
                if lane.direction == "entry":
                    self.decider.inside.entered(decision.plate, now)
        self.decisions = [*self.decisions[-self.keep + 1:], decision]
        snapshot_id = self._spool_picture(lane, reading, now)
        self._emit(lane.id, VehicleData(
            lane=lane.id, direction=lane.direction, plate=reading.plate[:16],
            matched_plate=decision.matched_plate, colour=reading.colour,
            confidence=reading.confidence, result=decision.result, reason=decision.reason,
            flag=decision.flag, warning="anti_passback" if decision.warning else None,
            household_id=decision.household_id, pass_id=decision.pass_id,
            pass_uses=decision.pass_uses, blocked_reason=decision.blocked_reason,
            snapshot_id=snapshot_id, decision_us=decision.decision_us,
            offline=reading.offline))
        output = self.barriers.get(lane.id)
        if decision.opens and output is not None:
            await output.open()  # the edge's relay; the answer still tells the camera
        return decision.opens

    def on_refused(self, lane: LaneConfig | None, peer: str, why: str) -> None:
        key = lane.id if lane else "?"
        last, count = self._refused.get(key, (float("-inf"), 0))
        now = time.monotonic()
        count += 1
        if now - last < REFUSAL_REPORT_S:
            self._refused[key] = (last, count)
            return
        self._refused[key] = (now, 0)
        log.warning("lane %s: push from %s refused: %s", key, peer, why)
        self._emit(key if lane else "lpr", AgentData(
            event="camera_push_refused", reason="credentials" if lane else "unknown_lane",
            detail=f"lane {key}: push from {peer} refused ({why}); {count} since last report"))

    def _spool_picture(self, lane: LaneConfig, reading: PlateReading,
                       now: datetime) -> str | None:
        if self._spool is None or not reading.picture:
            return None
        snapshot_id = new_event_id()
        try:
            self._spool.add(snapshot_id, lane.id, "snapshot", "image/jpeg", now.isoformat(),
                            reading.picture)
        except SpoolError:
            log.exception("lane %s: picture not spooled", lane.id)
            return None
        return snapshot_id
