"""Every unit alarm of this edge: fed by the device supervisor's polls, ordered by the hub's
signed `arm` commands and by each unit's schedule, ticking its delays; the arm state of each
unit is kept on disk so that a restart (or the hub's absence) leaves the units armed."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self, cast

from edge.homesec.unit import ArmRefused, UnitAlarm
from edge.sensors.models import DeviceModel
from edge.tasks import stop
from wire.config import DeviceConfig
from wire.homesec import ArmedBy, ArmMode, HomeSecurityData, PanelSettings, arm_refusal

log = logging.getLogger(__name__)

Emit = Callable[[str, HomeSecurityData], None]  # (device id, data)
Snapshot = Callable[[str], str | None]  # camera id -> the id of a picture spooled for the hub
TICK_S = 0.1


class HomeSecurity:
    """`async with HomeSecurity(emit, path, clock, local_now)`: ticks until exit."""

    def __init__(self, emit: Emit, path: Path | None, clock: Callable[[], float],
                 local_now: Callable[[], datetime], snapshot: Snapshot | None = None) -> None:
        self._emit = emit
        self._snapshot = snapshot  # the corridor camera's picture for an alarm
        self._path = path
        self._clock = clock
        self._local_now = local_now  # the site's local time, for the schedules
        self.units: dict[str, UnitAlarm] = {}
        self._fired: dict[str, str] = {}  # device -> the schedule minute last carried out
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="homesec-tick")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await stop(self._task)

    def reconcile(self, devices: Iterable[tuple[DeviceConfig, DeviceModel]]) -> None:
        """Run a unit alarm for each alarm panel in `devices`; a panel kept keeps its state."""
        held = self._load()
        wanted: dict[str, UnitAlarm] = {}
        for cfg, model in devices:
            zones = model.security_zones
            if zones is None:
                continue
            settings = cfg.security or PanelSettings(unit=cfg.name or cfg.id)
            unit = self.units.get(cfg.id)
            if unit is None or unit.settings != settings:
                fresh = UnitAlarm(zones.zones, settings, self._emitter(cfg.id), self._clock)
                if unit is not None:
                    fresh.restore(unit.mode, unit.bypassed)
                elif cfg.id in held:
                    kept = held[cfg.id]
                    fresh.restore(cast(ArmMode, kept["mode"]), cast(list[int], kept["bypassed"]))
                unit = fresh
            wanted[cfg.id] = unit
        self.units = wanted

    def _emitter(self, device: str) -> Callable[[HomeSecurityData], None]:
        def emit(data: HomeSecurityData) -> None:
            if data.event == "alarm":
                data = self._with_picture(device, data)
            self._emit(device, data)
            if data.event in ("exit_delay", "armed", "disarmed"):
                self._save()
        return emit

    def _with_picture(self, device: str, data: HomeSecurityData) -> HomeSecurityData:
        """An alarm carries its corridor camera's picture when the unit has one."""
        unit = self.units.get(device)
        camera = unit.settings.camera if unit is not None else None
        if camera is None or self._snapshot is None:
            return data
        try:
            snapshot_id = self._snapshot(camera)
        except Exception:  # the alarm goes without its picture, never not at all
            log.exception("unit %s: no snapshot from camera %s", data.unit, camera)
            return data
        return data if snapshot_id is None else data.model_copy(update={"snapshot_id": snapshot_id})

    # --- inputs -------------------------------------------------------------------------
    def zones_polled(self, device: str, states: Mapping[int, str]) -> None:
        unit = self.units.get(device)
        if unit is not None:
            unit.zones_polled(states)

    def panel_lost(self, device: str) -> None:
        unit = self.units.get(device)
        if unit is not None:
            unit.panel_lost()

    def arm(self, device: str, mode: ArmMode, by: ArmedBy,
            bypass: Iterable[int] = ()) -> tuple[bool, str]:
        """(done, what or why not) — the command's ack."""
        unit = self.units.get(device)
        if unit is None:
            return False, arm_refusal("no_panel", device=device)
        try:
            return True, unit.arm(mode, by, bypass)
        except ArmRefused as exc:
            return False, str(exc)

    # --- time ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.tick()
            except Exception:  # one bad tick must not end the unit alarms
                log.exception("home security tick failed")

    def tick(self) -> None:
        local = self._local_now()
        minute = local.strftime("%Y-%m-%d %H:%M")
        for device, unit in self.units.items():
            unit.tick()
            for entry in unit.settings.schedule:
                if (local.isoweekday() in entry.days and local.strftime("%H:%M") == entry.at
                        and self._fired.get(device) != minute):
                    self._fired[device] = minute
                    _, what = self.arm(device, entry.mode, "schedule")
                    log.info("unit %s: scheduled %s: %s", unit.settings.unit, entry.mode, what)

    # --- keeping the arm state ----------------------------------------------------------
    def _load(self) -> dict[str, dict[str, object]]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.error("%s: cannot read the units' arm state (%s): every unit starts disarmed",
                      self._path, exc)
            return {}
        return {k: v for k, v in raw.items()
                if isinstance(v, dict) and v.get("mode") in ("away", "stay", "disarmed")}

    def _save(self) -> None:
        if self._path is None:
            return
        state = {d: {"mode": u.mode, "bypassed": sorted(u.bypassed)} for d, u in self.units.items()}
        tmp = self._path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(state), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:  # the unit stays armed in memory; a restart would forget it
            log.error("%s: cannot keep the units' arm state: %s", self._path, exc)


__all__ = ["HomeSecurity"]
