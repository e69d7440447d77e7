"""The edge's vehicle lanes assembled: camera pushes in (server), the decision (lane), and
every decision out as a `vehicle` event with its picture spooled for the hub."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from edge.cameras.spool import SnapshotSpool, SpoolError
from edge.drivers.lpr import PlateReading
from edge.vehicles.cache import VehicleCache
from edge.vehicles.lane import LaneDecider, LaneDecision
from wire.events import AgentData, new_event_id
from wire.vehicles import LaneConfig, VehicleData, VehiclePermissions

log = logging.getLogger(__name__)

Emit = Callable[[str, VehicleData | AgentData], None]  # (device, data): into the outbox
REFUSAL_REPORT_S = 60.0  # refused pushes are reported at most once a minute per lane


class VehicleLanes:
    """Decides the lanes' readings and reports them; `on_reading` and `on_refused` are what
    the LaneServer calls."""

    def __init__(self, emit: Emit, *, spool: SnapshotSpool | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 path: Path | None = None) -> None:
        self.decider = LaneDecider()
        self._path = path  # the last permissions applied, so a restart offline still decides
        self._emit = emit
        self._spool = spool
        self._clock = clock
        self._refused: dict[str, tuple[float, int]] = {}  # lane -> (last report, unreported)
        self.decisions: list[LaneDecision] = []  # the last few, for the guard's status
        self.keep = 50

    def apply(self, permissions: VehiclePermissions | None) -> None:
        """A new snapshot's vehicle permissions replace the cache (who is inside is kept)."""
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
